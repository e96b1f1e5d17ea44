// HTTP/JSON → gRPC transcoding: Envoy's grpc_json_transcoder. The HTTP connection manager of a
// listener with a transcoding route gets the filter, disabled (no services); each transcoding route
// enables it with its own complete config (Envoy uses the most specific one), descriptor set
// included. So a new descriptor set changes the route configuration only (RDS), never the listener.
import type { HttpListenerConfig, TranscodeConfig } from '../model/schema.ts';
import type { DescriptorSets } from '../model/transcode-descriptors.ts';
import type { JsonObject } from './types.ts';

const TRANSCODER_FILTER = 'envoy.filters.http.grpc_json_transcoder';
const TRANSCODER = 'type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder';

/** The HTTP filter, before the router, when a route of the listener transcodes; none otherwise. */
export function transcoderFilters(l: HttpListenerConfig): { name: string; typed_config: JsonObject }[] {
  if (!l.routes.some((r) => r.transcode)) return [];
  // "If the list of services is empty, filter is considered disabled" (the descriptor is required).
  return [{ name: TRANSCODER_FILTER, typed_config: { '@type': TRANSCODER, proto_descriptor_bin: '' } }];
}

/** The route's typed_per_filter_config entry that turns transcoding on. */
export function transcoderPerRoute(t: TranscodeConfig, sets: DescriptorSets): JsonObject {
  const set = sets.get(t.descriptors.key);
  // The model only accepts a config whose descriptor sets it has read.
  if (set === undefined) throw new Error(`descriptor set "${t.descriptors.key}" was not read`);
  return {
    [TRANSCODER_FILTER]: {
      '@type': TRANSCODER,
      proto_descriptor_bin: Buffer.from(set).toString('base64'),
      services: [...t.services],
      // The route chosen for the JSON call stays the route (no second match on the gRPC path).
      match_incoming_request_route: true,
      // A gRPC error becomes its HTTP status (NOT_FOUND → 404) with a JSON google.rpc.Status body.
      convert_grpc_status: true,
      // A JSON call no HTTP rule maps, or with a query parameter the method does not have, is
      // answered 404 / 400 by the ambassador, not passed on to the gRPC server as it is.
      request_validation_options: { reject_unknown_method: true, reject_unknown_query_parameters: true },
    },
  };
}
