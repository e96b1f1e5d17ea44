// The Envoy bootstrap of an ambassador sidecar: everything dynamic comes over one ADS stream, which
// verifies the control plane's certificate and proves the sidecar's identity in one of two ways:
// - token: Envoy's Google gRPC client sends the file's token (a Kubernetes projected ServiceAccount
//   token) as `authorization: Bearer …`, read again for every stream, so the kubelet's rotation
//   needs no restart;
// - certificate: Envoy's own gRPC client presents a client certificate loaded through file-based
//   SDS configs (written beside the bootstrap, one file per secret as Envoy requires) that watch
//   the certificate's folder, so a rotated certificate is used by the next connection, again with
//   no restart.
import path from 'node:path';
import { isIpAddress, parseHostPort } from '../model/schema.ts';
import { ADS_SOURCE } from '../translate/config-source.ts';
import type { JsonObject } from '../translate/types.ts';

export type XdsClientAuth =
  | { kind: 'insecure' }
  | { kind: 'token'; tokenFile: string; caFile: string; serverName?: string }
  | { kind: 'certificate'; certFile: string; keyFile: string; caFile: string; serverName?: string; sdsDir: string };

export interface BootstrapOptions {
  nodeId: string;
  ambassador: string;
  namespace: string;
  /** node.metadata.environment: selects the config's `environments` overrides. */
  environment?: string;
  /** host:port of the control plane's xDS gRPC port. */
  xdsAddress: string;
  adminPort: number;
  auth: XdsClientAuth;
}

const XDS_CLUSTER = 'xds-ambassador';
const CLIENT_CERT_SECRET = 'xds-client-certificate';
const SERVER_CA_SECRET = 'xds-server-ca';
// Envoy's xDS retry back-off (default 500 ms doubling to 30 s) left sidecars 7-11 s without a
// control plane after a restart; this reconnects within about a second of it being back.
const RETRY_BASE = '0.25s';
const RETRY_MAX = '1s';

export function buildBootstrap(o: BootstrapOptions): JsonObject {
  const xds = parseHostPort(o.xdsAddress);
  if (!xds) throw new Error(`--xds-address: expected HOST:PORT (e.g. 127.0.0.1:18000 or xds-ambassador.xds-system.svc:18000), found ${JSON.stringify(o.xdsAddress)}`);
  const a = o.auth;
  const serverName = a.kind === 'insecure' ? xds.host : (a.serverName ?? xds.host);
  const retry_policy = { retry_back_off: { base_interval: RETRY_BASE, max_interval: RETRY_MAX } };
  const grpcService: JsonObject = a.kind === 'token'
    ? { google_grpc: googleGrpc(o.xdsAddress, serverName, xds.host, a), retry_policy }
    : { envoy_grpc: { cluster_name: XDS_CLUSTER, authority: serverName, retry_policy } };
  return {
    node: { id: o.nodeId, cluster: o.ambassador, metadata: { namespace: o.namespace, ...(o.environment ? { environment: o.environment } : {}) } },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: o.adminPort } } },
    dynamic_resources: {
      ads_config: {
        api_type: 'GRPC',
        transport_api_version: 'V3',
        set_node_on_first_message_only: true,
        grpc_services: [grpcService],
      },
      cds_config: ADS_SOURCE,
      lds_config: ADS_SOURCE,
    },
    static_resources: { clusters: a.kind === 'token' ? [] : [xdsCluster(xds, serverName, a)] },
  };
}

/** The file-based SDS configs the certificate mode's bootstrap points at, by file path: the
 * client certificate and the CA that signs the control plane's, each reloaded when its folder changes. */
export function clientCertificateSds(a: Extract<XdsClientAuth, { kind: 'certificate' }>): Map<string, JsonObject> {
  const secret = (name: string, body: JsonObject): JsonObject => ({
    resources: [{ '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret', name, ...body }],
  });
  return new Map([
    [sdsFile(a, CLIENT_CERT_SECRET), secret(CLIENT_CERT_SECRET, {
      tls_certificate: {
        certificate_chain: { filename: path.resolve(a.certFile) },
        private_key: { filename: path.resolve(a.keyFile) },
        watched_directory: { path: path.dirname(path.resolve(a.certFile)) },
      },
    })],
    [sdsFile(a, SERVER_CA_SECRET), secret(SERVER_CA_SECRET, {
      validation_context: {
        trusted_ca: { filename: path.resolve(a.caFile) },
        watched_directory: { path: path.dirname(path.resolve(a.caFile)) },
      },
    })],
  ]);
}

function sdsFile(a: Extract<XdsClientAuth, { kind: 'certificate' }>, secret: string): string {
  return path.resolve(a.sdsDir, `${secret}.sds.json`);
}

function googleGrpc(target: string, serverName: string, host: string, a: Extract<XdsClientAuth, { kind: 'token' }>): JsonObject {
  const args: JsonObject = {
    // The gRPC channel's own reconnect back-off (1 s growing to 120 s by default) would otherwise
    // outlast the stream's retry policy while the control plane is away.
    'grpc.initial_reconnect_backoff_ms': { int_value: 250 },
    'grpc.min_reconnect_backoff_ms': { int_value: 250 },
    'grpc.max_reconnect_backoff_ms': { int_value: 1000 },
    // Like Envoy's own client: no 4 MiB cap on a response (a large config is one response).
    'grpc.max_receive_message_length': { int_value: -1 },
  };
  if (serverName !== host) args['grpc.ssl_target_name_override'] = { string_value: serverName };
  return {
    target_uri: target,
    stat_prefix: 'xds_ambassador',
    channel_credentials: { ssl_credentials: { root_certs: { filename: path.resolve(a.caFile) } } },
    credentials_factory_name: 'envoy.grpc_credentials.file_based_metadata',
    call_credentials: [{
      from_plugin: {
        name: 'envoy.grpc_credentials.file_based_metadata',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.config.grpc_credential.v3.FileBasedMetadataConfig',
          secret_data: { filename: path.resolve(a.tokenFile) },
          header_prefix: 'Bearer ',
        },
      },
    }],
    channel_args: { args },
  };
}

function xdsCluster(xds: { host: string; port: number }, serverName: string, a: Exclude<XdsClientAuth, { kind: 'token' }>): JsonObject {
  const cluster: JsonObject = {
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
  };
  if (a.kind === 'certificate') {
    const sds = (name: string): JsonObject => ({ name, sds_config: { path_config_source: { path: sdsFile(a, name) }, resource_api_version: 'V3' } });
    cluster.transport_socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        ...(isIpAddress(serverName) ? {} : { sni: serverName }),
        common_tls_context: {
          tls_certificate_sds_secret_configs: [sds(CLIENT_CERT_SECRET)],
          combined_validation_context: {
            default_validation_context: {
              match_typed_subject_alt_names: [{ san_type: isIpAddress(serverName) ? 'IP_ADDRESS' : 'DNS', matcher: { exact: serverName } }],
            },
            validation_context_sds_secret_config: sds(SERVER_CA_SECRET),
          },
        },
      },
    };
  }
  return cluster;
}
