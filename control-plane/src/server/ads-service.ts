// The AggregatedDiscoveryService over @grpc/grpc-js, with raw-bytes serializers so that responses
// are spliced from pre-encoded resources: StreamAggregatedResources (State-of-the-World,
// sotw-stream.ts) and DeltaAggregatedResources (incremental, delta-stream.ts), with the same
// stream handling. Every stream is authenticated before any state exists for it: requests that
// arrive meanwhile wait (a few at most), and a refused stream ends before a single resource is sent
// and before any ACK or NACK of it can reach the cache.
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import type { Authenticate } from './auth/authenticator.ts';
import type { AuthResult } from './auth/identity.ts';
import { REFUSAL_STATUS } from './auth/refusal-status.ts';
import { decodeDeltaDiscoveryRequest } from './delta-messages.ts';
import { DeltaStream } from './delta-stream.ts';
import { decodeDiscoveryRequest } from './discovery-messages.ts';
import type { NodeInfo } from './node.ts';
import type { XdsObserver } from './observer.ts';
import { ResponseWriter } from './response-writer.ts';
import { SotwStream } from './sotw-stream.ts';
import type { StreamDeps } from './stream-deps.ts';
import { resetStalledCall } from './stream-reset.ts';

const identity = (b: Buffer): Buffer => b;
const toBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

const rawMethod = (name: string): grpc.MethodDefinition<Buffer, Uint8Array> => ({
  path: `/envoy.service.discovery.v3.AggregatedDiscoveryService/${name}`,
  requestStream: true,
  responseStream: true,
  requestSerialize: toBuffer,
  requestDeserialize: identity,
  responseSerialize: toBuffer,
  responseDeserialize: identity,
});

export const ADS_SERVICE: grpc.ServiceDefinition = {
  StreamAggregatedResources: rawMethod('StreamAggregatedResources'),
  DeltaAggregatedResources: rawMethod('DeltaAggregatedResources'),
};

export interface AdsDeps {
  root: protobuf.Root;
  cache: SnapshotCache;
  observer: XdsObserver;
  controlPlaneId: string;
  authenticate: Authenticate;
  /** How long a response may stay unread before the stream is closed. */
  sendTimeoutMs: number;
}

/** Requests a client may send before its authentication completes (Envoy sends one per type). */
const MAX_EARLY_REQUESTS = 16;


type Refusal = Extract<AuthResult, { ok: false }>;

/** One protocol's requests and state machine. */
interface Protocol<Req extends { node?: NodeInfo }> {
  /** The request message's full name. */
  request: string;
  decode(type: protobuf.Type, bytes: Uint8Array): Req;
  create(id: number, deps: StreamDeps): { handle(req: Req): void; resume(): void; close(reason: string): void };
}

const SOTW: Protocol<ReturnType<typeof decodeDiscoveryRequest>> = {
  request: 'envoy.service.discovery.v3.DiscoveryRequest',
  decode: decodeDiscoveryRequest,
  create: (id, deps) => new SotwStream(id, deps),
};

const DELTA: Protocol<ReturnType<typeof decodeDeltaDiscoveryRequest>> = {
  request: 'envoy.service.discovery.v3.DeltaDiscoveryRequest',
  decode: decodeDeltaDiscoveryRequest,
  create: (id, deps) => new DeltaStream(id, deps),
};

export function adsImplementation(deps: AdsDeps): { impl: grpc.UntypedServiceImplementation; closeAll(): void } {
  const open = new Set<grpc.ServerDuplexStream<Buffer, Uint8Array>>();
  let nextId = 0;

  const serve = <Req extends { node?: NodeInfo }>(protocol: Protocol<Req>) => {
    const requestType = deps.root.lookupType(protocol.request);
    const shortName = protocol.request.slice(protocol.request.lastIndexOf('.') + 1);
    return (call: grpc.ServerDuplexStream<Buffer, Uint8Array>) => {
      open.add(call);
      const peer = call.getPeer();
      let ended = false;
      let stream: ReturnType<Protocol<Req>['create']> | undefined;
      /** node.id of the first request, for the refusal log. */
      let nodeId: string | undefined;
      const early: Buffer[] = [];

      const writer = new ResponseWriter({
        write: (bytes, done) => call.write(bytes, done),
        onDrain: () => stream?.resume(),
        onStalled: (message) => {
          finish(`not reading: ${message}`, { code: grpc.status.RESOURCE_EXHAUSTED, details: message });
          resetStalledCall(call);
        },
        sendTimeoutMs: deps.sendTimeoutMs,
      });
      const finish = (reason: string, status?: { code: grpc.status; details: string }) => {
        if (ended) return;
        ended = true;
        open.delete(call);
        writer.close();
        stream?.close(reason);
        if (status) call.emit('error', Object.assign(new Error(status.details), status));
        else call.end();
      };
      const refuse = (r: Refusal, nodeId?: string) => {
        deps.observer.streamRefused({ peer, ...(nodeId === undefined ? {} : { nodeId }), reason: r.reason, message: r.message });
        finish(`refused: ${r.message}`, { code: REFUSAL_STATUS[r.reason], details: r.message });
      };
      const handle = (bytes: Buffer) => {
        if (ended || !stream) return;
        let req: Req;
        try {
          req = protocol.decode(requestType, bytes);
        } catch (e) {
          return finish('undecodable request', { code: grpc.status.INVALID_ARGUMENT, details: `cannot decode ${shortName}: ${(e as Error).message}` });
        }
        nodeId ??= req.node?.id;
        stream.handle(req);
      };

      call.on('data', (bytes: Buffer) => {
        if (ended) return;
        if (stream) return handle(bytes);
        if (early.length >= MAX_EARLY_REQUESTS) {
          return finish('too many requests before authentication', { code: grpc.status.RESOURCE_EXHAUSTED, details: `more than ${MAX_EARLY_REQUESTS} requests before authentication completed` });
        }
        early.push(bytes);
      });
      call.on('end', () => finish('client closed the stream'));
      call.on('error', (e) => finish(`stream error: ${e.message}`));
      call.on('cancelled', () => finish('cancelled'));

      const authorization = call.metadata.get('authorization')[0];
      const cert = call.getAuthContext().sslPeerCertificate;
      deps.authenticate({
        ...(typeof authorization === 'string' ? { authorization } : {}),
        ...(cert && Object.keys(cert).length > 0 ? { peerCertificate: cert } : {}),
      }).then((result) => {
        if (ended) return;
        if (!result.ok) return refuse(result);
        stream = protocol.create(++nextId, {
          cache: deps.cache,
          observer: deps.observer,
          controlPlaneId: deps.controlPlaneId,
          identity: result.identity,
          ready: () => writer.ready(),
          send: (bytes) => { if (!ended) writer.write(bytes); },
          refuse: (r) => refuse(r, nodeId),
          fail: (message) => finish(message, { code: grpc.status.RESOURCE_EXHAUSTED, details: message }),
        });
        for (const bytes of early.splice(0)) handle(bytes);
      }, (err: unknown) => {
        refuse({ ok: false, reason: 'authenticator_unavailable', message: `authentication failed: ${(err as Error).message}` });
      });
    };
  };

  return {
    impl: { StreamAggregatedResources: serve(SOTW), DeltaAggregatedResources: serve(DELTA) },
    closeAll: () => { for (const c of [...open]) c.end(); },
  };
}
