// The gRPC server: ADS, grpc.health.v1 and server reflection (so grpcurl needs no proto files).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import type protobuf from 'protobufjs';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import type { CertificateFiles } from '../tls/certificate-files.ts';
import { protoIncludeDirs } from '../xds/protos.ts';
import { ADS_SERVICE, adsImplementation } from './ads-service.ts';
import { authenticator, type AuthMode } from './auth/authenticator.ts';
import { tlsServerCredentials } from './tls-credentials.ts';
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
  /** The serving certificate; absent only with auth mode "insecure" (plaintext). */
  tls?: CertificateFiles;
  auth: AuthMode;
  limits?: Partial<XdsLimits>;
}

export interface XdsLimits {
  /** A connection with no open stream (or one that never finishes its TLS handshake) is closed after this. */
  idleTimeoutMs: number;
  /** A response the client has not read after this closes its stream (RESOURCE_EXHAUSTED). */
  sendTimeoutMs: number;
}

export const DEFAULT_LIMITS: XdsLimits = { idleTimeoutMs: 60_000, sendTimeoutMs: 30_000 };
/** Envoy opens one ADS stream per connection; grpcurl one at a time. */
const MAX_STREAMS_PER_CONNECTION = 32;

export interface XdsServer {
  port: number;
  setServing(serving: boolean): void;
  stop(): Promise<void>;
}

export async function startXdsServer(o: XdsServerOptions): Promise<XdsServer> {
  const limits = { ...DEFAULT_LIMITS, ...o.limits };
  if ((o.tls === undefined) !== (o.auth.kind === 'insecure')) throw new Error('the xDS port is plaintext exactly when authentication is off (--insecure)');
  if (o.auth.kind === 'certificate' && !o.tls?.current().ca) throw new Error('client certificate authentication needs the client CA (--client-ca)');
  const server = new grpc.Server({
    // Envoy keeps its xDS connection alive with HTTP/2 pings; answer them, and detect dead peers.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    // Also covers a connection that never sends the HTTP/2 preface (its session starts idle); one
    // that never finishes the TLS handshake is closed by the handshake timeout (same length).
    'grpc.max_connection_idle_ms': limits.idleTimeoutMs,
    'grpc.max_concurrent_streams': MAX_STREAMS_PER_CONNECTION,
  });
  const ads = adsImplementation({
    root: o.root, cache: o.cache, observer: o.observer, controlPlaneId: o.controlPlaneId,
    authenticate: authenticator(o.auth), sendTimeoutMs: limits.sendTimeoutMs,
  });
  server.addService(ADS_SERVICE, ads.impl);

  const health = new HealthImplementation({ '': 'NOT_SERVING', [ADS_SERVICE_NAME]: 'NOT_SERVING' });
  health.addToServer(server);

  const reflected = protoLoader.loadSync(['envoy/service/discovery/v3/ads.proto', healthProtoPath], {
    includeDirs: protoIncludeDirs(),
    keepCase: true,
  });
  new ReflectionService(reflectableDescriptors(reflected)).addToServer(server);

  const host = o.address.includes(':') ? `[${o.address}]` : o.address;
  const credentials = o.tls
    ? tlsServerCredentials({ files: o.tls, requireClientCertificate: o.auth.kind === 'certificate', handshakeTimeoutMs: limits.idleTimeoutMs })
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${o.port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))));

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
