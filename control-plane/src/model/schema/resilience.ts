// How an upstream protects itself and the application: limits, ejection of failing endpoints,
// active health checks.
import { z } from 'zod';
import { durationMs, strict } from './common.ts';

const count = z.int().min(1).max(1_000_000_000);

/** Limits on what Envoy sends to the upstream at once; past them, requests fail fast with 503. */
export const circuitBreaker = strict({
  maxConnections: count.optional(),
  maxPendingRequests: count.optional(),
  maxRequests: count.optional(),
  maxRetries: count.optional(),
});

/** Passive: endpoints that keep failing are ejected for a while. */
export const outlierDetection = strict({
  consecutive5xx: count.default(5),
  interval: durationMs.default(10_000),
  baseEjectionTime: durationMs.default(30_000),
  maxEjectionPercent: z.int().min(1).max(100).default(100),
});

/** Active: Envoy probes each endpoint (HTTP GET of `path`, or a TCP connect without one). */
export const healthCheck = strict({
  path: z.string().startsWith('/', { error: 'expected a path starting with "/"' }).optional(),
  interval: durationMs.default(5000),
  timeout: durationMs.default(1000),
  unhealthyThreshold: count.default(2),
  healthyThreshold: count.default(1),
});
