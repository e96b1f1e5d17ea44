// The Envoy bootstrap of an ambassador sidecar: everything dynamic comes over one ADS stream, on
// Envoy's own gRPC client, over TLS to the control plane (its CA and server name verified), and
// proving the sidecar's identity in one of two ways:
// - token: a credential injector on the xDS cluster sends the file's token (a Kubernetes projected
//   ServiceAccount token) as `authorization: Bearer …`;
// - certificate: the xDS cluster presents a client certificate.
// The CA, the token and the certificate are loaded through file-based SDS configs written beside
// the bootstrap (one file per secret, as Envoy requires), each watching its folder: a rotated file
// (the kubelet's `..data` swap) is used by the next connection, with no restart.
import path from 'node:path';
import { isIpAddress, parseHostPort } from '../model/schema.ts';
import { ADS_SOURCE } from '../translate/config-source.ts';
import type { JsonObject } from '../translate/types.ts';

interface TlsAuth {
  /** The CA that signs the control plane's certificate. */
  caFile: string;
  /** The name that certificate must carry (default: the host of the xDS address). */
  serverName?: string;
  /** Where the SDS files go (written by the caller, see sdsFiles()). */
  sdsDir: string;
}

export type XdsClientAuth =
  | { kind: 'insecure' }
  | ({ kind: 'token'; tokenFile: string } & TlsAuth)
  | ({ kind: 'certificate'; certFile: string; keyFile: string } & TlsAuth);

type SecureAuth = Exclude<XdsClientAuth, { kind: 'insecure' }>;

export interface BootstrapOptions {
  nodeId: string;
  ambassador: string;
  namespace: string;
  /** node.metadata.environment: selects the config's `environments` overrides. */
  environment?: string;
  /** host:port of the control plane's xDS gRPC port. */
  xdsAddress: string;
  adminPort: number;
  /** A listener on every address that answers GET /ready from the admin port (which stays on
   * 127.0.0.1), for a kubelet's readiness probe: it connects to the Pod's address, never its loopback. */
  readyPort?: number;
  auth: XdsClientAuth;
  /** Incremental xDS (DeltaAggregatedResources) instead of State-of-the-World. */
  delta?: boolean;
}

const XDS_CLUSTER = 'xds-ambassador';
const SERVER_CA = 'xds-server-ca';
const CLIENT_CERT = 'xds-client-certificate';
const TOKEN = 'xds-token';
// Envoy's xDS retry back-off (default 500 ms doubling to 30 s) left sidecars 7-11 s without a
// control plane after a restart; this reconnects within about a second of it being back.
const RETRY_BASE = '0.25s';
const RETRY_MAX = '1s';

export function buildBootstrap(o: BootstrapOptions): JsonObject {
  const xds = parseHostPort(o.xdsAddress);
  if (!xds) throw new Error(`--xds-address: expected HOST:PORT (e.g. 127.0.0.1:18000 or xds-ambassador.xds-system.svc:18000), found ${JSON.stringify(o.xdsAddress)}`);
  const serverName = o.auth.kind === 'insecure' ? xds.host : (o.auth.serverName ?? xds.host);
  return {
    node: { id: o.nodeId, cluster: o.ambassador, metadata: { namespace: o.namespace, ...(o.environment ? { environment: o.environment } : {}) } },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: o.adminPort } } },
    dynamic_resources: {
      ads_config: {
        // Every config source of the served resources is `ads: {}`, so this one choice makes the
        // whole stream Delta or State-of-the-World.
        api_type: o.delta ? 'DELTA_GRPC' : 'GRPC',
        transport_api_version: 'V3',
        set_node_on_first_message_only: true,
        grpc_services: [{
          envoy_grpc: { cluster_name: XDS_CLUSTER, authority: serverName, retry_policy: { retry_back_off: { base_interval: RETRY_BASE, max_interval: RETRY_MAX } } },
        }],
      },
      cds_config: ADS_SOURCE,
      lds_config: ADS_SOURCE,
    },
    static_resources: o.readyPort === undefined
      ? { clusters: [xdsCluster(xds, serverName, o.auth)] }
      : { listeners: [readyListener(o.readyPort)], clusters: [xdsCluster(xds, serverName, o.auth), adminCluster(o.adminPort)] },
  };
}

const ADMIN_CLUSTER = 'envoy-admin';

/** GET /ready, proxied to the admin port (200 once Envoy has its first config, 503 before and
 * while draining); every other path gets 404, so nothing else of the admin API is reachable. */
function readyListener(port: number): JsonObject {
  return {
    name: 'ready',
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          stat_prefix: 'ready',
          route_config: {
            virtual_hosts: [{
              name: 'ready',
              domains: ['*'],
              routes: [
                { match: { path: '/ready', headers: [{ name: ':method', string_match: { exact: 'GET' } }] }, route: { cluster: ADMIN_CLUSTER } },
                { match: { prefix: '/' }, direct_response: { status: 404 } },
              ],
            }],
          },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
        },
      }],
    }],
  };
}

function adminCluster(adminPort: number): JsonObject {
  return {
    name: ADMIN_CLUSTER,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: ADMIN_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: adminPort } } } }] }],
    },
  };
}

/** The file-based SDS configs the bootstrap points at, by file path: the CA of the control plane's
 * certificate, and the client certificate or the token. */
export function sdsFiles(a: SecureAuth): Map<string, JsonObject> {
  const files = new Map<string, JsonObject>([[sdsFile(a, SERVER_CA), secret(SERVER_CA, { validation_context: { trusted_ca: { filename: path.resolve(a.caFile) } } })]]);
  if (a.kind === 'certificate') {
    files.set(sdsFile(a, CLIENT_CERT), secret(CLIENT_CERT, { tls_certificate: { certificate_chain: { filename: path.resolve(a.certFile) }, private_key: { filename: path.resolve(a.keyFile) } } }));
  } else {
    files.set(sdsFile(a, TOKEN), secret(TOKEN, { generic_secret: { secret: { filename: path.resolve(a.tokenFile) } } }));
  }
  return files;
}

function secret(name: string, body: JsonObject): JsonObject {
  return { resources: [{ '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret', name, ...body }] };
}

function sdsFile(a: SecureAuth, name: string): string {
  return path.resolve(a.sdsDir, `${name}.sds.json`);
}

/** An SDS config read from its file, and read again whenever the folder of `watched` changes. */
function fileSds(a: SecureAuth, name: string, watched: string): JsonObject {
  return {
    name,
    sds_config: { path_config_source: { path: sdsFile(a, name), watched_directory: { path: path.dirname(path.resolve(watched)) } }, resource_api_version: 'V3' },
  };
}

function xdsCluster(xds: { host: string; port: number }, serverName: string, a: XdsClientAuth): JsonObject {
  const http: JsonObject = {
    '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    // gRPC needs HTTP/2; keepalive pings notice a dead control plane and reconnect.
    explicit_http_config: { http2_protocol_options: { connection_keepalive: { interval: '30s', timeout: '5s' } } },
  };
  if (a.kind === 'token') {
    http.http_filters = [
      {
        name: 'envoy.filters.http.credential_injector',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.http.credential_injector.v3.CredentialInjector',
          overwrite: true,
          credential: {
            name: 'envoy.http.injected_credentials.generic',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.http.injected_credentials.generic.v3.Generic',
              credential: fileSds(a, TOKEN, a.tokenFile),
              header: 'authorization',
              header_value_prefix: 'Bearer ',
            },
          },
        },
      },
      { name: 'envoy.filters.http.upstream_codec', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec' } },
    ];
  }
  const cluster: JsonObject = {
    name: XDS_CLUSTER,
    type: isIpAddress(xds.host) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: '1s',
    typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': http },
    load_assignment: {
      cluster_name: XDS_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: xds.host, port_value: xds.port } } } }] }],
    },
  };
  if (a.kind !== 'insecure') {
    cluster.transport_socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        ...(isIpAddress(serverName) ? {} : { sni: serverName }),
        common_tls_context: {
          ...(a.kind === 'certificate' ? { tls_certificate_sds_secret_configs: [fileSds(a, CLIENT_CERT, a.certFile)] } : {}),
          combined_validation_context: {
            default_validation_context: {
              match_typed_subject_alt_names: [{ san_type: isIpAddress(serverName) ? 'IP_ADDRESS' : 'DNS', matcher: { exact: serverName } }],
            },
            validation_context_sds_secret_config: fileSds(a, SERVER_CA, a.caFile),
          },
        },
      },
    };
  }
  return cluster;
}
