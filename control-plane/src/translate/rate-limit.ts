// Rate limits: Envoy's local rate limit filter, one token bucket per Envoy. A listener's `rateLimit`
// is the filter's own bucket, shared by every route of the listener; a route's `rateLimit` replaces
// it for that route (typed_per_filter_config), with a bucket of its own.
import type { HttpListenerConfig, RateLimitConfig, RouteConfig } from '../model/schema.ts';
import { duration } from './duration.ts';
import type { JsonObject } from './types.ts';

const RATE_LIMIT_FILTER = 'envoy.filters.http.local_ratelimit';
const LOCAL_RATE_LIMIT = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const ALL: JsonObject = { default_value: { numerator: 100, denominator: 'HUNDRED' } };

/** Envoy's bucket refills continuously, one token every per/requests: after that many seconds
 * (rounded up) a rejected request may be tried again. */
function retryAfterSeconds(rl: RateLimitConfig): number {
  return Math.max(1, Math.ceil(rl.per / (rl.requests * 1000)));
}

/** Stats: `<prefix>.http_local_rate_limit.{ok,rate_limited}`, per listener and per route. */
function rateLimitStatPrefix(listener: string, route?: string): string {
  return route === undefined ? `rate_limit.${listener}` : `rate_limit.${listener}.${route}`;
}

function bucket(statPrefix: string, rl: RateLimitConfig): JsonObject {
  const header = (key: string, value: string): JsonObject => ({ header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });
  return {
    '@type': LOCAL_RATE_LIMIT,
    stat_prefix: statPrefix,
    token_bucket: { max_tokens: rl.burst ?? rl.requests, tokens_per_fill: { value: rl.requests }, fill_interval: duration(rl.per) },
    filter_enabled: ALL,
    filter_enforced: ALL,
    // Only on the 429 Envoy answers itself: when to try again, and that the ambassador (not the
    // upstream) refused.
    response_headers_to_add: [header('retry-after', String(retryAfterSeconds(rl))), header('x-envoy-ratelimited', 'true')],
  };
}

/** The HCM's rate limit filter, when the listener or one of its routes has a limit. */
export function rateLimitHttpFilters(l: HttpListenerConfig): JsonObject[] {
  if (!l.rateLimit && !l.routes.some((r) => r.rateLimit)) return [];
  const prefix = rateLimitStatPrefix(l.name);
  // Without a listener limit the filter does nothing by itself (Envoy enables it for 0% by default);
  // the routes' own configs turn it on.
  const config = l.rateLimit ? bucket(prefix, l.rateLimit) : { '@type': LOCAL_RATE_LIMIT, stat_prefix: prefix };
  return [{ name: RATE_LIMIT_FILTER, typed_config: config }];
}

/** A route's own bucket, for its typed_per_filter_config. */
export function routeRateLimit(l: HttpListenerConfig, r: RouteConfig, name: string): JsonObject {
  return r.rateLimit ? { [RATE_LIMIT_FILTER]: bucket(rateLimitStatPrefix(l.name, name), r.rateLimit) } : {};
}
