// Envoy's API protos, loaded from the installed @grpc/grpc-js-xds package (never copied into git).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/** The folders Envoy's .proto imports resolve against, in order. */
export function protoIncludeDirs(): string[] {
  const xdsPkg = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  const protobufjsPkg = path.dirname(require.resolve('protobufjs/package.json'));
  return [
    ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(xdsPkg, 'deps', d)),
    protobufjsPkg,
  ];
}

/** Every proto file whose messages we encode or decode. */
const PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/status/v3/csds.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/grpc_json_transcoder/v3/transcoder.proto',
  'envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/filters/http/credential_injector/v3/credential_injector.proto',
  'envoy/extensions/http/injected_credentials/generic/v3/generic.proto',
  'envoy/extensions/http/injected_credentials/oauth2/v3/oauth2.proto',
  'envoy/extensions/filters/http/aws_request_signing/v3/aws_request_signing.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/filters/http/upstream_codec/v3/upstream_codec.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/redis_proxy/v3/redis_proxy.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/filters/http/cache/v3/cache.proto',
  'envoy/extensions/http/cache/simple_http_cache/v3/config.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/config/trace/v3/opentelemetry.proto',
];

let loading: Promise<protobuf.Root> | undefined;

/** The protobufjs Root with Envoy's API, loaded once per process (field names kept snake_case). */
export function xdsRoot(): Promise<protobuf.Root> {
  loading ??= (async () => {
    const dirs = protoIncludeDirs();
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => {
      for (const d of dirs) {
        const candidate = path.join(d, target);
        if (existsSync(candidate)) return candidate;
      }
      return target;
    };
    await root.load(PROTO_FILES, { keepCase: true });
    root.resolveAll();
    return root;
  })();
  return loading;
}
