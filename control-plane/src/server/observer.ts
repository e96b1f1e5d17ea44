// What the xDS server reports; observe/ turns it into logs, metrics and status.
import type { EncodedResource } from '../cache/encode.ts';
import type { NackOutcome } from '../cache/snapshot-cache.ts';
import type { RefusalReason } from './auth/identity.ts';
import type { NodeInfo } from './node.ts';

export interface StreamRef {
  streamId: number;
  node: NodeInfo;
  group: string;
  /** Who the client proved to be, e.g. "shop/orders (certificate)". */
  client: string;
  /** StreamAggregatedResources (State-of-the-World) or DeltaAggregatedResources (incremental). */
  protocol: 'sotw' | 'delta';
}

export interface XdsObserver {
  streamOpened(s: StreamRef): void;
  streamClosed(s: StreamRef, reason: string): void;
  /** A stream was refused (unauthenticated, not allowed, or a malformed node) before any response. */
  streamRefused(r: Refusal): void;
  /** A response went out: its version (SotW version_info, or Delta's system_version_info) and the
   * resources of the type as the Envoy has them once it applies it, each with its own version (the
   * content hash), for status (CSDS) and logs. A State-of-the-World response is exactly that list.
   * A Delta response is a change to what the Envoy had: `delta` says what went on the wire (the
   * resources sent, the names removed; both possibly empty). */
  responseSent(s: StreamRef, typeUrl: string, version: string, resources: readonly SentResource[], delta?: DeltaChange): void;
  ack(s: StreamRef, typeUrl: string, version: string): void;
  nack(s: StreamRef, typeUrl: string, version: string, message: string, origins: readonly string[], outcome: NackOutcome): void;
  staleNonce(s: StreamRef, typeUrl: string): void;
  unknownType(s: StreamRef, typeUrl: string): void;
}

export interface Refusal {
  /** The client's address, as gRPC reports it. */
  peer: string;
  /** The node.id it claimed, when it got that far. */
  nodeId?: string;
  reason: RefusalReason;
  message: string;
}

export interface SentResource {
  name: string;
  version: string;
  /** The resource (an encoded google.protobuf.Any) when it goes on the wire, for CSDS; a Secret's is
   * never kept. */
  any?: Uint8Array;
}

export interface DeltaChange {
  sent: readonly SentResource[];
  removed: readonly string[];
}

/** What observers are told of a resource: made once per encoded resource, not per response. */
const sentResources = new WeakMap<EncodedResource, SentResource>();

export function sentResource(r: EncodedResource): SentResource {
  let s = sentResources.get(r);
  if (!s) sentResources.set(r, (s = { name: r.name, version: r.hash, any: r.any }));
  return s;
}
