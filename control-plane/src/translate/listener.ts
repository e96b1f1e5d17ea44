// An HTTP listener → a Listener whose HTTP connection manager fetches its routes over RDS (ADS),
// so route edits never drain the listener.
import type { HttpListenerConfig } from '../model/schema.ts';
import { ADS_SOURCE } from './config-source.ts';
import { transcoderFilters } from './grpc-json-transcoder.ts';
import type { GroupId } from './names.ts';
import { singleFilterListener } from './single-filter-listener.ts';
import type { XdsResource } from './types.ts';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

export function translateHttpListener(g: GroupId, l: HttpListenerConfig): XdsResource {
  return singleFilterListener(g, l, (name) => ({
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': HCM,
      stat_prefix: l.name,
      rds: { route_config_name: name, config_source: ADS_SOURCE },
      http_filters: [...transcoderFilters(l), { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
    },
  }), (name) => ({ clusters: [], routes: [name] }));
}
