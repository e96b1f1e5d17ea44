// DeltaDiscoveryRequest decoding and DeltaDiscoveryResponse encoding (incremental xDS). Responses
// are spliced from the resources' pre-encoded bytes, like State-of-the-World ones: each resource's
// discovery.v3.Resource wrapper (name, version, Any) is built once and shared by every Delta stream.
import protobuf from 'protobufjs';
import type { EncodedResource } from '../cache/encode.ts';
import { nodeInfo, type RawNode } from './discovery-messages.ts';
import type { NodeInfo } from './node.ts';

export interface DeltaDiscoveryRequest {
  node?: NodeInfo;
  type_url: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  /** What the client already has (sent on the first request of a type on a stream): name → version. */
  initial_resource_versions: Map<string, string>;
  response_nonce: string;
  error_detail?: { code: number; message: string };
}

interface RawDeltaRequest {
  node?: RawNode;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

export function decodeDeltaDiscoveryRequest(type: protobuf.Type, bytes: Uint8Array): DeltaDiscoveryRequest {
  const raw = type.toObject(type.decode(bytes), { enums: String, longs: Number, defaults: false }) as RawDeltaRequest;
  const req: DeltaDiscoveryRequest = {
    type_url: raw.type_url ?? '',
    resource_names_subscribe: raw.resource_names_subscribe ?? [],
    resource_names_unsubscribe: raw.resource_names_unsubscribe ?? [],
    initial_resource_versions: new Map(Object.entries(raw.initial_resource_versions ?? {})),
    response_nonce: raw.response_nonce ?? '',
  };
  if (raw.node) req.node = nodeInfo(raw.node);
  if (raw.error_detail) req.error_detail = { code: raw.error_detail.code ?? 0, message: raw.error_detail.message ?? '' };
  return req;
}

export interface DeltaResponseParts {
  systemVersionInfo: string;
  typeUrl: string;
  nonce: string;
  resources: Iterable<EncodedResource>;
  removed: Iterable<string>;
  controlPlane: string;
}

/** envoy.service.discovery.v3.DeltaDiscoveryResponse, field by field. */
export function encodeDeltaDiscoveryResponse(p: DeltaResponseParts): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(10).string(p.systemVersionInfo);
  for (const r of p.resources) w.uint32(18).bytes(resourceWrapper(r));
  w.uint32(34).string(p.typeUrl);
  w.uint32(42).string(p.nonce);
  for (const name of p.removed) w.uint32(50).string(name);
  // control_plane (7): config.core.v3.ControlPlane { identifier (1) }
  w.uint32(58).fork().uint32(10).string(p.controlPlane).ldelim();
  return w.finish();
}

const wrappers = new WeakMap<EncodedResource, Uint8Array>();

/** discovery.v3.Resource: version (1) is the content hash, resource (2) the shared Any, name (3). */
function resourceWrapper(r: EncodedResource): Uint8Array {
  let bytes = wrappers.get(r);
  if (!bytes) {
    bytes = protobuf.Writer.create().uint32(10).string(r.hash).uint32(18).bytes(r.any).uint32(26).string(r.name).finish();
    wrappers.set(r, bytes);
  }
  return bytes;
}
