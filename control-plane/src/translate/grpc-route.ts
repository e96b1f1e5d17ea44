// What a route does differently when its upstreams can carry gRPC (protocol http2 or auto):
// - a gRPC call gets the client's own deadline (the grpc-timeout header), capped by the route's
//   `timeout`; without a `timeout` there is no cap, and a call without a deadline (a long server
//   stream) is not cut — where Envoy's default would end every request after 15 s. Other requests
//   keep the route's timeout (or Envoy's 15 s).
//   This is RouteAction.max_grpc_timeout, deprecated in Envoy's API but the only field that does
//   it (as Istio does): its replacement, max_stream_duration.grpc_timeout_header_max, makes Envoy
//   ignore the route's `timeout` for every request of the route, gRPC or not.
// - a transcoding route turns the gRPC-JSON transcoder on.
import type { RouteConfig } from '../model/schema.ts';
import type { UpstreamProtocol } from '../model/schema/upstream-protocol.ts';
import type { DescriptorSets } from '../model/transcode-descriptors.ts';
import { duration } from './duration.ts';
import { transcoderPerRoute } from './grpc-json-transcoder.ts';
import type { JsonObject } from './types.ts';

export interface GrpcRouteContext {
  protocolOf(upstream: string): UpstreamProtocol;
  descriptorSets: DescriptorSets;
}

/** `route` (match + action) with the gRPC settings of `r`. */
export function withGrpc(route: JsonObject & { route: JsonObject }, r: RouteConfig, targets: readonly string[], c: GrpcRouteContext): JsonObject {
  if (targets.every((t) => c.protocolOf(t) === 'http1')) return route;
  const action: JsonObject = { ...route.route, max_grpc_timeout: duration(r.timeout ?? 0) };
  return { ...route, route: action, ...(r.transcode ? { typed_per_filter_config: transcoderPerRoute(r.transcode, c.descriptorSets) } : {}) };
}
