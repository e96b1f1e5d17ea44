// The AggregatedDiscoveryService over @grpc/grpc-js, with raw-bytes serializers so that responses
// are spliced from pre-encoded resources.
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import { decodeDiscoveryRequest } from './discovery-messages.ts';
import type { XdsObserver } from './observer.ts';
import { SotwStream } from './sotw-stream.ts';

const identity = (b: Buffer): Buffer => b;
const toBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

export const ADS_SERVICE: grpc.ServiceDefinition = {
  StreamAggregatedResources: {
    path: '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
    requestStream: true,
    responseStream: true,
    requestSerialize: toBuffer,
    requestDeserialize: identity,
    responseSerialize: toBuffer,
    responseDeserialize: identity,
  },
};

export interface AdsDeps {
  root: protobuf.Root;
  cache: SnapshotCache;
  observer: XdsObserver;
  controlPlaneId: string;
}

export function adsImplementation(deps: AdsDeps): { impl: grpc.UntypedServiceImplementation; closeAll(): void } {
  const requestType = deps.root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  const open = new Set<grpc.ServerDuplexStream<Buffer, Uint8Array>>();
  let nextId = 0;

  const streamAggregatedResources = (call: grpc.ServerDuplexStream<Buffer, Uint8Array>) => {
    open.add(call);
    let ended = false;
    const stream = new SotwStream(++nextId, {
      cache: deps.cache,
      observer: deps.observer,
      controlPlaneId: deps.controlPlaneId,
      send: (bytes) => { if (!ended) call.write(bytes); },
      reject: (message) => finish(`rejected: ${message}`, { code: grpc.status.INVALID_ARGUMENT, details: message }),
    });
    const finish = (reason: string, status?: { code: grpc.status; details: string }) => {
      if (ended) return;
      ended = true;
      open.delete(call);
      stream.close(reason);
      if (status) call.emit('error', Object.assign(new Error(status.details), status));
      else call.end();
    };
    call.on('data', (bytes: Buffer) => {
      if (ended) return;
      let req;
      try {
        req = decodeDiscoveryRequest(requestType, bytes);
      } catch (e) {
        return finish('undecodable request', { code: grpc.status.INVALID_ARGUMENT, details: `cannot decode DiscoveryRequest: ${(e as Error).message}` });
      }
      stream.handle(req);
    });
    call.on('end', () => finish('client closed the stream'));
    call.on('error', (e) => finish(`stream error: ${e.message}`));
    call.on('cancelled', () => finish('cancelled'));
  };

  return {
    impl: { StreamAggregatedResources: streamAggregatedResources },
    closeAll: () => { for (const c of [...open]) c.end(); },
  };
}
