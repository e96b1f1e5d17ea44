// What a route adds for the HTTP filters and observability: its name (access logs, stats under
// vhost.<listener>.route.<name>.*), its span name when tracing, and its per-filter configs.
import { routeName } from '../model/route-name.ts';
import type { HttpListenerConfig, RouteConfig } from '../model/schema.ts';
import { routeCache } from './cache.ts';
import { routeRateLimit } from './rate-limit.ts';
import { routeDecorator } from './tracing.ts';
import type { JsonObject } from './types.ts';

/** `served` is false for a route that answers 503 itself for want of a Secret. */
export function routeFeatures(l: HttpListenerConfig, r: RouteConfig, index: number, tracing: boolean, served: boolean): JsonObject {
  const name = routeName(r, index);
  const out: JsonObject = { name, stat_prefix: name };
  if (tracing) out.decorator = routeDecorator(name);
  const perFilter = { ...routeRateLimit(l, r, name), ...routeCache(l, r, served) };
  if (Object.keys(perFilter).length > 0) out.typed_per_filter_config = perFilter;
  return out;
}
