// Absence is not deletion, at the protocol level: over a real gRPC stream, an Envoy that reports
// having config (a non-empty version_info in the requests that open a stream, as Envoy sends after
// a reconnect) of a group the cache knows nothing of gets no response at all, so it keeps its
// config; a new Envoy gets the empty configuration; a group held by the pipeline answers no one;
// and only a snapshot set by the pipeline (the empty one too, after a deletion it saw) releases it.
import type protobuf from 'protobufjs';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeResource } from '../../control-plane/src/cache/encode.ts';
import { SnapshotCache, UNKNOWN_GROUP_REASON, type HeldGroup } from '../../control-plane/src/cache/snapshot-cache.ts';
import { buildSnapshot, EMPTY_SNAPSHOT, type Snapshot } from '../../control-plane/src/cache/snapshot.ts';
import { startXdsServer, type XdsServer } from '../../control-plane/src/server/grpc-server.ts';
import type { XdsObserver } from '../../control-plane/src/server/observer.ts';
import { xdsRoot } from '../../control-plane/src/xds/protos.ts';
import { CLUSTER, LISTENER } from '../../control-plane/src/xds/type-urls.ts';
import { openAds, type AdsSession } from '../helpers/ads-client.ts';

const QUIET_MS = 300;
const silent: XdsObserver = { streamOpened() {}, streamClosed() {}, streamRefused() {}, responseSent() {}, ack() {}, nack() {}, staleNonce() {}, unknownType() {} };

let root: protobuf.Root;
let cache: SnapshotCache;
let server: XdsServer;
let heldReports: (readonly HeldGroup[])[];
const sessions: AdsSession[] = [];

function snapshot(clusterName: string): Snapshot {
  return buildSnapshot([encodeResource(root, {
    type: CLUSTER, name: clusterName, refs: { clusters: [], routes: [], secrets: [] },
    body: { name: clusterName, connect_timeout: { seconds: 1 }, type: 'STRICT_DNS', load_assignment: { cluster_name: clusterName, endpoints: [] } },
  })], ['test']);
}

async function open(nodeId: string, ambassador: string, environment?: string): Promise<AdsSession> {
  const s = await openAds(server.port, { nodeId, cluster: ambassador, namespace: 'shop', ...(environment ? { metadata: { environment } } : {}) });
  sessions.push(s);
  return s;
}

/** The requests an Envoy sends on a new stream, with the versions it has (none for a new Envoy). */
function reconnect(s: AdsSession, cds = '', lds = ''): void {
  s.request({ typeUrl: CLUSTER, names: [], versionInfo: cds });
  s.request({ typeUrl: LISTENER, names: [], versionInfo: lds });
}

beforeAll(async () => {
  root = await xdsRoot();
});

beforeEach(async () => {
  heldReports = [];
  cache = new SnapshotCache({ onHeldChange: (h) => heldReports.push(h) });
  server = await startXdsServer({ root, cache, observer: silent, controlPlaneId: 'held-test', address: '127.0.0.1', port: 0, auth: { kind: 'insecure' } });
});

afterEach(async () => {
  for (const s of sessions.splice(0)) s.close();
  await server.stop();
});

describe('a group the cache knows nothing of', () => {
  it('holds an Envoy that reports config, answers a new one with the empty config, and releases the held one on a real snapshot', async () => {
    cache.markSynced();
    const had = await open('had-config', 'orders');
    reconnect(had, 'v-from-before', 'v-from-before');
    const fresh = await open('new-envoy', 'orders');
    reconnect(fresh);

    const empty = await fresh.next(CLUSTER);
    expect(empty.resources).toEqual([]);
    expect(empty.versionInfo).toBe(EMPTY_SNAPSHOT.types[CLUSTER].version);
    await had.expectNothing(QUIET_MS);
    expect(cache.held()).toEqual([{ group: 'shop/orders', reason: UNKNOWN_GROUP_REASON, nodes: ['had-config'] }]);
    expect(heldReports.at(-1)).toEqual(cache.held());

    // An Envoy whose versions are the empty configuration's has nothing to lose: it is answered.
    const wasEmpty = await open('was-empty', 'orders');
    reconnect(wasEmpty, EMPTY_SNAPSHOT.types[CLUSTER].version, EMPTY_SNAPSHOT.types[LISTENER].version);
    expect((await wasEmpty.next(CLUSTER)).resources).toEqual([]);

    cache.set('shop/orders', snapshot('real'));
    const released = await had.next(CLUSTER);
    expect(released.resources.map((r) => r.name)).toEqual(['real']);
    expect(cache.held()).toEqual([]);
    expect(heldReports.at(-1)).toEqual([]);
  });

  it('holds an environment Envoy the same way, and forgets a held Envoy that disconnects', async () => {
    cache.markSynced();
    const s = await open('staging-0', 'orders', 'staging');
    reconnect(s, 'old', 'old');
    await s.expectNothing(QUIET_MS);
    expect(cache.held()).toEqual([{ group: 'shop/orders@staging', reason: UNKNOWN_GROUP_REASON, nodes: ['staging-0'] }]);
    s.close();
    await vi.waitFor(() => expect(cache.held()).toEqual([]), { timeout: 2000, interval: 10 });
  });

  it('answers an Envoy that reports config once a deletion was seen (the empty snapshot set by the pipeline)', async () => {
    cache.markSynced();
    cache.set('shop/orders', snapshot('real'));
    cache.set('shop/orders', EMPTY_SNAPSHOT);
    const s = await open('had-config', 'orders');
    reconnect(s, 'v-from-before', 'v-from-before');
    expect((await s.next(CLUSTER)).resources).toEqual([]);
    expect(cache.held()).toEqual([]);
  });

  it('reports nothing as held before the first sync (nothing is answered then anyway)', async () => {
    const s = await open('early', 'orders');
    reconnect(s, 'old', 'old');
    await s.expectNothing(QUIET_MS);
    expect(cache.held()).toEqual([]);
    cache.markSynced();
    expect(cache.held()).toEqual([{ group: 'shop/orders', reason: UNKNOWN_GROUP_REASON, nodes: ['early'] }]);
  });
});

describe('a group held by the pipeline (its ConfigMap was never valid)', () => {
  it('answers no Envoy, not even a new one nor one of its environments, until a snapshot is set', async () => {
    cache.markSynced();
    cache.hold('shop/orders', 'ConfigMap shop/orders is invalid');
    const fresh = await open('new-envoy', 'orders');
    reconnect(fresh);
    const staging = await open('staging-0', 'orders', 'staging');
    reconnect(staging);
    await fresh.expectNothing(QUIET_MS);
    await staging.expectNothing(0);
    expect(cache.held()).toEqual([{ group: 'shop/orders', reason: 'ConfigMap shop/orders is invalid', nodes: ['new-envoy', 'staging-0'] }]);
    expect(cache.served('shop/orders')).toBeUndefined();

    cache.set('shop/orders', snapshot('fixed'));
    expect((await fresh.next(CLUSTER)).resources.map((r) => r.name)).toEqual(['fixed']);
    expect((await staging.next(CLUSTER)).resources.map((r) => r.name)).toEqual(['fixed']);
    expect(cache.held()).toEqual([]);
  });

  it('after remove(), is unknown again: a new Envoy gets the empty config', async () => {
    cache.markSynced();
    cache.hold('shop/orders', 'invalid');
    cache.remove('shop/orders');
    const fresh = await open('new-envoy', 'orders');
    reconnect(fresh);
    expect((await fresh.next(CLUSTER)).resources).toEqual([]);
  });
});
