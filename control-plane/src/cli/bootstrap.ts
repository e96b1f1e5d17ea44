// The Envoy bootstrap of an ambassador sidecar: everything dynamic comes over one ADS stream.
import { isIpAddress, parseHostPort } from '../model/schema.ts';
import { ADS_SOURCE } from '../translate/config-source.ts';
import type { JsonObject } from '../translate/types.ts';

export interface BootstrapOptions {
  nodeId: string;
  ambassador: string;
  namespace: string;
  /** node.metadata.environment: selects the config's `environments` overrides. */
  environment?: string;
  /** host:port of the control plane's xDS gRPC port. */
  xdsAddress: string;
  adminPort: number;
}

const XDS_CLUSTER = 'xds-ambassador';

export function buildBootstrap(o: BootstrapOptions): JsonObject {
  const xds = parseHostPort(o.xdsAddress);
  if (!xds) throw new Error(`--xds-address: expected HOST:PORT (e.g. 127.0.0.1:18000 or xds-ambassador.xds-system:18000), found ${JSON.stringify(o.xdsAddress)}`);
  return {
    node: { id: o.nodeId, cluster: o.ambassador, metadata: { namespace: o.namespace, ...(o.environment ? { environment: o.environment } : {}) } },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: o.adminPort } } },
    dynamic_resources: {
      ads_config: {
        api_type: 'GRPC',
        transport_api_version: 'V3',
        set_node_on_first_message_only: true,
        grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }],
      },
      cds_config: ADS_SOURCE,
      lds_config: ADS_SOURCE,
    },
    static_resources: {
      clusters: [{
        name: XDS_CLUSTER,
        type: isIpAddress(xds.host) ? 'STATIC' : 'STRICT_DNS',
        connect_timeout: '1s',
        typed_extension_protocol_options: {
          'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
            '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
            // gRPC needs HTTP/2; keepalive pings notice a dead control plane and reconnect.
            explicit_http_config: { http2_protocol_options: { connection_keepalive: { interval: '30s', timeout: '5s' } } },
          },
        },
        load_assignment: {
          cluster_name: XDS_CLUSTER,
          endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: xds.host, port_value: xds.port } } } }] }],
        },
      }],
    },
  };
}
