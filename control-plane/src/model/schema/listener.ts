// A listener the application connects to: HTTP (routes), TCP (one upstream) or Redis (key-prefix routes).
import { z } from 'zod';
import { describeValue } from '../errors.ts';
import { dnsLabel, durationMs, isIpAddress, port, strict } from './common.ts';
import { accessLog } from './observability.ts';
import { rateLimit } from './rate-limit.ts';
import { route } from './route.ts';

const common = {
  name: dnsLabel('listener name'),
  port,
  address: z.string().refine((a) => isIpAddress(a), { error: 'expected an IP address such as 127.0.0.1, 0.0.0.0 or ::1' }).default('127.0.0.1'),
};

const httpListener = strict({
  ...common,
  protocol: z.literal('http'),
  routes: z.array(route).min(1, { error: 'expected at least one route' }),
  /** One token bucket for every route of the listener that has none of its own. */
  rateLimit: rateLimit.optional(),
  accessLog: accessLog.default(true),
});

const tcpListener = strict({
  ...common,
  protocol: z.literal('tcp'),
  upstream: dnsLabel('upstream name'),
  /** Close a connection with no bytes either way for this long; "0s" never. */
  idleTimeout: durationMs.optional(),
  accessLog: accessLog.default(true),
});

const redisListener = strict({
  ...common,
  protocol: z.literal('redis'),
  /** Where keys go that no prefix route matches. */
  upstream: dnsLabel('upstream name'),
  /** Keys starting with a prefix go to that upstream instead (longest prefix wins). */
  routes: z.array(strict({ prefix: z.string().min(1), upstream: dnsLabel('upstream name') })).optional(),
  /** How long a command may take before the client gets an error. */
  opTimeout: durationMs.default(1000),
});

const PROTOCOLS = ['http', 'tcp', 'redis'];

/** `protocol` defaults to http; the other fields are then checked against that protocol's schema. */
export const listener = z.preprocess(
  (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) && !('protocol' in v) ? { ...v, protocol: 'http' } : v),
  z.discriminatedUnion('protocol', [httpListener, tcpListener, redisListener], {
    error: (iss) => {
      if (iss.code !== 'invalid_union') return undefined;
      const found = iss.input !== null && typeof iss.input === 'object' ? (iss.input as Record<string, unknown>).protocol : undefined;
      return `expected protocol to be one of ${PROTOCOLS.join(', ')}, found ${describeValue(found)}`;
    },
  }),
);
