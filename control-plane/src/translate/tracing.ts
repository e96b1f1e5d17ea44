// Tracing: every HTTP listener's connection manager reports spans with Envoy's OpenTelemetry tracer,
// over OTLP/gRPC to the collector through a cluster of its own. Each route names its spans
// (decorator), so a trace shows which route a call took.
import { isIpAddress, type TracingConfig } from '../model/schema.ts';
import { CLUSTER } from '../xds/type-urls.ts';
import { scopedName, type GroupId } from './names.ts';
import type { JsonObject, XdsResource } from './types.ts';

const OTEL = 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig';
const HTTP_OPTIONS = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** "_" cannot start an upstream name (a DNS label), so this never collides with one. */
export function tracingClusterName(g: GroupId): string {
  return scopedName(g, '_otlp-collector');
}

/** The collector's cluster: HTTP/2 (gRPC), resolved by Envoy when the address is a DNS name. */
export function tracingCluster(g: GroupId, t: TracingConfig): XdsResource {
  const name = tracingClusterName(g);
  return {
    type: CLUSTER,
    name,
    refs: { clusters: [], routes: [], secrets: [] },
    body: {
      name,
      ...(isIpAddress(t.otlp.host) ? { type: 'STATIC' } : { type: 'STRICT_DNS', dns_lookup_family: 'V4_PREFERRED' }),
      connect_timeout: { seconds: 5 },
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': HTTP_OPTIONS, explicit_http_config: { http2_protocol_options: {} } },
      },
      load_assignment: {
        cluster_name: name,
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: t.otlp.host, port_value: t.otlp.port } } } }] }],
      },
    },
  };
}

const authority = (t: TracingConfig) => (t.otlp.host.includes(':') ? `[${t.otlp.host}]:${t.otlp.port}` : `${t.otlp.host}:${t.otlp.port}`);

/** The HCM's `tracing`. */
export function hcmTracing(g: GroupId, t: TracingConfig): JsonObject {
  return {
    random_sampling: { value: t.sampling },
    provider: {
      name: 'envoy.tracers.opentelemetry',
      typed_config: {
        '@type': OTEL,
        // The authority defaults to the cluster name, whose "/" a gRPC server refuses (RST_STREAM).
        grpc_service: { envoy_grpc: { cluster_name: tracingClusterName(g), authority: authority(t) } },
        service_name: t.serviceName ?? `${g.ambassador}.${g.namespace}`,
      },
    },
  };
}

/** A route's span name; not sent to the upstream (an external API has no use for it). */
export function routeDecorator(name: string): JsonObject {
  return { operation: name, propagate: { value: false } };
}
