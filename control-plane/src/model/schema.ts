// The ambassador config a user writes under the `ambassador.yaml` key of a labelled ConfigMap.
// Every object is strict: an unknown field is an error, never silently ignored.
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDurationMs } from './duration.ts';
import { closest } from './errors.ts';

/** A strict object whose unknown-field error lists the allowed fields and the likely intended one. */
function strict<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') {
        const hints = iss.keys.map((k) => {
          const near = closest(k, allowed);
          return near ? `"${k}" (did you mean "${near}"?)` : `"${k}"`;
        });
        return `unknown field ${hints.join(', ')}; allowed fields: ${allowed.join(', ')}`;
      }
      return undefined;
    },
  });
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const dnsLabel = (what: string) =>
  z.string().regex(DNS_LABEL, { error: `expected ${/^[aeiou]/.test(what) ? 'an' : 'a'} ${what}: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters` });

const DURATION_EXAMPLES = 'a duration such as "250ms", "5s", "1.5s" or "2m"';
// A bare number (timeout: 5) is a type error; say "duration", not "string", and so hint at the unit.
export const durationMs = z.string({ error: (iss) => (iss.input === undefined ? `missing required field (expected ${DURATION_EXAMPLES})` : `expected ${DURATION_EXAMPLES}`) }).transform((s, ctx) => {
  const ms = parseDurationMs(s);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected ${DURATION_EXAMPLES}, found ${JSON.stringify(s)}`, input: s });
    return z.NEVER;
  }
  return ms;
});

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export function isIpAddress(host: string): boolean {
  return isIP(host) !== 0;
}

/** "host:port" with a DNS name, an IPv4 address or a bracketed IPv6 address. */
export const endpoint = z.string().transform((s, ctx) => {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(s);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || host === undefined || !(port >= 1 && port <= 65535) || (m[1] !== undefined && isIP(host) !== 6) || (m[2] !== undefined && !IPV4.test(host) && !HOSTNAME.test(host))) {
    ctx.addIssue({ code: 'custom', message: `expected an endpoint "host:port" (a DNS name, an IPv4 address or [IPv6], and a port 1-65535), found ${JSON.stringify(s)}`, input: s });
    return z.NEVER;
  }
  return { host, port };
});

const port = z.int({ error: 'expected a port number 1-65535' }).min(1, { error: 'expected a port number 1-65535' }).max(65535, { error: 'expected a port number 1-65535' });

export const RETRY_CONDITIONS = [
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited',
  'retriable-4xx', 'refused-stream', 'retriable-status-codes', 'http3-post-connect-failure',
] as const;

const retries = strict({
  attempts: z.int().min(1).max(10),
  on: z.array(z.enum(RETRY_CONDITIONS, { error: `expected one of ${RETRY_CONDITIONS.join(', ')}` })).min(1).default(['5xx', 'reset', 'connect-failure']),
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

const route = strict({
  match,
  upstream: dnsLabel('upstream name').optional(),
  split: z.array(splitEntry).min(1).optional(),
  timeout: durationMs.optional(),
  retries: retries.optional(),
});

const httpListener = strict({
  name: dnsLabel('listener name'),
  port,
  address: z.string().refine((a) => isIpAddress(a), { error: 'expected an IP address such as 127.0.0.1, 0.0.0.0 or ::1' }).default('127.0.0.1'),
  protocol: z.literal('http', { error: 'expected "http"' }).default('http'),
  routes: z.array(route).min(1, { error: 'expected at least one route' }),
});

const upstream = strict({
  endpoints: z.array(endpoint).min(1, { error: 'expected at least one endpoint "host:port"' }),
  // Envoy requires connect_timeout > 0 (a "0s" cluster is NACKed).
  connectTimeout: durationMs.refine((ms) => ms > 0, { error: (iss) => `expected a connect timeout greater than 0 (such as "1s"), found ${String(iss.input)}ms` }).default(5000),
});

export const ambassadorConfigSchema = strict({
  ambassador: dnsLabel('ambassador name (the node.cluster of its Envoys)'),
  listeners: z.array(httpListener).min(1, { error: 'expected at least one listener' }),
  upstreams: z.record(dnsLabel('upstream name'), upstream).default({}),
});

export type AmbassadorConfig = z.infer<typeof ambassadorConfigSchema>;
export type ListenerConfig = AmbassadorConfig['listeners'][number];
export type RouteConfig = ListenerConfig['routes'][number];
export type UpstreamConfig = AmbassadorConfig['upstreams'][string];
export type RetryConfig = NonNullable<RouteConfig['retries']>;
export type HeaderMatchConfig = NonNullable<RouteConfig['match']['headers']>[string];
export type Endpoint = UpstreamConfig['endpoints'][number];
