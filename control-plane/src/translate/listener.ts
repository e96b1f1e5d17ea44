// An HTTP listener → a Listener whose HTTP connection manager fetches its routes over RDS (ADS),
// so route edits never drain the listener.
import type { HttpListenerConfig, TracingConfig } from '../model/schema.ts';
import { httpAccessLog } from './access-log.ts';
import { cacheHttpFilters } from './cache.ts';
import { ADS_SOURCE } from './config-source.ts';
import { transcoderFilters } from './grpc-json-transcoder.ts';
import type { GroupId } from './names.ts';
import { rateLimitHttpFilters } from './rate-limit.ts';
import { singleFilterListener } from './single-filter-listener.ts';
import { hcmTracing, tracingClusterName } from './tracing.ts';
import type { XdsResource } from './types.ts';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

// HTTP filter order: the rate limit first (so that every request counts, a cached answer too: the
// cache filter sends what it may cache to the upstream by itself, past any later filter), then the
// cache, then the router.
export function translateHttpListener(g: GroupId, l: HttpListenerConfig, tracing?: TracingConfig): XdsResource {
  const listener = singleFilterListener(g, l, (name) => ({
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': HCM,
      stat_prefix: l.name,
      rds: { route_config_name: name, config_source: ADS_SOURCE },
      ...(l.accessLog ? { access_log: httpAccessLog(l) } : {}),
      ...(tracing ? { tracing: hcmTracing(g, tracing) } : {}),
      http_filters: [...rateLimitHttpFilters(l), ...cacheHttpFilters(l), ...transcoderFilters(l), { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
    },
  }), (name) => ({ clusters: tracing ? [tracingClusterName(g)] : [], routes: [name] }));
  // The application's calls go out through the ambassador: client spans.
  if (tracing) listener.body.traffic_direction = 'OUTBOUND';
  return listener;
}
