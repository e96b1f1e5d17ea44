// The gRPC server: ADS, grpc.health.v1 and server reflection (so grpcurl needs no proto files).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import type protobuf from 'protobufjs';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import { protoIncludeDirs } from '../xds/protos.ts';
import { ADS_SERVICE, adsImplementation } from './ads-service.ts';
import type { XdsObserver } from './observer.ts';
import { reflectableDescriptors } from './reflection-descriptors.ts';

export const ADS_SERVICE_NAME = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

export interface XdsServerOptions {
  root: protobuf.Root;
  cache: SnapshotCache;
  observer: XdsObserver;
  controlPlaneId: string;
  address: string;
  port: number;
}

export interface XdsServer {
  port: number;
  setServing(serving: boolean): void;
  stop(): Promise<void>;
}

export async function startXdsServer(o: XdsServerOptions): Promise<XdsServer> {
  const server = new grpc.Server({
    // Envoy keeps its xDS connection alive with HTTP/2 pings; answer them, and detect dead peers.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
  });
  const ads = adsImplementation({ root: o.root, cache: o.cache, observer: o.observer, controlPlaneId: o.controlPlaneId });
  server.addService(ADS_SERVICE, ads.impl);

  const health = new HealthImplementation({ '': 'NOT_SERVING', [ADS_SERVICE_NAME]: 'NOT_SERVING' });
  health.addToServer(server);

  const reflected = protoLoader.loadSync(['envoy/service/discovery/v3/ads.proto', healthProtoPath], {
    includeDirs: protoIncludeDirs(),
    keepCase: true,
  });
  new ReflectionService(reflectableDescriptors(reflected)).addToServer(server);

  const host = o.address.includes(':') ? `[${o.address}]` : o.address;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${o.port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));

  return {
    port,
    setServing(serving) {
      const status = serving ? 'SERVING' : 'NOT_SERVING';
      health.setStatus('', status);
      health.setStatus(ADS_SERVICE_NAME, status);
    },
    stop: () => new Promise<void>((resolve) => {
      ads.closeAll();
      const timer = setTimeout(() => server.forceShutdown(), 2000);
      server.tryShutdown(() => { clearTimeout(timer); resolve(); });
    }),
  };
}
