// A token bucket in front of a listener or a route: Envoy's local rate limit, counted per Envoy.
import { z } from 'zod';
import { durationMs, strict } from './common.ts';

const MAX_COUNT = 1_000_000_000;
const count = (what: string) => z.int({ error: `expected ${what}: a whole number from 1 to ${MAX_COUNT}` })
  .min(1, { error: `expected ${what}: a whole number from 1 to ${MAX_COUNT}` })
  .max(MAX_COUNT, { error: `expected ${what}: a whole number from 1 to ${MAX_COUNT}` });

const MIN_PER_MS = 1000;
const MAX_PER_MS = 24 * 3_600_000;

export const rateLimit = strict({
  /** Requests allowed per `per` (the refill rate: one request every per/requests). */
  requests: count('the number of requests per window'),
  /** The window the rate is given in. */
  per: durationMs.refine((ms) => ms >= MIN_PER_MS && ms <= MAX_PER_MS, {
    error: (iss) => `expected a window from 1s to 24h (such as "1s", "10s" or "1m"), found ${String(iss.input)}ms; for a finer rate give more requests per second`,
  }),
  /** How many requests may pass at once when the bucket is full; default `requests`. */
  burst: count('the burst size').optional(),
});

export type RateLimitConfig = z.infer<typeof rateLimit>;
