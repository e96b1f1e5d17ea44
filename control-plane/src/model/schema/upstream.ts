// An upstream: the endpoints a route sends to, and how to connect to them.
import { z } from 'zod';
import { durationMs, endpoint, strict } from './common.ts';
import { circuitBreaker, healthCheck, outlierDetection } from './resilience.ts';
import { tls } from './tls.ts';
import { upstreamProtocol } from './upstream-protocol.ts';

// Envoy requires connect_timeout > 0 (a "0s" cluster is NACKed).
const connectTimeout = durationMs.refine((ms) => ms > 0, { error: (iss) => `expected a connect timeout greater than 0 (such as "1s"), found ${String(iss.input)}ms` });
const endpoints = z.array(endpoint).min(1, { error: 'expected at least one endpoint "host:port"' });

const optionalFields = {
  tls: tls.optional(),
  circuitBreaker: circuitBreaker.optional(),
  outlierDetection: outlierDetection.optional(),
  healthCheck: healthCheck.optional(),
};

export const upstream = strict({ endpoints, ...optionalFields, connectTimeout: connectTimeout.default(5000), protocol: upstreamProtocol.default('http1') });

/** Per-environment changes to an upstream: each field given replaces the upstream's; no defaults. */
export const upstreamOverride = strict({ endpoints: endpoints.optional(), ...optionalFields, connectTimeout: connectTimeout.optional(), protocol: upstreamProtocol.optional() });
