// Response caching: Envoy's cache filter with its in-memory simple HTTP cache. It cannot be turned on
// per route (it takes no per-route config), so a listener with a cached route runs it, and every
// route without `cache: true` turns it off for itself.
import type { HttpListenerConfig, RouteConfig } from '../model/schema.ts';
import type { JsonObject } from './types.ts';

const CACHE_FILTER = 'envoy.filters.http.cache';
const CACHE_CONFIG = 'type.googleapis.com/envoy.extensions.filters.http.cache.v3.CacheConfig';
const SIMPLE_CACHE = 'type.googleapis.com/envoy.extensions.http.cache.simple_http_cache.v3.SimpleHttpCacheConfig';
const FILTER_CONFIG = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';

const hasCache = (l: HttpListenerConfig) => l.routes.some((r) => r.cache);

export function cacheHttpFilters(l: HttpListenerConfig): JsonObject[] {
  return hasCache(l) ? [{ name: CACHE_FILTER, typed_config: { '@type': CACHE_CONFIG, typed_config: { '@type': SIMPLE_CACHE } } }] : [];
}

/** For a route's typed_per_filter_config: the cache off, unless the route asks for it. `served` is
 * false for a route that answers 503 itself (it has no upstream the cache could ask). */
export function routeCache(l: HttpListenerConfig, r: RouteConfig, served: boolean): JsonObject {
  return hasCache(l) && !(r.cache && served) ? { [CACHE_FILTER]: { '@type': FILTER_CONFIG, disabled: true } } : {};
}
