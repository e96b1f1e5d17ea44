// A real Delta ADS (incremental xDS) client for tests: one DeltaAggregatedResources stream over a
// real socket, speaking DeltaDiscoveryRequest / DeltaDiscoveryResponse as an Envoy would. Every
// response is decoded, each resource with its name, version and decoded message.
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { xdsRoot } from '../../control-plane/src/xds/protos.ts';
import { decodeAny, type AdsResource } from './ads-client.ts';
import { nodeMessage, openXdsCall, type AdsConnectOptions, type AdsNodeOptions, type AdsStatus } from './xds-call.ts';

const DELTA_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';

export interface DeltaRequest {
  typeUrl: string;
  subscribe?: string[];
  unsubscribe?: string[];
  /** initial_resource_versions: what the client has (after a reconnect), name → version. */
  initialVersions?: Record<string, string>;
  nonce?: string;
  /** NACK: the error_detail message (code 13, INTERNAL, as Envoy sends). */
  errorDetail?: string;
}

export interface DeltaResource extends AdsResource {
  /** Resource.version: the server's version of this resource. */
  version: string;
  /** Resource.name, which must equal the decoded message's name. */
  wrapperName: string;
}

export interface DeltaResponse {
  systemVersionInfo: string;
  nonce: string;
  typeUrl: string;
  resources: DeltaResource[];
  removed: string[];
  /** control_plane.identifier, or undefined when the response carries no control_plane. */
  controlPlane: string | undefined;
}

export interface DeltaSession {
  readonly nodeId: string;
  /** Sends a DeltaDiscoveryRequest; the first one of the stream carries the node. */
  request(r: DeltaRequest): void;
  /** ACKs a response (its nonce), with optional subscription changes. */
  ack(resp: DeltaResponse, changes?: Omit<DeltaRequest, 'typeUrl' | 'nonce' | 'errorDetail'>): void;
  /** NACKs a response: its nonce and an error_detail. */
  nack(resp: DeltaResponse, message: string): void;
  next(typeUrl?: string, timeoutMs?: number): Promise<DeltaResponse>;
  expectNothing(ms?: number): Promise<void>;
  ended(timeoutMs?: number): Promise<AdsStatus>;
  readonly received: readonly DeltaResponse[];
  readonly bytesReceived: number;
  /** name → version of every resource of the type this client holds, as an Envoy would keep them
   * (resources it subscribed to, or all for a wildcard it subscribed to; what it ACKed only). */
  held(typeUrl: string): Map<string, string>;
  close(): void;
}

interface RawResource { name?: string; version?: string; resource?: { type_url?: string; value?: Uint8Array } }
interface RawDeltaResponse {
  system_version_info?: string;
  resources?: RawResource[];
  type_url?: string;
  nonce?: string;
  removed_resources?: string[];
  control_plane?: { identifier?: string };
}

const short = (t: string) => t.slice(t.lastIndexOf('.') + 1);

export function describeDelta(r: DeltaResponse): string {
  return `${short(r.typeUrl)} v=${r.systemVersionInfo} nonce=${r.nonce} +[${r.resources.map((x) => x.name).join(', ')}] -[${r.removed.join(', ')}]`;
}

function decodeDelta(root: protobuf.Root, responseType: protobuf.Type, bytes: Buffer): DeltaResponse {
  const raw = responseType.toObject(responseType.decode(bytes), { defaults: false }) as RawDeltaResponse;
  return {
    systemVersionInfo: raw.system_version_info ?? '',
    nonce: raw.nonce ?? '',
    typeUrl: raw.type_url ?? '',
    resources: (raw.resources ?? []).map((r) => ({ ...decodeAny(root, r.resource ?? {}), version: r.version ?? '', wrapperName: r.name ?? '' })),
    removed: raw.removed_resources ?? [],
    controlPlane: raw.control_plane ? (raw.control_plane.identifier ?? '') : undefined,
  };
}

/** Opens a Delta ADS stream to 127.0.0.1:port. Nothing is sent until the first request(). */
export async function openDelta(port: number, node: AdsNodeOptions, connect: AdsConnectOptions = {}): Promise<DeltaSession> {
  const root = await xdsRoot();
  const requestType = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  const responseType = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
  const call = await openXdsCall(port, DELTA_PATH, (bytes) => decodeDelta(root, responseType, bytes), describeDelta, connect);

  let first = true;
  // What an Envoy would keep: per type, the wildcard, the names, and the ACKed resources' versions.
  const state = new Map<string, { wildcard: boolean; names: Set<string>; held: Map<string, string>; started: boolean }>();
  const typeState = (t: string) => {
    let s = state.get(t);
    if (!s) state.set(t, (s = { wildcard: false, names: new Set(), held: new Map(), started: false }));
    return s;
  };

  const request = (r: DeltaRequest) => {
    const s = typeState(r.typeUrl);
    const subscribe = r.subscribe ?? [];
    const unsubscribe = r.unsubscribe ?? [];
    if (!s.started && subscribe.length === 0 && unsubscribe.length === 0) s.wildcard = true;
    s.started = true;
    for (const n of subscribe) if (n === '*') s.wildcard = true; else s.names.add(n);
    for (const n of unsubscribe) {
      if (n === '*') s.wildcard = false;
      else if (s.names.delete(n) && !s.wildcard) s.held.delete(n);
    }
    const msg: Record<string, unknown> = {
      type_url: r.typeUrl,
      resource_names_subscribe: subscribe,
      resource_names_unsubscribe: unsubscribe,
      initial_resource_versions: r.initialVersions ?? {},
      response_nonce: r.nonce ?? '',
    };
    for (const [n, v] of Object.entries(r.initialVersions ?? {})) s.held.set(n, v);
    if (first) {
      first = false;
      msg.node = nodeMessage(node);
    }
    if (r.errorDetail !== undefined) msg.error_detail = { code: grpc.status.INTERNAL, message: r.errorDetail };
    const err = requestType.verify(msg);
    if (err) throw new Error(`bad DeltaDiscoveryRequest: ${err}`);
    call.write(requestType.encode(requestType.fromObject(msg)).finish());
  };

  return {
    nodeId: node.nodeId ?? 'test-envoy',
    request,
    ack(resp, changes = {}) {
      const s = typeState(resp.typeUrl);
      for (const r of resp.resources) if (s.wildcard || s.names.has(r.name)) s.held.set(r.name, r.version);
      for (const n of resp.removed) s.held.delete(n);
      request({ typeUrl: resp.typeUrl, nonce: resp.nonce, ...changes });
    },
    nack(resp, message) {
      request({ typeUrl: resp.typeUrl, nonce: resp.nonce, errorDetail: message });
    },
    next: (typeUrl, timeoutMs) => call.next(typeUrl, timeoutMs),
    expectNothing: (ms) => call.expectNothing(ms),
    ended: (timeoutMs) => call.ended(timeoutMs),
    get received() { return call.received; },
    get bytesReceived() { return call.bytesReceived; },
    held: (t) => new Map(state.get(t)?.held ?? []),
    close: () => call.close(),
  };
}
