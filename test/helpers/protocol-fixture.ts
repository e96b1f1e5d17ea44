// What the protocol tests (test/unit/ads-protocol.test.ts for State-of-the-World,
// test/unit/delta-protocol.test.ts for Delta) share: resources written by hand (so that every test
// controls exactly what changes between snapshots), a recording observer, and a real xDS server on
// 127.0.0.1 with a port the kernel picks. Most tests share one synced server, each in its own
// namespace (so its own node groups); tests about start-up state get a server of their own.
import type protobuf from 'protobufjs';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { consistencyProblems } from '../../control-plane/src/cache/consistency.ts';
import { encodeResource } from '../../control-plane/src/cache/encode.ts';
import { SnapshotCache, type NackOutcome } from '../../control-plane/src/cache/snapshot-cache.ts';
import { buildSnapshot, type Snapshot } from '../../control-plane/src/cache/snapshot.ts';
import { startXdsServer, type XdsLimits, type XdsServer, type XdsServerOptions } from '../../control-plane/src/server/grpc-server.ts';
import type { DeltaChange, SentResource, XdsObserver } from '../../control-plane/src/server/observer.ts';
import { groupKey, type GroupId } from '../../control-plane/src/translate/names.ts';
import type { JsonObject, XdsResource } from '../../control-plane/src/translate/types.ts';
import { xdsRoot } from '../../control-plane/src/xds/protos.ts';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET, type TypeUrl } from '../../control-plane/src/xds/type-urls.ts';
import { openAds, type AdsSession } from './ads-client.ts';
import { openDelta, type DeltaSession } from './delta-client.ts';
import type { AdsConnectOptions, AdsNodeOptions } from './xds-call.ts';

export const CONTROL_PLANE_ID = 'xds-ambassador@protocol-test';
/** How long to wait for the server to have processed a request (an ACK or NACK gets no response:
 * the observer's record is the only sign). Polled, so it costs nothing when the server is quick. */
export const PROCESSED = { timeout: 5000, interval: 10 };

let root: protobuf.Root | undefined;
/** Envoy's API, loaded by protocolServer()'s beforeAll. */
export function xds(): protobuf.Root {
  if (!root) throw new Error('call protocolServer() at the top of the test file first');
  return root;
}

// ---------------------------------------------------------------------------------------------
// Resources.

const ADS_SOURCE: JsonObject = { ads: {}, resource_api_version: 'V3' };
const NO_REFS = { clusters: [], routes: [], secrets: [] };

export function edsCluster(name: string, connectTimeoutS = 5): XdsResource {
  return {
    type: CLUSTER, name, edsName: name, refs: NO_REFS,
    body: { name, connect_timeout: { seconds: connectTimeoutS }, type: 'EDS', eds_cluster_config: { eds_config: ADS_SOURCE } },
  };
}

export function dnsCluster(name: string, host: string, connectTimeoutS = 5): XdsResource {
  return {
    type: CLUSTER, name, refs: NO_REFS,
    body: {
      name, connect_timeout: { seconds: connectTimeoutS }, type: 'STRICT_DNS',
      load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: 443 } } } }] }] },
    },
  };
}

export function cla(name: string, ip: string, port = 80): XdsResource {
  return {
    type: ENDPOINT, name, refs: NO_REFS,
    body: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: ip, port_value: port } } } }] }] },
  };
}

export function listener(name: string, port: number, routeName = name): XdsResource {
  return {
    type: LISTENER, name, refs: { clusters: [], routes: [routeName], secrets: [] },
    body: {
      name,
      address: { socket_address: { address: '127.0.0.1', port_value: port } },
      filter_chains: [{
        filters: [{
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
            stat_prefix: name,
            rds: { route_config_name: routeName, config_source: ADS_SOURCE },
            http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
          },
        }],
      }],
    },
  };
}

export function routeConfig(name: string, cluster: string, timeoutS?: number): XdsResource {
  const route: JsonObject = { cluster };
  if (timeoutS !== undefined) route.timeout = { seconds: timeoutS };
  return {
    type: ROUTE, name, refs: { clusters: [cluster], routes: [], secrets: [] },
    body: { name, virtual_hosts: [{ name, domains: ['*'], routes: [{ match: { prefix: '/' }, route }] }] },
  };
}

/** A generic SDS secret (the value is test data, not a real credential). */
export function secret(name: string, value: string): XdsResource {
  return { type: SECRET, name, refs: NO_REFS, body: { name, generic_secret: { secret: { inline_string: value } } } };
}

export function snap(...resources: XdsResource[]): Snapshot {
  const s = buildSnapshot(resources.map((r) => encodeResource(xds(), r)), ['test']);
  expect(consistencyProblems(s), 'the test snapshot itself is consistent').toEqual([]);
  return s;
}

/** Listener "web" → route "web" → EDS cluster "a" (10.0.0.1), plus a STRICT_DNS cluster "dns". */
export function baseResources(o: { ip?: string; dnsTimeoutS?: number; port?: number; routeTimeoutS?: number } = {}): XdsResource[] {
  return [
    edsCluster('a'), cla('a', o.ip ?? '10.0.0.1'),
    dnsCluster('dns', 'example.com', o.dnsTimeoutS),
    listener('web', o.port ?? 8000),
    routeConfig('web', 'a', o.routeTimeoutS),
  ];
}

/** The resources of a snapshot type, decoded the way the clients decode what they receive. */
export function snapshotBodies(s: Snapshot, type: TypeUrl): Record<string, unknown>[] {
  const any = xds().lookupType('google.protobuf.Any');
  const t = xds().lookupType(type.slice(type.lastIndexOf('/') + 1));
  return [...s.types[type].resources.values()].map((r) => {
    const value = (any.toObject(any.decode(r.any)) as { value: Uint8Array }).value;
    return t.toObject(t.decode(value), { longs: String, enums: String, json: true }) as Record<string, unknown>;
  });
}

export function at(obj: unknown, ...path: (string | number)[]): unknown {
  let v = obj;
  for (const p of path) v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[p] : undefined;
  return v;
}

// ---------------------------------------------------------------------------------------------
// A recording observer.

export type ObserverEvent =
  | { kind: 'opened' | 'closed'; node: string; group: string; protocol: 'sotw' | 'delta' }
  | { kind: 'refused'; node: string; reason: string; message: string }
  | { kind: 'sent'; node: string; type: string; version: string; resources: readonly SentResource[]; delta?: DeltaChange }
  | { kind: 'ack'; node: string; type: string; version: string }
  | { kind: 'nack'; node: string; type: string; version: string; message: string; outcome: NackOutcome }
  | { kind: 'stale' | 'unknown'; node: string; type: string };

function recordingObserver(): XdsObserver & { events: ObserverEvent[] } {
  const events: ObserverEvent[] = [];
  return {
    events,
    streamOpened: (s) => { events.push({ kind: 'opened', node: s.node.id, group: s.group, protocol: s.protocol }); },
    streamClosed: (s) => { events.push({ kind: 'closed', node: s.node.id, group: s.group, protocol: s.protocol }); },
    streamRefused: (r) => { events.push({ kind: 'refused', node: r.nodeId ?? '', reason: r.reason, message: r.message }); },
    // Names and versions only: the bytes (for CSDS) are checked where a client receives them.
    responseSent: (s, type, version, resources, delta) => {
      const names = (list: readonly SentResource[]) => list.map(({ name, version: v }) => ({ name, version: v }));
      events.push({ kind: 'sent', node: s.node.id, type, version, resources: names(resources), ...(delta ? { delta: { sent: names(delta.sent), removed: delta.removed } } : {}) });
    },
    ack: (s, type, version) => { events.push({ kind: 'ack', node: s.node.id, type, version }); },
    nack: (s, type, version, message, _origins, outcome) => { events.push({ kind: 'nack', node: s.node.id, type, version, message, outcome }); },
    staleNonce: (s, type) => { events.push({ kind: 'stale', node: s.node.id, type }); },
    unknownType: (s, type) => { events.push({ kind: 'unknown', node: s.node.id, type }); },
  };
}

// ---------------------------------------------------------------------------------------------
// The server.

export interface Fixture {
  cache: SnapshotCache;
  server: XdsServer;
  /** This test's namespace; its default group is <ns>/orders. */
  ns: string;
  group: GroupId;
  key: string;
  /** The default node: <ns>-orders-0 of ambassador "orders" in namespace <ns>. */
  node: AdsNodeOptions;
  set(snapshot: Snapshot, group?: GroupId): void;
  /** What the observer recorded about this test's nodes (every node id starts with "<ns>-"). */
  events(): ObserverEvent[];
  open(node?: Partial<AdsNodeOptions>, connect?: AdsConnectOptions): Promise<AdsSession>;
  openDelta(node?: Partial<AdsNodeOptions>, connect?: AdsConnectOptions): Promise<DeltaSession>;
  /** Runs `cleanup` after the test, pass or fail. */
  defer(cleanup: () => Promise<void> | void): void;
}

export interface FixtureOptions {
  /** A server of its own (else the file's shared one). */
  ownServer?: boolean;
  /** Whether its cache is synced at start (default true). */
  synced?: boolean;
  /** Its authentication and TLS (default: insecure, plaintext). */
  security?: Pick<XdsServerOptions, 'auth' | 'tls'>;
  limits?: Partial<XdsLimits>;
  /** Its cache (default: a new one). */
  cache?: SnapshotCache;
}

interface Running { cache: SnapshotCache; server: XdsServer; observer: ReturnType<typeof recordingObserver> }

async function startServer(o: FixtureOptions): Promise<Running> {
  const cache = o.cache ?? new SnapshotCache();
  if (o.synced ?? true) cache.markSynced();
  const observer = recordingObserver();
  const server = await startXdsServer({
    root: xds(), cache, observer, controlPlaneId: CONTROL_PLANE_ID, address: '127.0.0.1', port: 0,
    // The protocol itself, without authentication unless a test asks for it.
    ...(o.security ?? { auth: { kind: 'insecure' } }),
    ...(o.limits ? { limits: o.limits } : {}),
  });
  return { cache, server, observer };
}

/** Registers the file's hooks (Envoy's API loaded, a shared server, cleanups after each test) and
 * returns what starts a fixture. */
export function protocolServer(): (o?: FixtureOptions) => Promise<Fixture> {
  let shared: Running | undefined;
  const cleanups: (() => Promise<void> | void)[] = [];
  let testNo = 0;
  beforeAll(async () => {
    root = await xdsRoot();
    shared = await startServer({});
  });
  afterAll(() => shared?.server.stop());
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  return async (o = {}) => {
    let run = shared;
    if (!run || o.ownServer) {
      const own = await startServer(o);
      cleanups.push(() => own.server.stop());
      run = own;
    }
    const r = run;
    const ns = `t${++testNo}`;
    const group: GroupId = { namespace: ns, ambassador: 'orders' };
    const node: AdsNodeOptions = { nodeId: `${ns}-orders-0`, cluster: 'orders', namespace: ns };
    return {
      cache: r.cache, server: r.server, ns, group, key: groupKey(group), node,
      set: (snapshot, g = group) => r.cache.set(groupKey(g), snapshot),
      events: () => r.observer.events.filter((e) => e.node.startsWith(`${ns}-`)),
      defer: (cleanup) => { cleanups.push(cleanup); },
      async open(n = {}, connect = {}) {
        const s = await openAds(r.server.port, { ...node, ...n }, connect);
        cleanups.push(() => s.close());
        return s;
      },
      async openDelta(n = {}, connect = {}) {
        const s = await openDelta(r.server.port, { ...node, ...n }, connect);
        cleanups.push(() => s.close());
        return s;
      },
    };
  };
}
