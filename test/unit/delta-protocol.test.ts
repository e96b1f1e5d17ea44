// The ADS Delta (incremental xDS) protocol as an Envoy sees it, over a real gRPC socket, one test
// per rule: subscribe/unsubscribe deltas, the legacy and the explicit "*" wildcard,
// removed_resources (deletions, names that do not exist, a name unsubscribed under the wildcard),
// per-resource versions (the content hash) and only what changed, nonces and ACK/NACK per response
// (with the cache's rollback), stale nonces whose subscription changes still apply,
// initial_resource_versions after a reconnect and after a control plane restart (nothing resent),
// system_version_info, make-before-break ordering, re-created clusters, node groups shared with
// State-of-the-World streams, authentication, Secret scoping and limits.
// Reference: Envoy's "xDS REST and gRPC protocol" document, "Incremental xDS".
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { SnapshotCache } from '../../control-plane/src/cache/snapshot-cache.ts';
import { EMPTY_SNAPSHOT } from '../../control-plane/src/cache/snapshot.ts';
import { makeXdsCredentials, TRUST_DOMAIN } from '../../control-plane/src/demo/xds-credentials.ts';
import { CertificateFiles } from '../../control-plane/src/tls/certificate-files.ts';
import type { GroupId } from '../../control-plane/src/translate/names.ts';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET, type TypeUrl } from '../../control-plane/src/xds/type-urls.ts';
import type { DeltaResponse, DeltaSession } from '../helpers/delta-client.ts';
import {
  at, baseResources, cla, CONTROL_PLANE_ID, dnsCluster, edsCluster, listener, PROCESSED, protocolServer, routeConfig, secret, snap, snapshotBodies,
  type Fixture,
} from '../helpers/protocol-fixture.ts';

const QUIET_MS = 100;
const startFixture = protocolServer();

const added = (r: DeltaResponse) => r.resources.map((x) => x.name).sort();
const bodiesOf = (r: DeltaResponse) => [...r.resources].sort((x, y) => (x.name < y.name ? -1 : 1)).map((x) => x.body);
const count = (rs: readonly DeltaResponse[]) => rs.reduce((n, r) => n + r.resources.length, 0);

/** The EDS names a CDS response makes an Envoy subscribe to. */
const edsNamesOf = (cds: DeltaResponse) => cds.resources.filter((c) => c.body.type === 'EDS').map((c) => c.name).sort();
/** The RDS names an LDS response makes an Envoy subscribe to. */
const rdsNamesOf = (lds: DeltaResponse) => lds.resources
  .map((l) => at(l.body, 'filter_chains', 0, 'filters', 0, 'typed_config', 'rds', 'route_config_name'))
  .filter((n): n is string => typeof n === 'string').sort();

interface Handshake { cds: DeltaResponse; eds?: DeltaResponse; lds: DeltaResponse; rds?: DeltaResponse }

/** What Envoy does on a new stream: CDS (legacy wildcard), EDS for its EDS clusters, LDS, RDS,
 * ACKing each; then quiet, with every ACK processed by the server. */
async function handshake(s: DeltaSession, f: Pick<Fixture, 'events'>): Promise<Handshake> {
  s.request({ typeUrl: CLUSTER });
  const cds = await s.next(CLUSTER);
  s.ack(cds);
  const h: Handshake = { cds, lds: cds };
  if (edsNamesOf(cds).length > 0) {
    s.request({ typeUrl: ENDPOINT, subscribe: edsNamesOf(cds) });
    h.eds = await s.next(ENDPOINT);
    s.ack(h.eds);
  }
  s.request({ typeUrl: LISTENER });
  h.lds = await s.next(LISTENER);
  s.ack(h.lds);
  if (rdsNamesOf(h.lds).length > 0) {
    s.request({ typeUrl: ROUTE, subscribe: rdsNamesOf(h.lds) });
    h.rds = await s.next(ROUTE);
    s.ack(h.rds);
  }
  await s.expectNothing(QUIET_MS);
  const acked = [h.cds, h.eds, h.lds, h.rds].filter((r): r is DeltaResponse => r !== undefined);
  await vi.waitFor(() => {
    for (const r of acked) expect(f.events()).toContainEqual({ kind: 'ack', node: s.nodeId, type: r.typeUrl, version: r.systemVersionInfo });
  }, PROCESSED);
  return h;
}

/** What an Envoy sends first on a new stream when it already has config: per type, its
 * subscriptions and the versions it holds. */
function reconnect(s: DeltaSession, from: DeltaSession, edsNames: string[], rdsNames: string[]): void {
  const versions = (t: TypeUrl) => Object.fromEntries(from.held(t));
  s.request({ typeUrl: CLUSTER, initialVersions: versions(CLUSTER) });
  s.request({ typeUrl: ENDPOINT, subscribe: edsNames, initialVersions: versions(ENDPOINT) });
  s.request({ typeUrl: LISTENER, initialVersions: versions(LISTENER) });
  s.request({ typeUrl: ROUTE, subscribe: rdsNames, initialVersions: versions(ROUTE) });
}

/** The next n responses, each ACKed; then nothing more. */
async function answered(s: DeltaSession, n: number): Promise<DeltaResponse[]> {
  const out: DeltaResponse[] = [];
  for (let i = 0; i < n; i++) {
    const r = await s.next();
    out.push(r);
    s.ack(r);
  }
  await s.expectNothing(QUIET_MS);
  return out;
}

// =============================================================================================

describe('ADS Delta protocol over a real gRPC stream', () => {
  it('answers the legacy wildcard (a first CDS/LDS request naming nothing) with every cluster and listener, and an empty config with empty responses', async () => {
    const f = await startFixture();
    f.set(snap(...baseResources(), listener('admin', 8001), routeConfig('admin', 'a')));
    const s = await f.openDelta();
    s.request({ typeUrl: CLUSTER });
    const cds = await s.next(CLUSTER);
    expect(added(cds)).toEqual(['a', 'dns']);
    expect(cds.removed).toEqual([]);
    s.ack(cds);
    s.request({ typeUrl: ENDPOINT, subscribe: ['a'] });
    s.ack(await s.next(ENDPOINT));
    s.request({ typeUrl: LISTENER });
    expect(added(await s.next(LISTENER))).toEqual(['admin', 'web']);

    // A group with no config: Envoy waits for a CDS and an LDS response to initialize.
    const lonely = await f.openDelta({ nodeId: `${f.ns}-lonely-0`, cluster: 'nobody' });
    lonely.request({ typeUrl: CLUSTER });
    lonely.request({ typeUrl: LISTENER });
    const emptyCds = await lonely.next(CLUSTER);
    expect(emptyCds.resources).toEqual([]);
    expect(emptyCds.removed).toEqual([]);
    expect(emptyCds.systemVersionInfo).toBe(EMPTY_SNAPSHOT.types[CLUSTER].version);
    await lonely.expectNothing(QUIET_MS); // LDS waits for the CDS ACK
    lonely.ack(emptyCds);
    const emptyLds = await lonely.next(LISTENER);
    expect(emptyLds.resources).toEqual([]);
    lonely.ack(emptyLds);
    await lonely.expectNothing(QUIET_MS);
  });

  it('sends each resource in a Resource named and versioned by its content hash, the snapshot\'s own bytes, with a fresh nonce, system_version_info and control_plane', async () => {
    const f = await startFixture();
    const snapshot = snap(...baseResources());
    f.set(snapshot);
    const s = await f.openDelta();
    const h = await handshake(s, f);
    const responses = [h.cds, h.eds, h.lds, h.rds].filter((r): r is DeltaResponse => r !== undefined);
    expect(responses.map((r) => r.typeUrl)).toEqual([CLUSTER, ENDPOINT, LISTENER, ROUTE]);
    expect(new Set(responses.map((r) => r.nonce)).size).toBe(responses.length);
    for (const r of responses) {
      expect(r.nonce).toMatch(/^[A-Za-z0-9_-]{16}$/);
      expect(r.controlPlane).toBe(CONTROL_PLANE_ID);
      // The Envoy now has the whole type: the version is the snapshot's own, as a SotW version_info.
      expect(r.systemVersionInfo).toBe(snapshot.types[r.typeUrl as TypeUrl].version);
      for (const res of r.resources) {
        const own = snapshot.types[r.typeUrl as TypeUrl].resources.get(res.name);
        expect(res.wrapperName).toBe(res.name);
        expect(res.version).toBe(own?.hash);
      }
    }
    expect(bodiesOf(h.cds)).toEqual(snapshotBodies(snapshot, CLUSTER));
    expect(bodiesOf(h.eds!)).toEqual(snapshotBodies(snapshot, ENDPOINT));
    expect(bodiesOf(h.lds)).toEqual(snapshotBodies(snapshot, LISTENER));
    expect(bodiesOf(h.rds!)).toEqual(snapshotBodies(snapshot, ROUTE));
    // The observer hears the whole type as the Envoy has it, and what went on the wire.
    expect(f.events()).toContainEqual({
      kind: 'sent', node: s.nodeId, type: CLUSTER, version: h.cds.systemVersionInfo,
      resources: [...snapshot.types[CLUSTER].resources.values()].map((r) => ({ name: r.name, version: r.hash })),
      delta: { sent: [...snapshot.types[CLUSTER].resources.values()].map((r) => ({ name: r.name, version: r.hash })), removed: [] },
    });
  });

  it('sends only what changed: nothing for an equal snapshot, one ClusterLoadAssignment for one changed endpoint, a removal for a deleted listener', async () => {
    const f = await startFixture();
    f.set(snap(...baseResources(), edsCluster('b'), cla('b', '10.0.0.2'), listener('admin', 8001), routeConfig('admin', 'b')));
    const s = await f.openDelta();
    await handshake(s, f);

    f.set(snap(...baseResources(), edsCluster('b'), cla('b', '10.0.0.2'), listener('admin', 8001), routeConfig('admin', 'b')));
    await s.expectNothing(QUIET_MS);

    const changed = snap(...baseResources({ ip: '10.0.0.9' }), edsCluster('b'), cla('b', '10.0.0.2'), listener('admin', 8001), routeConfig('admin', 'b'));
    f.set(changed);
    const eds = await s.next(ENDPOINT);
    expect(added(eds)).toEqual(['a']);
    expect(eds.removed).toEqual([]);
    expect(at(eds.resources[0]!.body, 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address', 'address')).toBe('10.0.0.9');
    expect(eds.systemVersionInfo).toBe(changed.types[ENDPOINT].version);
    s.ack(eds);
    await s.expectNothing(QUIET_MS);

    // The admin listener goes; then its cluster, no longer used. As Envoy does, the client drops
    // the watches of what is gone (an unsubscription gets no response) before it ACKs.
    f.set(snap(...baseResources({ ip: '10.0.0.9' })));
    const lds = await s.next(LISTENER);
    expect(lds.resources).toEqual([]);
    expect(lds.removed).toEqual(['admin']);
    s.request({ typeUrl: ROUTE, unsubscribe: ['admin'] });
    s.ack(lds);
    const cds = await s.next(CLUSTER);
    expect(cds.resources).toEqual([]);
    expect(cds.removed).toEqual(['b']);
    s.request({ typeUrl: ENDPOINT, unsubscribe: ['b'] });
    s.ack(cds);
    await s.expectNothing(QUIET_MS);
  });

  it('removes a subscribed resource that is deleted while the client still subscribes to it', async () => {
    const f = await startFixture();
    f.set(snap(edsCluster('a'), cla('a', '10.0.0.1'), edsCluster('b'), cla('b', '10.0.0.2')));
    const s = await f.openDelta();
    s.request({ typeUrl: ENDPOINT, subscribe: ['a', 'b'] });
    s.ack(await s.next(ENDPOINT));
    f.set(snap(edsCluster('a'), cla('a', '10.0.0.1')));
    const gone = await s.next(ENDPOINT);
    expect(gone.resources).toEqual([]);
    expect(gone.removed).toEqual(['b']);
  });

  it('answers named subscriptions by delta: only the names added, again when re-subscribed, nothing for an unsubscription; a name that does not exist is answered in removed_resources, and sent once it appears', async () => {
    const f = await startFixture();
    const two = [edsCluster('a'), cla('a', '10.0.0.1'), edsCluster('b'), cla('b', '10.0.0.2'), listener('web', 8000), routeConfig('web', 'a')];
    f.set(snap(...two));
    const s = await f.openDelta();
    s.request({ typeUrl: ENDPOINT, subscribe: ['a'] });
    const first = await s.next(ENDPOINT);
    expect(added(first)).toEqual(['a']);
    s.ack(first, { subscribe: ['b'] });
    const second = await s.next(ENDPOINT);
    expect(added(second)).toEqual(['b']); // not "a" again
    s.ack(second);
    await s.expectNothing(QUIET_MS);

    // A client may forget a resource and subscribe again: it is sent again, unchanged.
    s.request({ typeUrl: ENDPOINT, subscribe: ['a'] });
    const again = await s.next(ENDPOINT);
    expect(added(again)).toEqual(['a']);
    expect(again.resources[0]!.version).toBe(first.resources[0]!.version);
    s.ack(again);

    s.request({ typeUrl: ENDPOINT, unsubscribe: ['b'] });
    await s.expectNothing(QUIET_MS);
    // A change to an unsubscribed resource is not sent.
    f.set(snap(edsCluster('a'), cla('a', '10.0.0.1'), edsCluster('b'), cla('b', '10.0.0.22'), listener('web', 8000), routeConfig('web', 'a')));
    await s.expectNothing(QUIET_MS);

    s.request({ typeUrl: ENDPOINT, subscribe: ['c'] });
    const absent = await s.next(ENDPOINT);
    expect(absent.resources).toEqual([]);
    expect(absent.removed).toEqual(['c']);
    s.ack(absent);
    await s.expectNothing(QUIET_MS);
    f.set(snap(...two, edsCluster('c'), cla('c', '10.0.0.3')));
    const appeared = await s.next(ENDPOINT);
    expect(added(appeared)).toEqual(['c']);
    s.ack(appeared);
    await s.expectNothing(QUIET_MS);
  });

  it('serves the explicit "*" wildcard beside names: a name unsubscribed under it is answered as covered (sent) or not (removed); unsubscribing "*" leaves the names', async () => {
    const f = await startFixture();
    f.set(snap(edsCluster('a'), cla('a', '10.0.0.1'), dnsCluster('dns', 'example.com')));
    const s = await f.openDelta();
    s.request({ typeUrl: CLUSTER, subscribe: ['*', 'dns', 'ghost'] });
    const all = await s.next(CLUSTER);
    expect(added(all)).toEqual(['a', 'dns']);
    expect(all.removed).toEqual(['ghost']);
    s.ack(all);
    await s.expectNothing(QUIET_MS);

    // "dns" is also covered by the wildcard: the client must be told it still has it.
    s.request({ typeUrl: CLUSTER, unsubscribe: ['dns'] });
    const covered = await s.next(CLUSTER);
    expect(added(covered)).toEqual(['dns']);
    expect(covered.removed).toEqual([]);
    s.ack(covered);
    // "ghost" is not: it is removed.
    s.request({ typeUrl: CLUSTER, unsubscribe: ['ghost'] });
    const notCovered = await s.next(CLUSTER);
    expect(notCovered.resources).toEqual([]);
    expect(notCovered.removed).toEqual(['ghost']);
    s.ack(notCovered);

    // Without the wildcard only named clusters are served (a name subscribed is always sent: the
    // client may have forgotten it); a later cluster is not sent.
    s.request({ typeUrl: CLUSTER, subscribe: ['a'], unsubscribe: ['*'] });
    const named = await s.next(CLUSTER);
    expect(added(named)).toEqual(['a']);
    s.ack(named);
    await s.expectNothing(QUIET_MS);
    f.set(snap(edsCluster('a'), cla('a', '10.0.0.1'), dnsCluster('dns', 'example.com'), dnsCluster('later', 'example.org')));
    await s.expectNothing(QUIET_MS);
    f.set(snap(edsCluster('a', 9), cla('a', '10.0.0.1'), dnsCluster('dns', 'example.com'), dnsCluster('later', 'example.org')));
    const onlyA = await s.next(CLUSTER);
    expect(added(onlyA)).toEqual(['a']);
    s.ack(onlyA);
    // "*" again: everything it does not have.
    s.request({ typeUrl: CLUSTER, subscribe: ['*'] });
    const back = await s.next(CLUSTER);
    expect(added(back)).toEqual(['dns', 'later']);
  });

  it('takes a request echoing the latest nonce as its ACK, or NACK with error_detail; a NACK rolls the group back and resends what the rejected response carried, from the last accepted snapshot', async () => {
    const f = await startFixture();
    const good = snap(...baseResources());
    f.set(good);
    const s = await f.openDelta();
    const h = await handshake(s, f);

    f.set(snap(...baseResources({ dnsTimeoutS: 9 })));
    const bad = await s.next(CLUSTER);
    expect(added(bad)).toEqual(['dns']);
    s.nack(bad, 'cluster dns: connect_timeout rejected');
    const rolled = await s.next(CLUSTER);
    // Envoy may have applied part of what it rejected: the cluster comes again, as accepted before.
    expect(added(rolled)).toEqual(['dns']);
    expect(bodiesOf(rolled)).toEqual(snapshotBodies(good, CLUSTER).filter((c) => c.name === 'dns'));
    expect(rolled.systemVersionInfo).toBe(h.cds.systemVersionInfo);
    s.ack(rolled);
    await s.expectNothing(QUIET_MS);
    expect(f.events()).toContainEqual({ kind: 'nack', node: s.nodeId, type: CLUSTER, version: bad.systemVersionInfo, message: 'cluster dns: connect_timeout rejected', outcome: 'rolled-back' });
    await vi.waitFor(() => expect(f.events()).toContainEqual({ kind: 'ack', node: s.nodeId, type: CLUSTER, version: rolled.systemVersionInfo }), PROCESSED);
    expect(f.cache.status().find((g) => g.group === f.key)?.served).toBe(good.version);
  });

  it('after a NACK with nothing to roll back to, does not push the rejected resource again; a new subscription is still answered, and an edit is pushed', async () => {
    const f = await startFixture();
    f.set(snap(edsCluster('a'), cla('a', '10.0.0.1'), edsCluster('b'), cla('b', '10.0.0.2')));
    const s = await f.openDelta();
    s.request({ typeUrl: ENDPOINT, subscribe: ['a'] });
    const eds = await s.next(ENDPOINT);
    s.nack(eds, 'endpoint a: bad address');
    await s.expectNothing(QUIET_MS);
    await vi.waitFor(() => expect(f.events()).toContainEqual(expect.objectContaining({ kind: 'nack', type: ENDPOINT, outcome: 'kept' })), PROCESSED);

    s.request({ typeUrl: ENDPOINT, subscribe: ['b'] });
    const onlyB = await s.next(ENDPOINT);
    expect(added(onlyB)).toEqual(['b']);
    s.ack(onlyB);
    await s.expectNothing(QUIET_MS);

    f.set(snap(edsCluster('a'), cla('a', '10.0.0.11'), edsCluster('b'), cla('b', '10.0.0.2')));
    const fixed = await s.next(ENDPOINT);
    expect(added(fixed)).toEqual(['a']);
  });

  it('takes a request with a stale nonce for no ACK or NACK, but applies its subscription changes', async () => {
    const f = await startFixture();
    f.set(snap(edsCluster('a'), cla('a', '10.0.0.1'), edsCluster('b'), cla('b', '10.0.0.2')));
    const s = await f.openDelta();
    s.request({ typeUrl: ENDPOINT, subscribe: ['a'] });
    const first = await s.next(ENDPOINT);
    s.ack(first);
    f.set(snap(edsCluster('a'), cla('a', '10.0.0.3'), edsCluster('b'), cla('b', '10.0.0.2')));
    const second = await s.next(ENDPOINT);

    // Answers to the older response: a NACK, and a subscription change. Neither ACKs nor NACKs the
    // latest response, but "b" is subscribed.
    s.request({ typeUrl: ENDPOINT, nonce: first.nonce, errorDetail: 'stale complaint' });
    s.request({ typeUrl: ENDPOINT, nonce: first.nonce, subscribe: ['b'] });
    await s.expectNothing(QUIET_MS); // the latest response still awaits its ACK
    await vi.waitFor(() => expect(f.events().filter((e) => e.kind === 'stale')).toHaveLength(2), PROCESSED);
    expect(f.events().filter((e) => e.kind === 'nack')).toEqual([]);

    s.ack(second);
    const b = await s.next(ENDPOINT);
    expect(added(b)).toEqual(['b']);
    await vi.waitFor(() => expect(f.events()).toContainEqual({ kind: 'ack', node: s.nodeId, type: ENDPOINT, version: second.systemVersionInfo }), PROCESSED);
  });

  it('resends nothing an Envoy reports in initial_resource_versions, after a reconnect and after a control plane restart; after a change, only what changed', async () => {
    const snapshot = () => snap(...baseResources(), edsCluster('b'), cla('b', '10.0.0.2'), listener('admin', 8001), routeConfig('admin', 'b'), secret('token', 'not-a-real-secret'));
    const before = await startFixture({ ownServer: true });
    before.set(snapshot());
    const first = await before.openDelta();
    await handshake(first, before);
    first.request({ typeUrl: SECRET, subscribe: ['token'] });
    first.ack(await first.next(SECRET));
    await first.expectNothing(QUIET_MS);
    const total = count(first.received);
    expect(total).toBe(10);
    first.close();

    // The same config from a new process: a new cache, the snapshot rebuilt from the same input.
    // (The hand-written resources' names do not depend on the namespace: the new fixture's group
    // is served exactly what the old one was.)
    const cache = new SnapshotCache();
    const after = await startFixture({ ownServer: true, cache });
    after.set(snapshot());
    const again = await after.openDelta();
    reconnect(again, first, ['a', 'b'], ['admin', 'web']);
    again.request({ typeUrl: SECRET, subscribe: ['token'], initialVersions: Object.fromEntries(first.held(SECRET)) });
    const answers = await answered(again, 5);
    // One empty answer per type (its ACK confirms what the Envoy has), not one resource.
    expect(count(answers)).toBe(0);
    expect(answers.map((r) => r.typeUrl).sort()).toEqual([CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET].sort());
    expect(answers.every((r) => r.removed.length === 0)).toBe(true);
    const status = () => cache.status().find((g) => g.group === after.key);
    // Every type was ACKed at the served version: the snapshot counts as accepted again.
    await vi.waitFor(() => expect(status()?.lastGood).toBe(status()?.latest), PROCESSED);
    for (const r of answers) expect(r.systemVersionInfo).toBe(cache.latest(after.key)?.types[r.typeUrl as TypeUrl].version);
    // Status (CSDS) hears the whole state the Envoy has, although nothing was sent.
    const sentEvents = () => after.events().filter((e) => e.kind === 'sent');
    expect(sentEvents().map((e) => e.kind === 'sent' && [e.resources.length, e.delta?.sent.length])).toEqual(answers.map((r) => [first.held(r.typeUrl).size, 0]));

    // One endpoint changes: one resource.
    after.set(snap(...baseResources({ ip: '10.0.0.9' }), edsCluster('b'), cla('b', '10.0.0.2'), listener('admin', 8001), routeConfig('admin', 'b'), secret('token', 'not-a-real-secret')));
    const change = await answered(again, 1);
    expect(change.map((r) => [r.typeUrl, added(r), r.removed])).toEqual([[ENDPOINT, ['a'], []]]);
    expect(sentEvents().at(-1)).toMatchObject({ type: ENDPOINT, delta: { sent: [{ name: 'a' }], removed: [] } });
  });

  it('holds an Envoy that reports initial_resource_versions of a group the cache knows nothing of; answers one that reports nothing', async () => {
    const f = await startFixture({ ownServer: true });
    const had = await f.openDelta({ nodeId: `${f.ns}-had-0` });
    had.request({ typeUrl: CLUSTER, initialVersions: { 'orders/old': 'abcdef0123456789' } });
    had.request({ typeUrl: LISTENER, initialVersions: { 'orders/web': '0123456789abcdef' } });
    const fresh = await f.openDelta({ nodeId: `${f.ns}-new-0` });
    fresh.request({ typeUrl: CLUSTER });
    expect((await fresh.next(CLUSTER)).resources).toEqual([]);
    await had.expectNothing(QUIET_MS);
    expect(f.cache.held()).toEqual([expect.objectContaining({ group: f.key, nodes: [`${f.ns}-had-0`] })]);

    f.set(snap(...baseResources()));
    const cds = await had.next(CLUSTER);
    expect(added(cds)).toEqual(['a', 'dns']);
    // What it reported and the snapshot lacks is removed (once its routes no longer use it).
    expect(cds.removed).toEqual(['orders/old']);
  });

  describe('make before break', () => {
    it('on a new stream: CDS first, EDS once subscribed, LDS after the CDS and EDS ACKs, RDS after the LDS ACK', async () => {
      const f = await startFixture();
      f.set(snap(...baseResources()));
      const s = await f.openDelta();
      s.request({ typeUrl: CLUSTER });
      s.request({ typeUrl: LISTENER });
      const cds = await s.next(CLUSTER);
      await s.expectNothing(QUIET_MS);
      s.ack(cds);
      await s.expectNothing(QUIET_MS); // the accepted EDS cluster has no endpoints yet
      s.request({ typeUrl: ENDPOINT, subscribe: ['a'] });
      const eds = await s.next(ENDPOINT);
      await s.expectNothing(QUIET_MS);
      s.ack(eds);
      const lds = await s.next(LISTENER);
      s.request({ typeUrl: ROUTE, subscribe: ['web'] });
      await s.expectNothing(QUIET_MS);
      s.ack(lds);
      expect(added(await s.next(ROUTE))).toEqual(['web']);
    });

    it('moving a route from cluster A to a new cluster B: B and its endpoints first, then the route, and A removed only after the new route is ACKed', async () => {
      const f = await startFixture();
      f.set(snap(edsCluster('a'), cla('a', '10.0.0.1'), listener('web', 8000), routeConfig('web', 'a')));
      const s = await f.openDelta();
      await handshake(s, f);

      f.set(snap(edsCluster('b'), cla('b', '10.0.0.2'), listener('web', 8000), routeConfig('web', 'b')));
      const cds1 = await s.next(CLUSTER);
      expect(added(cds1)).toEqual(['b']);
      expect(cds1.removed).toEqual([]); // A stays: the Envoy's route still uses it
      s.ack(cds1);
      await s.expectNothing(QUIET_MS); // the route waits for B's endpoints
      s.request({ typeUrl: ENDPOINT, subscribe: ['b'] });
      const eds = await s.next(ENDPOINT);
      expect(added(eds)).toEqual(['b']);
      expect(eds.removed).toEqual([]); // A's endpoints stay with A
      s.ack(eds);
      const rds = await s.next(ROUTE);
      expect(at(rds.resources[0]!.body, 'virtual_hosts', 0, 'routes', 0, 'route', 'cluster')).toBe('b');
      await s.expectNothing(QUIET_MS);
      s.ack(rds);
      const cds2 = await s.next(CLUSTER);
      expect(cds2.resources).toEqual([]);
      expect(cds2.removed).toEqual(['a']);
      // As Envoy does: the removed cluster's endpoints are unsubscribed before the CDS ACK.
      s.request({ typeUrl: ENDPOINT, unsubscribe: ['a'] });
      s.ack(cds2);
      await s.expectNothing(QUIET_MS);
    });

    it('sends the endpoints of a cluster a CDS response changes again, right after it (Envoy re-creates the cluster, which warms only on a fresh EDS response), before LDS', async () => {
      const f = await startFixture();
      f.set(snap(...baseResources()));
      const s = await f.openDelta();
      const h = await handshake(s, f);

      f.set(snap(edsCluster('a', 2), cla('a', '10.0.0.1'), dnsCluster('dns', 'example.com'), listener('web', 8100), routeConfig('web', 'a')));
      const cds = await s.next(CLUSTER);
      expect(added(cds)).toEqual(['a']);
      const eds = await s.next(ENDPOINT);
      expect(added(eds)).toEqual(['a']);
      expect(eds.resources[0]!.version).toBe(h.eds!.resources[0]!.version); // unchanged, sent again
      s.ack(eds);
      await s.expectNothing(QUIET_MS); // LDS waits for the CDS ACK (held by Envoy until the cluster is warm)
      s.ack(cds);
      expect(added(await s.next(LISTENER))).toEqual(['web']);
    });
  });

  it('serves the same node groups as State-of-the-World, from the same encoded bytes: a change reaches every stream of the group, none of another', async () => {
    const f = await startFixture();
    const billing: GroupId = { namespace: f.ns, ambassador: 'billing' };
    f.set(snap(...baseResources()));
    f.set(snap(...baseResources({ port: 9000 })), billing);
    const delta = await f.openDelta({ nodeId: `${f.ns}-orders-delta` });
    const sotw = await f.open({ nodeId: `${f.ns}-orders-sotw` });
    const other = await f.openDelta({ nodeId: `${f.ns}-billing-0`, cluster: 'billing' });
    await handshake(delta, f);
    await handshake(other, f);
    sotw.request({ typeUrl: CLUSTER, names: [] });
    const sotwCds = await sotw.next(CLUSTER);
    sotw.ack(sotwCds);

    f.set(snap(...baseResources({ dnsTimeoutS: 11 })));
    const d = await delta.next(CLUSTER);
    const w = await sotw.next(CLUSTER);
    const dns = (rs: { name: string; value: Uint8Array }[]) => Buffer.from(rs.find((r) => r.name === 'dns')!.value);
    expect(dns(d.resources)).toEqual(dns(w.resources));
    expect(d.systemVersionInfo).toBe(w.versionInfo);
    await other.expectNothing(QUIET_MS);
    expect(f.events().filter((e) => e.kind === 'opened').map((e) => e.kind === 'opened' && `${e.group} ${e.protocol}`).sort())
      .toEqual([`${f.ns}/billing delta`, `${f.ns}/orders delta`, `${f.ns}/orders sotw`]);
  });

  it('gives a node only its own group\'s Secrets: another namespace\'s Secret name is answered as not existing', async () => {
    const f = await startFixture();
    const other: GroupId = { namespace: `${f.ns}-other`, ambassador: 'orders' };
    f.set(snap(...baseResources(), secret('mine', 'not-a-real-secret')));
    f.set(snap(...baseResources(), secret('theirs', 'not-a-real-secret-either')), other);
    const s = await f.openDelta();
    s.request({ typeUrl: SECRET, subscribe: ['mine', 'theirs'] });
    const sds = await s.next(SECRET);
    expect(added(sds)).toEqual(['mine']);
    expect(sds.removed).toEqual(['theirs']);
  });

  it('ignores a type it does not serve, and refuses a node without node.cluster (INVALID_ARGUMENT) before any response', async () => {
    const f = await startFixture();
    f.set(snap(...baseResources()));
    const s = await f.openDelta();
    s.request({ typeUrl: 'type.googleapis.com/envoy.service.runtime.v3.Runtime', subscribe: ['rt'] });
    await s.expectNothing(QUIET_MS);
    await vi.waitFor(() => expect(f.events()).toContainEqual({ kind: 'unknown', node: s.nodeId, type: 'type.googleapis.com/envoy.service.runtime.v3.Runtime' }), PROCESSED);

    const anonymous = await f.openDelta({ nodeId: `${f.ns}-anonymous-0`, cluster: '' });
    anonymous.request({ typeUrl: CLUSTER });
    const status = await anonymous.ended();
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toContain('node.cluster');
    expect(anonymous.received).toEqual([]);
  });

  it('ends a stream that subscribes to more names than a stream may hold (RESOURCE_EXHAUSTED)', async () => {
    const f = await startFixture();
    f.set(snap(...baseResources()));
    const s = await f.openDelta();
    s.request({ typeUrl: ENDPOINT, subscribe: ['a'] });
    s.ack(await s.next(ENDPOINT));
    for (let i = 0; i < 5; i++) s.request({ typeUrl: ENDPOINT, subscribe: Array.from({ length: 25_000 }, (_, j) => `n-${i}-${j}`) });
    const status = await s.ended(10_000);
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status.details).toContain('100000');
  });

  describe('authentication (client certificates), as for State-of-the-World', () => {
    it('serves an identity its own namespace, and refuses another namespace (PERMISSION_DENIED) and a certificate without an identity (UNAUTHENTICATED) before any response', async () => {
      const creds = await makeXdsCredentials();
      const files = await CertificateFiles.open({ certFile: creds.server.certFile, keyFile: creds.server.keyFile, caFile: creds.caFile }, pino({ level: 'silent' }));
      const f = await startFixture({ ownServer: true, security: { auth: { kind: 'certificate', trustDomain: TRUST_DOMAIN }, tls: files } });
      f.defer(async () => { files.close(); await creds.cleanup(); });
      f.set(snap(...baseResources()));
      const tls = async (ns: string) => {
        const c = await creds.client(ns, 'default');
        return { tls: { caFile: creds.caFile, certFile: c.certFile, keyFile: c.keyFile, serverName: 'localhost' } };
      };

      const own = await f.openDelta({}, await tls(f.ns));
      own.request({ typeUrl: CLUSTER });
      expect(added(await own.next(CLUSTER))).toEqual(['a', 'dns']);

      const foreign = await f.openDelta({ nodeId: `${f.ns}-intruder-0` }, await tls(`${f.ns}-elsewhere`));
      foreign.request({ typeUrl: CLUSTER });
      const denied = await foreign.ended();
      expect(denied.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(foreign.received).toEqual([]);

      // A certificate of the right CA that names no workload identity.
      const plain = await creds.pki.client(`${f.ns}/default`);
      const anonymous = await f.openDelta({ nodeId: `${f.ns}-anonymous-0` }, { tls: { caFile: creds.caFile, certFile: plain.certPath, keyFile: plain.keyPath, serverName: 'localhost' } });
      anonymous.request({ typeUrl: CLUSTER });
      const refused = await anonymous.ended();
      expect(refused.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(anonymous.received).toEqual([]);
      expect(f.events().filter((e) => e.kind === 'refused').map((e) => e.kind === 'refused' && e.reason)).toContain('namespace_mismatch');
    });
  });
});
