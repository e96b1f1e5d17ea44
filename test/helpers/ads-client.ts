// A real ADS (State-of-the-World) client for tests: one gRPC bidi stream over a real socket, speaking
// DiscoveryRequest / DiscoveryResponse as an Envoy would. Every response is decoded, and every resource
// Any is decoded into its own message by its type URL.
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { xdsRoot } from '../../control-plane/src/xds/protos.ts';
import { nodeMessage, openXdsCall, type AdsConnectOptions, type AdsNodeOptions, type AdsStatus } from './xds-call.ts';

export type { AdsConnectOptions, AdsNodeOptions, AdsStatus } from './xds-call.ts';

const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const CLA = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';

export interface AdsRequest {
  typeUrl: string;
  /** resource_names; when omitted, the stream's current subscription for the type (as Envoy resends it), initially none. */
  names?: string[];
  versionInfo?: string;
  nonce?: string;
  /** NACK: the error_detail message (code 3, INVALID_ARGUMENT, as Envoy sends). */
  errorDetail?: string;
}

export interface AdsResource {
  /** The resource's name (`name`, or `cluster_name` for a ClusterLoadAssignment). */
  name: string;
  typeUrl: string;
  /** The decoded message, in protobuf JSON-object form (snake_case, `@type` on nested Any). */
  body: Record<string, unknown>;
  /** The google.protobuf.Any value bytes as received. */
  value: Uint8Array;
}

export interface AdsResponse {
  versionInfo: string;
  nonce: string;
  typeUrl: string;
  resources: AdsResource[];
  /** control_plane.identifier, or undefined when the response carries no control_plane. */
  controlPlane: string | undefined;
}

export interface AdsSession {
  /** node.id of this stream's node. */
  readonly nodeId: string;
  /** Sends a DiscoveryRequest; the first one of the stream carries the node. */
  request(r: AdsRequest): void;
  /** ACKs a response: its version_info and nonce, with the given (or the current) subscription. */
  ack(resp: AdsResponse, names?: string[]): void;
  /** NACKs a response: the previously accepted version, its nonce and an error_detail. */
  nack(resp: AdsResponse, message: string, previousVersion?: string, names?: string[]): void;
  /** The next response in arrival order; if typeUrl is given, it must be of that type. */
  next(typeUrl?: string, timeoutMs?: number): Promise<AdsResponse>;
  /** Fails if any response arrives (or has arrived unread) within ms. */
  expectNothing(ms?: number): Promise<void>;
  /** The stream's final status; fails if the stream is still open after timeoutMs. */
  ended(timeoutMs?: number): Promise<AdsStatus>;
  /** Every response received so far, in order (read or not). */
  readonly received: readonly AdsResponse[];
  /** The encoded size of every response received so far. */
  readonly bytesReceived: number;
  close(): void;
}

interface RawResponse {
  version_info?: string;
  resources?: { type_url?: string; value?: Uint8Array }[];
  type_url?: string;
  nonce?: string;
  control_plane?: { identifier?: string };
}

const short = (t: string) => t.slice(t.lastIndexOf('.') + 1);

export function describeResponse(r: AdsResponse): string {
  return `${short(r.typeUrl)} v=${r.versionInfo} nonce=${r.nonce} [${r.resources.map((x) => x.name).join(', ')}]`;
}

/** A resource's google.protobuf.Any, decoded into its own message by its type URL. */
export function decodeAny(root: protobuf.Root, any: { type_url?: string; value?: Uint8Array }): AdsResource {
  const typeUrl = any.type_url ?? '';
  const type = root.lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
  const value = any.value ?? new Uint8Array();
  const body = type.toObject(type.decode(value), { longs: String, enums: String, json: true }) as Record<string, unknown>;
  const nameField = typeUrl === CLA ? body.cluster_name : body.name;
  return { name: typeof nameField === 'string' ? nameField : '', typeUrl, body, value };
}

function decodeResponse(root: protobuf.Root, responseType: protobuf.Type, bytes: Buffer): AdsResponse {
  const raw = responseType.toObject(responseType.decode(bytes), { defaults: false }) as RawResponse;
  const resources = (raw.resources ?? []).map((any) => decodeAny(root, any));
  return {
    versionInfo: raw.version_info ?? '',
    nonce: raw.nonce ?? '',
    typeUrl: raw.type_url ?? '',
    resources,
    controlPlane: raw.control_plane ? (raw.control_plane.identifier ?? '') : undefined,
  };
}

/** Opens an ADS stream to 127.0.0.1:port. Nothing is sent until the first request(). */
export async function openAds(port: number, node: AdsNodeOptions, connect: AdsConnectOptions = {}): Promise<AdsSession> {
  const root = await xdsRoot();
  const requestType = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  const responseType = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
  const call = await openXdsCall(port, ADS_PATH, (bytes) => decodeResponse(root, responseType, bytes), describeResponse, connect);

  let first = true;
  const subscriptions = new Map<string, string[]>();

  const request = (r: AdsRequest) => {
    const names = r.names ?? subscriptions.get(r.typeUrl) ?? [];
    subscriptions.set(r.typeUrl, names);
    const msg: Record<string, unknown> = {
      version_info: r.versionInfo ?? '',
      resource_names: names,
      type_url: r.typeUrl,
      response_nonce: r.nonce ?? '',
    };
    if (first) {
      first = false;
      msg.node = nodeMessage(node);
    }
    if (r.errorDetail !== undefined) msg.error_detail = { code: grpc.status.INVALID_ARGUMENT, message: r.errorDetail };
    const err = requestType.verify(msg);
    if (err) throw new Error(`bad DiscoveryRequest: ${err}`);
    call.write(requestType.encode(requestType.fromObject(msg)).finish());
  };

  return {
    nodeId: node.nodeId ?? 'test-envoy',
    request,
    ack(resp, names) {
      request({ typeUrl: resp.typeUrl, versionInfo: resp.versionInfo, nonce: resp.nonce, ...(names ? { names } : {}) });
    },
    nack(resp, message, previousVersion = '', names) {
      request({ typeUrl: resp.typeUrl, versionInfo: previousVersion, nonce: resp.nonce, errorDetail: message, ...(names ? { names } : {}) });
    },
    next: (typeUrl, timeoutMs) => call.next(typeUrl, timeoutMs),
    expectNothing: (ms) => call.expectNothing(ms),
    ended: (timeoutMs) => call.ended(timeoutMs),
    get received() { return call.received; },
    get bytesReceived() { return call.bytesReceived; },
    close: () => call.close(),
  };
}
