// An upstream: the endpoints a route sends to, and how to connect to them.
import { durationMs, endpoint, strict } from './common.ts';
import { circuitBreaker, healthCheck, outlierDetection } from './resilience.ts';
import { tls } from './tls.ts';
import { z } from 'zod';

export const upstream = strict({
  endpoints: z.array(endpoint).min(1, { error: 'expected at least one endpoint "host:port"' }),
  tls: tls.optional(),
  circuitBreaker: circuitBreaker.optional(),
  outlierDetection: outlierDetection.optional(),
  healthCheck: healthCheck.optional(),
  // Envoy requires connect_timeout > 0 (a "0s" cluster is NACKed).
  connectTimeout: durationMs.refine((ms) => ms > 0, { error: (iss) => `expected a connect timeout greater than 0 (such as "1s"), found ${String(iss.input)}ms` }).default(5000),
});
