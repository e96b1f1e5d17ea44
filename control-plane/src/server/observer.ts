// What the xDS server reports; observe/ turns it into logs, metrics and status.
import type { NackOutcome } from '../cache/snapshot-cache.ts';
import type { NodeInfo } from './node.ts';

export interface StreamRef {
  streamId: number;
  node: NodeInfo;
  group: string;
}

export interface XdsObserver {
  streamOpened(s: StreamRef): void;
  streamClosed(s: StreamRef, reason: string): void;
  streamRejected(nodeId: string, message: string): void;
  responseSent(s: StreamRef, typeUrl: string, version: string, resources: number): void;
  ack(s: StreamRef, typeUrl: string, version: string): void;
  nack(s: StreamRef, typeUrl: string, version: string, message: string, origins: readonly string[], outcome: NackOutcome): void;
  staleNonce(s: StreamRef, typeUrl: string): void;
  unknownType(s: StreamRef, typeUrl: string): void;
}
