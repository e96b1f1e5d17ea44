// The gRPC server: ADS, grpc.health.v1, server reflection (so grpcurl needs no proto files), and
// the operator services (CSDS, the admin API), which only operator identities may call.
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import type { SnapshotCache } from '../cache/snapshot-cache.ts';
import type { CertificateFiles } from '../tls/certificate-files.ts';
import { ADS_SERVICE, adsImplementation } from './ads-service.ts';
import { authenticator, type AuthMode } from './auth/authenticator.ts';
import { guarded, operatorCheck } from './auth/operator.ts';
import { CSDS_SERVICE, csdsImplementation } from './status/csds-service.ts';
import { ClientStatusRegistry } from './status/client-status.ts';
import { fanOut } from './observer-fanout.ts';
import { tlsServerCredentials } from './tls-credentials.ts';
import type { XdsObserver } from './observer.ts';
import { addLazyReflection } from './lazy-reflection.ts';
import { HealthService } from './health-service.ts';

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
  /** Identities ("namespace/serviceAccount") that may call the operator services; default none
   * (with auth "insecure": loopback callers). */
  operators?: readonly string[];
  /** More operator services (the admin API), with their definitions for reflection. */
  operatorServices?: readonly OperatorService[];
}

export interface OperatorService {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  /** Its .proto files, for reflection. */
  protos: protobuf.Root;
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
  /** What every connected Envoy has (what CSDS reports). */
  clientStatus: ClientStatusRegistry;
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
    // Nothing reads channelz; its per-connection and per-message bookkeeping was a tenth of the
    // server's JavaScript time while a thousand Envoys connected.
    'grpc.enable_channelz': 0,
  });
  const clientStatus = new ClientStatusRegistry();
  const ads = adsImplementation({
    root: o.root, cache: o.cache, observer: fanOut(o.observer, clientStatus), controlPlaneId: o.controlPlaneId,
    authenticate: authenticator(o.auth), sendTimeoutMs: limits.sendTimeoutMs,
  });
  server.addService(ADS_SERVICE, ads.impl);
  const operator = operatorCheck(authenticator(o.auth), o.auth.kind === 'insecure', o.operators ?? []);
  server.addService(CSDS_SERVICE, guarded(CSDS_SERVICE, csdsImplementation(o.root, clientStatus), operator));
  for (const s of o.operatorServices ?? []) server.addService(s.definition, guarded(s.definition, s.implementation, operator));

  const health = new HealthService({ '': 'NOT_SERVING', [ADS_SERVICE_NAME]: 'NOT_SERVING' });
  health.addToServer(server);

  // Every type of the Envoy API the server uses, so that grpcurl can also print the resources CSDS
  // returns (their google.protobuf.Any): described from the root already loaded (parsing it all
  // again with proto-loader took about 1 s). It goes first: its google.protobuf is the complete one.
  addLazyReflection(server, () => [o.root, health.root, ...(o.operatorServices ?? []).map((s) => s.protos)]);

  const host = o.address.includes(':') ? `[${o.address}]` : o.address;
  const credentials = o.tls
    ? tlsServerCredentials({ files: o.tls, requireClientCertificate: o.auth.kind === 'certificate', handshakeTimeoutMs: limits.idleTimeoutMs })
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${o.port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))));

  return {
    port,
    clientStatus,
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
