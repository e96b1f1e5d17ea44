// A token bucket in front of a listener or a route: Envoy's local rate limit, counted per Envoy.
import { z } from 'zod';
import { parseDurationMs } from '../duration.ts';
import { strict } from './common.ts';

const MAX_COUNT = 1_000_000_000;
const count = (what: string) => {
  const expected = `${what}: a whole number from 1 to ${MAX_COUNT}`;
  return z.int({ error: (iss) => (iss.input === undefined ? `missing required field (expected ${expected})` : `expected ${expected}`) })
    .min(1, { error: `expected ${expected}` })
    .max(MAX_COUNT, { error: `expected ${expected}` });
};

const WINDOW = 'a window from 1s to 24h, such as "1s", "10s" or "1m"';
const window = z.string({ error: (iss) => (iss.input === undefined ? `missing required field (expected ${WINDOW})` : `expected ${WINDOW}`) }).transform((s, ctx) => {
  const ms = parseDurationMs(s);
  if (ms === undefined || ms < 1000 || ms > 24 * 3_600_000) {
    const hint = ms !== undefined && ms < 1000 ? '; for a finer rate, give more requests per second' : '';
    ctx.addIssue({ code: 'custom', message: `expected ${WINDOW}, found ${JSON.stringify(s)}${hint}`, input: s });
    return z.NEVER;
  }
  return ms;
});

export const rateLimit = strict({
  /** Requests allowed per `per` (the refill rate: one request every per/requests). */
  requests: count('the number of requests per window'),
  /** The window the rate is given in. */
  per: window,
  /** How many requests may pass at once when the bucket is full; default `requests`. */
  burst: count('the burst size').optional(),
});

export type RateLimitConfig = z.infer<typeof rateLimit>;
