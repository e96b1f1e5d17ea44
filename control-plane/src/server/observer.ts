// What the xDS server reports; observe/ turns it into logs, metrics and status.
import type { NackOutcome } from '../cache/snapshot-cache.ts';
import type { RefusalReason } from './auth/identity.ts';
import type { NodeInfo } from './node.ts';

export interface StreamRef {
  streamId: number;
  node: NodeInfo;
  group: string;
  /** Who the client proved to be, e.g. "shop/orders (certificate)". */
  client: string;
}

export interface XdsObserver {
  streamOpened(s: StreamRef): void;
  streamClosed(s: StreamRef, reason: string): void;
  /** A stream was refused (unauthenticated, not allowed, or a malformed node) before any response. */
  streamRefused(r: Refusal): void;
  /** A response went out: its version (SotW version_info, or Delta's system_version_info) and
   * each resource in it with its own version (the content hash), for status (CSDS) and logs.
   * A State-of-the-World response is the whole type: `removed` is undefined. A Delta response is a
   * change: `removed` (possibly empty) lists the names it deletes, and the Envoy keeps the
   * resources it had that are in neither list. */
  responseSent(s: StreamRef, typeUrl: string, version: string, resources: readonly SentResource[], removed?: readonly string[]): void;
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
}
