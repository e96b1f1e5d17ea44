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

// protobufjs defines google.protobuf.Struct itself, with camelCase fields even under keepCase.
interface RawStruct { fields?: Record<string, RawValue> }
interface RawValue {
  nullValue?: unknown; numberValue?: number; stringValue?: string; boolValue?: boolean;
  structValue?: RawStruct; listValue?: { values?: RawValue[] };
}

/** DiscoveryRequest as protobufjs decodes it: unset scalars and lists read their defaults. */
interface DecodedRequest {
  version_info: string;
  node?: protobuf.Message | null;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail?: { code: number; message: string } | null;
}

/** Read from the decoded message as it is: only the node (in a stream's first request only) is
 * converted to a plain object, the rest of every request (ACKs, mostly) is not copied again. */
export function decodeDiscoveryRequest(type: protobuf.Type, bytes: Uint8Array): DiscoveryRequest {
  const m = type.decode(bytes) as unknown as DecodedRequest;
  const req: DiscoveryRequest = {
    version_info: m.version_info,
    resource_names: m.resource_names.length > 0 ? m.resource_names : [],
    type_url: m.type_url,
    response_nonce: m.response_nonce,
  };
  if (m.node) {
    const nodeType = type.fields.node?.resolvedType as protobuf.Type;
    req.node = nodeInfo(nodeType.toObject(m.node, { enums: String, longs: Number, defaults: false }) as RawNode);
  }
  if (m.error_detail) req.error_detail = { code: m.error_detail.code, message: m.error_detail.message };
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
  return withNonce(encodeResponseBody(p), p.nonce);
}

/** Every field of the response but its nonce: what all the streams sent the same resources share. */
export function encodeResponseBody(p: Omit<ResponseParts, 'nonce'>): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(10).string(p.versionInfo);
  for (const any of p.resources) w.uint32(18).bytes(any);
  w.uint32(34).string(p.typeUrl);
  // control_plane (6): config.core.v3.ControlPlane { identifier (1) }
  w.uint32(50).fork().uint32(10).string(p.controlPlane).ldelim();
  return w.finish();
}

/** The body with its nonce (5) appended: a message's fields may come in any order. */
export function withNonce(body: Uint8Array, nonce: string): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(42).string(nonce);
  const field = w.finish();
  const out = Buffer.allocUnsafe(body.byteLength + field.byteLength);
  out.set(body, 0);
  out.set(field, body.byteLength);
  return out;
}
