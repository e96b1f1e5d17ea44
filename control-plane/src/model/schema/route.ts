// A route: what it matches and where it sends, with timeout and retries.
import { z } from 'zod';
import { dnsLabel, durationMs, strict } from './common.ts';
import { transcode } from './transcode.ts';
import { GRPC_RETRY_CONDITIONS } from './upstream-protocol.ts';
import { awsSigV4, oauth2 } from './credentials.ts';
import { secretReference } from './secret-ref.ts';
import { rateLimit } from './rate-limit.ts';

export const RETRY_CONDITIONS = [
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited',
  'retriable-4xx', 'refused-stream', 'retriable-status-codes', 'http3-post-connect-failure',
] as const;

const ALL_RETRY_CONDITIONS = [...RETRY_CONDITIONS, ...GRPC_RETRY_CONDITIONS] as const;
const retries = strict({
  attempts: z.int().min(1).max(10),
  on: z.array(z.enum(ALL_RETRY_CONDITIONS, { error: `expected one of ${RETRY_CONDITIONS.join(', ')}, or for gRPC ${GRPC_RETRY_CONDITIONS.join(', ')}` })).min(1).default(['5xx', 'reset', 'connect-failure']),
  perTryTimeout: durationMs.optional(),
  backoff: strict({ base: durationMs, max: durationMs.optional() }).optional(),
  statusCodes: z.array(z.int().min(100).max(599)).min(1).optional(),
});

const headerValue = z.union([
  z.string(),
  strict({ exact: z.string() }),
  strict({ prefix: z.string().min(1) }),
  strict({ present: z.boolean() }),
], { error: 'expected a string (exact match) or one of {exact: ...}, {prefix: ...}, {present: true|false}' });

const HEADER_NAME = /^:?[a-z0-9!#$%&'*+.^_`|~-]+$/;
const match = strict({
  prefix: z.string().startsWith('/', { error: 'expected a path prefix starting with "/"' }).optional(),
  path: z.string().startsWith('/', { error: 'expected a path starting with "/"' }).optional(),
  headers: z.record(
    z.string().regex(HEADER_NAME, { error: 'expected a lowercase HTTP header name' }),
    headerValue,
  ).optional(),
});

const splitEntry = strict({
  upstream: dnsLabel('upstream name'),
  weight: z.int().min(0).max(1_000_000),
});

/** A header whose value comes from a Secret, added by Envoy to every request of the route. */
const inject = strict({
  header: z.string().regex(/^[a-z0-9!#$%&'*+.^_`|~-]+$/, { error: 'expected a lowercase HTTP header name such as authorization' }),
  prefix: z.string().optional(),
  secret: secretReference,
});

export const route = strict({
  match,
  upstream: dnsLabel('upstream name').optional(),
  split: z.array(splitEntry).min(1).optional(),
  timeout: durationMs.optional(),
  retries: retries.optional(),
  inject: inject.optional(),
  transcode: transcode.optional(),
  oauth2: oauth2.optional(),
  awsSigV4: awsSigV4.optional(),
  /** This route's own token bucket (instead of the listener's). */
  rateLimit: rateLimit.optional(),
  /** Serve cacheable responses (per cache-control) from Envoy's in-memory cache. */
  cache: z.boolean({ error: 'expected true or false' }).optional(),
  /** Names the route in access logs, traces and stats; default "route-<index>". */
  name: dnsLabel('route name').optional(),
});
