// DiscoveryRequest decoding and DiscoveryResponse encoding. Responses are assembled from the
// resources' pre-encoded Any bytes, so no resource is re-encoded per stream.
import protobuf from 'protobufjs';
import type { NodeInfo } from './node.ts';

export interface DiscoveryRequest {
  version_info: string;
  node?: NodeInfo;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail?: { code: number; message: string };
}

/** config.core.v3.Node as protobufjs' toObject gives it. */
export interface RawNode { id?: string; cluster?: string; metadata?: RawStruct; user_agent_name?: string; user_agent_build_version?: unknown; user_agent_version?: string }

interface RawRequest {
  version_info?: string;
  node?: RawNode;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

// protobufjs defines google.protobuf.Struct itself, with camelCase fields even under keepCase.
interface RawStruct { fields?: Record<string, RawValue> }
interface RawValue {
  nullValue?: unknown; numberValue?: number; stringValue?: string; boolValue?: boolean;
  structValue?: RawStruct; listValue?: { values?: RawValue[] };
}

export function decodeDiscoveryRequest(type: protobuf.Type, bytes: Uint8Array): DiscoveryRequest {
  const raw = type.toObject(type.decode(bytes), { enums: String, longs: Number, defaults: false }) as RawRequest;
  const req: DiscoveryRequest = {
    version_info: raw.version_info ?? '',
    resource_names: raw.resource_names ?? [],
    type_url: raw.type_url ?? '',
    response_nonce: raw.response_nonce ?? '',
  };
  if (raw.node) req.node = nodeInfo(raw.node);
  if (raw.error_detail) req.error_detail = { code: raw.error_detail.code ?? 0, message: raw.error_detail.message ?? '' };
  return req;
}

export function nodeInfo(node: RawNode): NodeInfo {
  return {
    id: node.id ?? '',
    cluster: node.cluster ?? '',
    metadata: structToJs(node.metadata),
    userAgent: [node.user_agent_name, node.user_agent_version].filter(Boolean).join('/'),
  };
}

function structToJs(s: RawStruct | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = valueToJs(v);
  return out;
}

function valueToJs(v: RawValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.numberValue !== undefined) return v.numberValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.structValue !== undefined) return structToJs(v.structValue);
  if (v.listValue !== undefined) return (v.listValue.values ?? []).map(valueToJs);
  return null;
}

export interface ResponseParts {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  /** Each resource's encoded google.protobuf.Any. */
  resources: Iterable<Uint8Array>;
  controlPlane: string;
}

/** envoy.service.discovery.v3.DiscoveryResponse, field by field. */
export function encodeDiscoveryResponse(p: ResponseParts): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(10).string(p.versionInfo);
  for (const any of p.resources) w.uint32(18).bytes(any);
  w.uint32(34).string(p.typeUrl);
  w.uint32(42).string(p.nonce);
  // control_plane (6): config.core.v3.ControlPlane { identifier (1) }
  w.uint32(50).fork().uint32(10).string(p.controlPlane).ldelim();
  return w.finish();
}
