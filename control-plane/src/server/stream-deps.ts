// What an ADS stream state machine (State-of-the-World or Delta) is given by the gRPC service.
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import type { Verdict } from './auth/authorize.ts';
import type { Identity } from './auth/identity.ts';
import type { XdsObserver } from './observer.ts';

export interface StreamDeps {
  cache: SnapshotCache;
  observer: XdsObserver;
  controlPlaneId: string;
  /** Who the client proved to be; every node it claims is checked against it. */
  identity: Identity;
  /** There is room for a response (the previous one drained); resume() is called when there is again. */
  ready(): boolean;
  send(bytes: Uint8Array): void;
  /** Ends the stream, refused for this reason. */
  refuse(verdict: Extract<Verdict, { ok: false }>): void;
  /** Ends the stream with RESOURCE_EXHAUSTED: the client asked for more than a stream may hold. */
  fail(message: string): void;
}
