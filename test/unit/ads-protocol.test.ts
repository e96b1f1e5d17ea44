// The ADS State-of-the-World protocol as an Envoy sees it, over a real gRPC socket: nonces, versions,
// ACK/NACK (with rollback to the last fully accepted snapshot), stale nonces, named and wildcard
// subscriptions, make-before-break ordering, node groups, stream refusal, control_plane and health.
// Reference: Envoy's "xDS REST and gRPC protocol" document (docs/root/api-docs/xds_protocol.rst).
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { describe, expect, it, vi } from 'vitest';
import { consistencyProblems } from '../../control-plane/src/cache/consistency.ts';
import { encodeResource } from '../../control-plane/src/cache/encode.ts';
import { buildSnapshot } from '../../control-plane/src/cache/snapshot.ts';
import { parseConfigMap } from '../../control-plane/src/model/parse-configmap.ts';
import { ADS_SERVICE_NAME } from '../../control-plane/src/server/grpc-server.ts';
import { translateAmbassador } from '../../control-plane/src/translate/ambassador.ts';
import type { GroupId } from '../../control-plane/src/translate/names.ts';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from '../../control-plane/src/xds/type-urls.ts';
import type { AdsResponse, AdsSession } from '../helpers/ads-client.ts';
import {
  at, baseResources, cla, CONTROL_PLANE_ID, dnsCluster, edsCluster, listener, PROCESSED, protocolServer, routeConfig, snap, snapshotBodies, xds,
  type Fixture,
} from '../helpers/protocol-fixture.ts';

const QUIET_MS = 100;
const startFixture = protocolServer();

// ---------------------------------------------------------------------------------------------
// Reading responses.

const names = (r: AdsResponse) => r.resources.map((x) => x.name).sort();

/** The EDS names a CDS response makes an Envoy subscribe to. */
function edsNamesOf(cds: AdsResponse): string[] {
  return cds.resources.filter((c) => c.body.type === 'EDS').map((c) => c.name).sort();
}

/** The RDS names an LDS response makes an Envoy subscribe to. */
function rdsNamesOf(lds: AdsResponse): string[] {
  return lds.resources.map((l) => at(l.body, 'filter_chains', 0, 'filters', 0, 'typed_config', 'rds', 'route_config_name')).filter((n): n is string => typeof n === 'string').sort();
}

interface Handshake { cds: AdsResponse; eds?: AdsResponse; lds: AdsResponse; rds?: AdsResponse }

/** What an Envoy does on a new stream: CDS, then EDS for its EDS clusters, then LDS, then RDS, ACKing each; then quiet. */
async function handshake(s: AdsSession, f: Pick<Fixture, 'events'>): Promise<Handshake> {
  s.request({ typeUrl: CLUSTER, names: [] });
  const cds = await s.next(CLUSTER);
  s.ack(cds);
  const h: Handshake = { cds, lds: cds };
  if (edsNamesOf(cds).length > 0) {
    s.request({ typeUrl: ENDPOINT, names: edsNamesOf(cds), versionInfo: '' });
    h.eds = await s.next(ENDPOINT);
    s.ack(h.eds);
  }
  s.request({ typeUrl: LISTENER, names: [] });
  h.lds = await s.next(LISTENER);
  s.ack(h.lds);
  if (rdsNamesOf(h.lds).length > 0) {
    s.request({ typeUrl: ROUTE, names: rdsNamesOf(h.lds) });
    h.rds = await s.next(ROUTE);
    s.ack(h.rds);
  }
  // Once everything is ACKed, nothing more is pushed...
  await s.expectNothing(QUIET_MS);
  // ...and the server has processed every ACK (a fixed quiet time does not prove it on a loaded
  // machine), so what a test does next starts from a fully accepted snapshot.
  const acked = [h.cds, h.eds, h.lds, h.rds].filter((r): r is AdsResponse => r !== undefined);
  await vi.waitFor(() => {
    for (const r of acked) expect(f.events()).toContainEqual({ kind: 'ack', node: s.nodeId, type: r.typeUrl, version: r.versionInfo });
  }, PROCESSED);
  return h;
}

const bodiesOf = (r: AdsResponse) => [...r.resources].sort((x, y) => (x.name < y.name ? -1 : 1)).map((x) => x.body);

// =============================================================================================

describe('ADS SotW protocol over a real gRPC stream', () => {
  it('answers nothing, not even an empty LDS/CDS, before the sources are synced; then answers the held requests', async () => {
    const f = await startFixture({ ownServer: true, synced: false });
    f.set(snap(...baseResources()));
    const configured = await f.open();
    const unconfigured = await f.open({ nodeId: `${f.ns}-other-0`, cluster: 'unconfigured' });
    for (const s of [configured, unconfigured]) {
      s.request({ typeUrl: CLUSTER, names: [] });
      s.request({ typeUrl: LISTENER, names: [] });
    }
    await configured.expectNothing(QUIET_MS);
    await unconfigured.expectNothing(0);

    f.cache.markSynced();
    const cds = await configured.next(CLUSTER);
    expect(names(cds)).toEqual(['a', 'dns']);
    const empty = await unconfigured.next(CLUSTER);
    expect(empty.resources).toEqual([]);
    // The held LDS requests are answered too, once CDS is accepted.
    unconfigured.ack(empty);
    expect((await unconfigured.next(LISTENER)).resources).toEqual([]);
  });

  it('gives a group with no config an empty CDS and LDS after sync: that is legitimate config', async () => {
    const f = await startFixture();
    f.set(snap(...baseResources()));
    const s = await f.open({ nodeId: `${f.ns}-lonely-0`, cluster: 'nobody' });
    s.request({ typeUrl: CLUSTER, names: [] });
    s.request({ typeUrl: LISTENER, names: [] });
    const cds = await s.next(CLUSTER);
    expect(cds.resources).toEqual([]);
    expect(cds.versionInfo).not.toBe('');
    await s.expectNothing(QUIET_MS); // LDS waits for the CDS ACK
    s.ack(cds);
    const lds = await s.next(LISTENER);
    expect(lds.resources).toEqual([]);
    expect(lds.versionInfo).not.toBe('');
    s.ack(lds);
    await s.expectNothing(QUIET_MS);
  });

  it('sends each response with a fresh nonce, a version_info, control_plane.identifier and the snapshot\'s resources', async () => {
    const f = await startFixture();
    // A realistic snapshot: an ambassador ConfigMap, parsed and translated by the real pipeline.
    const parsed = parseConfigMap({
      kind: 'ConfigMap', namespace: f.ns, name: 'orders-ambassador', labels: { 'xds-ambassador.io/config': 'true' }, origin: 'test',
      data: {
        'ambassador.yaml': [
          'ambassador: orders',
          'listeners:',
          '  - name: movies',
          '    port: 8000',
          '    routes:',
          '      - match: {prefix: /}',
          '        upstream: tmdb',
          'upstreams:',
          '  tmdb: {endpoints: ["10.1.2.3:8080"]}',
          '  dns: {endpoints: ["api.example.com:443"]}',
        ].join('\n'),
      },
    });
    if (!parsed.ok) throw new Error(`test config rejected: ${JSON.stringify(parsed.errors)}`);
    const snapshot = buildSnapshot(translateAmbassador(f.group, parsed.config).map((r) => encodeResource(xds(), r)), [`ConfigMap ${f.ns}/orders-ambassador`]);
    expect(consistencyProblems(snapshot)).toEqual([]);
    f.set(snapshot);

    const s = await f.open();
    const h = await handshake(s, f);
    const responses = [h.cds, h.eds, h.lds, h.rds].filter((r): r is AdsResponse => r !== undefined);
    expect(responses.map((r) => r.typeUrl)).toEqual([CLUSTER, ENDPOINT, LISTENER, ROUTE]);
    expect(new Set(responses.map((r) => r.nonce)).size).toBe(responses.length);
    for (const r of responses) {
      expect(r.nonce).not.toBe('');
      expect(r.versionInfo).not.toBe('');
      expect(r.controlPlane).toBe(CONTROL_PLANE_ID);
      for (const res of r.resources) expect(res.typeUrl).toBe(r.typeUrl);
    }
    // Every resource decodes to exactly the snapshot's resource.
    expect(bodiesOf(h.cds)).toEqual(snapshotBodies(snapshot, CLUSTER));
    expect(bodiesOf(h.eds!)).toEqual(snapshotBodies(snapshot, ENDPOINT));
    expect(bodiesOf(h.lds)).toEqual(snapshotBodies(snapshot, LISTENER));
    expect(bodiesOf(h.rds!)).toEqual(snapshotBodies(snapshot, ROUTE));
    // And it is the config that was written.
    expect(names(h.cds)).toEqual([`${f.ns}/orders/dns`, `${f.ns}/orders/tmdb`]);
    expect(at(h.eds!.resources[0]!.body, 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address')).toEqual({ address: '10.1.2.3', port_value: 8080 });
    expect(at(h.lds.resources[0]!.body, 'address', 'socket_address', 'port_value')).toBe(8000);
    expect(at(h.rds!.resources[0]!.body, 'virtual_hosts', 0, 'routes', 0, 'route', 'cluster')).toBe(`${f.ns}/orders/tmdb`);
  });

  it('does not re-push an ACKed version; a snapshot change is pushed with a new version and nonce', async () => {
    const f = await startFixture();
    f.set(snap(...baseResources()));
    const s = await f.open();
    const h = await handshake(s, f);

    // The same content again (a rebuilt, equal snapshot) is not a change.
    f.set(snap(...baseResources()));
    await s.expectNothing(QUIET_MS);

    // Only the endpoints change: only EDS is pushed.
    f.set(snap(...baseResources({ ip: '10.0.0.9' })));
    const eds = await s.next(ENDPOINT);
    expect(eds.versionInfo).not.toBe(h.eds!.versionInfo);
    expect(eds.nonce).not.toBe(h.eds!.nonce);
    expect(at(eds.resources[0]!.body, 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address', 'address')).toBe('10.0.0.9');
    s.ack(eds);
    await s.expectNothing(QUIET_MS);
    await vi.waitFor(() => expect(f.events().filter((e) => e.kind === 'ack' && e.type === ENDPOINT).map((e) => e.kind === 'ack' && e.version))
      .toEqual([h.eds!.versionInfo, eds.versionInfo]), PROCESSED);
  });

  it('on a NACK, rolls back to the latest accepted snapshot, even one that only changed routes', async () => {
    const f = await startFixture();
    f.set(snap(...baseResources()));
    const s = await f.open();
    await handshake(s, f);
    // A route-only change: only RDS is sent and ACKed; CDS, EDS and LDS stay as accepted before.
    const routesOnly = snap(...baseResources({ routeTimeoutS: 7 }));
    f.set(routesOnly);
    const rds = await s.next(ROUTE);
    s.ack(rds);
    await s.expectNothing(QUIET_MS);
    await vi.waitFor(() => expect(f.cache.status().find((g) => g.group === f.key)?.lastGood).toBe(routesOnly.version), PROCESSED);
    // The next change is rejected: the group goes back to the route-only snapshot, not before it.
    f.set(snap(...baseResources({ routeTimeoutS: 7, dnsTimeoutS: 9 })));
    const bad = await s.next(CLUSTER);
    s.nack(bad, 'cluster dns: connect_timeout rejected', bad.versionInfo);
    const rolled = await s.next(CLUSTER);
    expect(bodiesOf(rolled)).toEqual(snapshotBodies(routesOnly, CLUSTER));
    s.ack(rolled);
    await s.expectNothing(QUIET_MS);
    expect(f.cache.status().find((g) => g.group === f.key)?.served).toBe(routesOnly.version);
  });

  it('on a NACK with an accepted earlier snapshot: records Envoy\'s message, rolls back to it, never loops, and serves only a new snapshot later', async () => {
    const f = await startFixture();
    const v1 = snap(...baseResources());
    f.set(v1);
    const s = await f.open();
    const h = await handshake(s, f);

    const v2 = snap(...baseResources({ dnsTimeoutS: 9 }));
    f.set(v2);
    const bad = await s.next(CLUSTER);
    expect(bad.versionInfo).not.toBe(h.cds.versionInfo);
    s.nack(bad, 'cluster dns: connect_timeout rejected', h.cds.versionInfo);

    // Rolled back: the accepted version is pushed again, with a new nonce.
    const rolled = await s.next(CLUSTER);
    expect(rolled.versionInfo).toBe(h.cds.versionInfo);
    expect(bodiesOf(rolled)).toEqual(snapshotBodies(v1, CLUSTER));
    expect(rolled.nonce).not.toBe(bad.nonce);
    expect(f.events()).toContainEqual({ kind: 'nack', node: f.node.nodeId, type: CLUSTER, version: bad.versionInfo, message: 'cluster dns: connect_timeout rejected', outcome: 'rolled-back' });
    expect(f.cache.status().find((g) => g.group === f.key)).toMatchObject({ served: v1.version, latest: v2.version, rejected: { message: 'cluster dns: connect_timeout rejected', nodeId: f.node.nodeId } });
    s.ack(rolled);
    await s.expectNothing(QUIET_MS);

    // The rejected snapshot, set again, is not pushed again.
    f.set(snap(...baseResources({ dnsTimeoutS: 9 })));
    await s.expectNothing(QUIET_MS);

    // A new snapshot is.
    f.set(snap(...baseResources({ dnsTimeoutS: 7 })));
    const fixed = await s.next(CLUSTER);
    expect(at(fixed.resources.find((c) => c.name === 'dns')?.body, 'connect_timeout')).toEqual({ seconds: '7' });
    s.ack(fixed);
    await s.expectNothing(QUIET_MS);
  });

  it('on a NACK with no accepted earlier snapshot: records it and pushes nothing more until a new snapshot', async () => {
    const f = await startFixture();
    f.set(snap(...baseResources()));
    const s = await f.open();
    s.request({ typeUrl: CLUSTER, names: [] });
    const cds = await s.next(CLUSTER);
    s.ack(cds);
    s.request({ typeUrl: ENDPOINT, names: ['a'] });
    s.ack(await s.next(ENDPOINT));
    s.request({ typeUrl: LISTENER, names: [] });
    const lds = await s.next(LISTENER);
    s.nack(lds, 'listener web: address already in use');
    await s.expectNothing(QUIET_MS);
    await vi.waitFor(() => expect(f.events()).toContainEqual({ kind: 'nack', node: f.node.nodeId, type: LISTENER, version: lds.versionInfo, message: 'listener web: address already in use', outcome: 'kept' }), PROCESSED);
    expect(f.events().filter((e) => e.kind === 'sent' && e.type === LISTENER)).toHaveLength(1);

    f.set(snap(...baseResources({ port: 8001 })));
    const fixed = await s.next(LISTENER);
    expect(at(fixed.resources[0]!.body, 'address', 'socket_address', 'port_value')).toBe(8001);
    s.ack(fixed);
    s.request({ typeUrl: ROUTE, names: ['web'] });
    expect(names(await s.next(ROUTE))).toEqual(['web']);
  });

  it('holds LDS and RDS while the CDS they need was NACKed (make before break: routes never point at rejected clusters)', async () => {
    const f = await startFixture();
    f.set(snap(...baseResources()));
    const s = await f.open();
    // An Envoy that already had listeners and routes (e.g. from before a control-plane restart)
    // asks for all types; this control plane has no accepted snapshot for the group yet.
    s.request({ typeUrl: CLUSTER, names: [] });
    s.request({ typeUrl: LISTENER, names: [] });
    s.request({ typeUrl: ROUTE, names: ['web'] });
    const cds = await s.next(CLUSTER);
    s.nack(cds, 'cluster a: bad');
    await s.expectNothing(QUIET_MS);
    await vi.waitFor(() => expect(f.events()).toContainEqual(expect.objectContaining({ kind: 'nack', type: CLUSTER, outcome: 'kept' })), PROCESSED);

    // Once the group has an acceptable CDS, LDS follows, then RDS.
    f.set(snap(...baseResources({ dnsTimeoutS: 3 })));
    const fixed = await s.next(CLUSTER);
    s.ack(fixed);
    s.request({ typeUrl: ENDPOINT, names: edsNamesOf(fixed) });
    s.ack(await s.next(ENDPOINT));
    const lds = await s.next(LISTENER);
    expect(names(lds)).toEqual(['web']);
    s.ack(lds);
    expect(names(await s.next(ROUTE))).toEqual(['web']);
  });

  it('does not take a request that echoes a NACKed nonce without error_detail for an ACK (Envoy resends its old version_info)', async () => {
    const f = await startFixture();
    f.set(snap(edsCluster('a'), cla('a', '10.0.0.1'), edsCluster('b'), cla('b', '10.0.0.2'), listener('web', 8000), routeConfig('web', 'a')));
    const s = await f.open();
    s.request({ typeUrl: CLUSTER, names: [] });
    const cds = await s.next(CLUSTER);
    s.ack(cds);
    s.request({ typeUrl: ENDPOINT, names: ['a', 'b'] });
    const eds = await s.next(ENDPOINT);
    s.nack(eds, 'endpoint b: bad address');
    // Envoy clears error_detail after sending a NACK; its next EDS request (here: a subscription
    // change) echoes the same nonce with the version it last accepted (none).
    s.request({ typeUrl: ENDPOINT, names: ['a', 'b'], versionInfo: '', nonce: eds.nonce });
    await s.expectNothing(QUIET_MS);
    expect(f.events().filter((e) => e.kind === 'ack' && e.type === ENDPOINT)).toEqual([]);
  });

  it('ignores a request with a stale nonce entirely, even when its resource_names differ', async () => {
    const f = await startFixture();
    const withB = (ip: string) => snap(edsCluster('a'), cla('a', ip), edsCluster('b'), cla('b', '10.0.0.2'), dnsCluster('dns', 'example.com'), listener('web', 8000), routeConfig('web', 'a'));
    f.set(withB('10.0.0.1'));
    const s = await f.open();
    s.request({ typeUrl: CLUSTER, names: [] });
    s.ack(await s.next(CLUSTER));
    s.request({ typeUrl: ENDPOINT, names: ['a'] });
    const first = await s.next(ENDPOINT);
    s.ack(first);

    f.set(withB('10.0.0.3'));
    const second = await s.next(ENDPOINT);
    expect(names(second)).toEqual(['a']);

    // Requests that answer the older response: a subscription change, and a NACK. Both are stale.
    s.request({ typeUrl: ENDPOINT, names: ['a', 'b'], versionInfo: first.versionInfo, nonce: first.nonce });
    s.request({ typeUrl: ENDPOINT, names: ['a', 'b'], versionInfo: first.versionInfo, nonce: first.nonce, errorDetail: 'stale complaint' });
    await s.expectNothing(QUIET_MS);
    await vi.waitFor(() => expect(f.events().filter((e) => e.kind === 'stale')).toHaveLength(2), PROCESSED);
    expect(f.events().filter((e) => e.kind === 'nack')).toEqual([]);

    // The current nonce still works, with the client's current subscription.
    s.ack(second, ['a']);
    await s.expectNothing(QUIET_MS);
    await vi.waitFor(() => expect(f.events()).toContainEqual({ kind: 'ack', node: f.node.nodeId, type: ENDPOINT, version: second.versionInfo }), PROCESSED);
  });

  it('returns only the requested RDS/EDS names; a newly requested name is pushed even with nothing else changed; unsubscribing is harmless', async () => {
    const f = await startFixture();
    f.set(snap(
      edsCluster('a'), cla('a', '10.0.0.1'), edsCluster('b'), cla('b', '10.0.0.2'),
      listener('web', 8000), routeConfig('web', 'a'), listener('admin', 8001), routeConfig('admin', 'b'),
    ));
    const s = await f.open();
    s.request({ typeUrl: ENDPOINT, names: ['a'] });
    const eds1 = await s.next(ENDPOINT);
    expect(names(eds1)).toEqual(['a']);
    s.ack(eds1);
    s.request({ typeUrl: ROUTE, names: ['web'] });
    const rds1 = await s.next(ROUTE);
    expect(names(rds1)).toEqual(['web']);
    s.ack(rds1);
    await s.expectNothing(QUIET_MS);

    // Subscribing to one more name, in the ACK-style request for the current nonce: pushed, both names.
    s.ack(rds1, ['web', 'admin']);
    const rds2 = await s.next(ROUTE);
    expect(names(rds2)).toEqual(['admin', 'web']);
    expect(rds2.nonce).not.toBe(rds1.nonce);
    s.ack(rds2);
    s.ack(eds1, ['a', 'b']);
    const eds2 = await s.next(ENDPOINT);
    expect(names(eds2)).toEqual(['a', 'b']);
    s.ack(eds2);
    await s.expectNothing(QUIET_MS);

    // A name that does not exist yet is remembered and sent when it appears.
    s.ack(eds2, ['a', 'b', 'c']);
    await s.expectNothing(QUIET_MS);
    f.set(snap(
      edsCluster('a'), cla('a', '10.0.0.1'), edsCluster('b'), cla('b', '10.0.0.2'), edsCluster('c'), cla('c', '10.0.0.3'),
      listener('web', 8000), routeConfig('web', 'a'), listener('admin', 8001), routeConfig('admin', 'b'),
    ));
    const eds3 = await s.next(ENDPOINT);
    expect(names(eds3)).toEqual(['a', 'b', 'c']);
    s.ack(eds3);

    // Unsubscribing: whatever is sent holds only what is still subscribed, and the stream keeps working.
    s.ack(rds2, ['admin']);
    const rds3 = await s.next(ROUTE);
    expect(names(rds3)).toEqual(['admin']);
    s.ack(rds3);
    await s.expectNothing(QUIET_MS);
    s.ack(rds3, ['admin', 'web']);
    expect(names(await s.next(ROUTE))).toEqual(['admin', 'web']);
  });

  it('serves CDS/LDS wildcards: empty resource_names at first, or "*"; explicit names replace the legacy wildcard', async () => {
    const f = await startFixture();
    f.set(snap(
      edsCluster('a'), cla('a', '10.0.0.1'), dnsCluster('dns', 'example.com'),
      listener('web', 8000), routeConfig('web', 'a'), listener('admin', 8001), routeConfig('admin', 'a'),
    ));
    const star = await f.open({ nodeId: `${f.ns}-star` });
    star.request({ typeUrl: CLUSTER, names: ['*'] });
    const cdsStar = await star.next(CLUSTER);
    expect(names(cdsStar)).toEqual(['a', 'dns']);
    star.ack(cdsStar);
    star.request({ typeUrl: ENDPOINT, names: ['a'] });
    star.ack(await star.next(ENDPOINT));
    star.request({ typeUrl: LISTENER, names: ['*', 'web'] });
    expect(names(await star.next(LISTENER))).toEqual(['admin', 'web']);

    // A stream with no CDS subscription (LDS has nothing to wait for), legacy wildcard first.
    const s = await f.open();
    s.request({ typeUrl: LISTENER, names: [] });
    const all = await s.next(LISTENER);
    expect(names(all)).toEqual(['admin', 'web']);
    s.ack(all);
    await s.expectNothing(QUIET_MS);
    // An explicit name without "*" unsubscribes from the wildcard...
    s.ack(all, ['web']);
    const onlyWeb = await s.next(LISTENER);
    expect(names(onlyWeb)).toEqual(['web']);
    s.ack(onlyWeb);
    // ...and after that, an empty list means "nothing", not the wildcard again: the type is
    // unsubscribed, so no response comes (Envoy would ignore, and never ACK, one for a type it no
    // longer watches).
    s.ack(onlyWeb, []);
    await s.expectNothing(QUIET_MS);
    // "*" subscribes to the wildcard again.
    s.ack(onlyWeb, ['*']);
    expect(names(await s.next(LISTENER))).toEqual(['admin', 'web']);
  });

  describe('make before break', () => {
    it('on a new stream: CDS first, EDS once subscribed, LDS only after CDS and EDS are ACKed, RDS only after LDS is ACKed', async () => {
      const f = await startFixture();
      f.set(snap(...baseResources()));
      const s = await f.open();
      // Envoy subscribes to CDS first; here LDS is asked for right away, before anything is accepted.
      s.request({ typeUrl: CLUSTER, names: [] });
      s.request({ typeUrl: LISTENER, names: [] });
      const cds = await s.next(CLUSTER);
      await s.expectNothing(QUIET_MS); // LDS waits for the CDS ACK
      s.ack(cds);
      await s.expectNothing(QUIET_MS); // ...and for the endpoints of the accepted EDS cluster
      s.request({ typeUrl: ENDPOINT, names: ['a'] });
      const eds = await s.next(ENDPOINT);
      await s.expectNothing(QUIET_MS); // ...and for the EDS ACK
      s.ack(eds);
      const lds = await s.next(LISTENER);
      s.request({ typeUrl: ROUTE, names: ['web'] });
      await s.expectNothing(QUIET_MS); // RDS waits for the LDS ACK
      s.ack(lds);
      expect(names(await s.next(ROUTE))).toEqual(['web']);
    });

    it('on a change of clusters and listeners: CDS first, LDS after its ACK; RDS after the LDS ACK', async () => {
      const f = await startFixture();
      f.set(snap(...baseResources()));
      const s = await f.open();
      await handshake(s, f);

      f.set(snap(...baseResources({ dnsTimeoutS: 2, port: 8100, routeTimeoutS: 4 })));
      const cds = await s.next(CLUSTER);
      await s.expectNothing(QUIET_MS);
      s.ack(cds);
      const lds = await s.next(LISTENER);
      expect(at(lds.resources[0]!.body, 'address', 'socket_address', 'port_value')).toBe(8100);
      await s.expectNothing(QUIET_MS);
      s.ack(lds);
      const rds = await s.next(ROUTE);
      expect(at(rds.resources[0]!.body, 'virtual_hosts', 0, 'routes', 0, 'route', 'timeout')).toEqual({ seconds: '4' });
      s.ack(rds);
      await s.expectNothing(QUIET_MS);
    });

    it('moving a route from cluster A to a new cluster B: B and its endpoints first, then the route, and A leaves CDS only after the new route is ACKed', async () => {
      const f = await startFixture();
      f.set(snap(edsCluster('a'), cla('a', '10.0.0.1'), listener('web', 8000), routeConfig('web', 'a')));
      const s = await f.open();
      const h = await handshake(s, f);

      f.set(snap(edsCluster('b'), cla('b', '10.0.0.2'), listener('web', 8000), routeConfig('web', 'b')));
      const cds1 = await s.next(CLUSTER);
      expect(names(cds1)).toEqual(['a', 'b']); // A is kept: the Envoy's routes still use it
      await s.expectNothing(QUIET_MS);
      s.ack(cds1);
      await s.expectNothing(QUIET_MS); // the route waits for B's endpoints
      s.request({ typeUrl: ENDPOINT, names: ['a', 'b'], versionInfo: h.eds!.versionInfo, nonce: h.eds!.nonce });
      const eds = await s.next(ENDPOINT);
      expect(names(eds)).toEqual(['a', 'b']);
      await s.expectNothing(QUIET_MS);
      s.ack(eds);
      const rds = await s.next(ROUTE); // LDS is unchanged, so not sent
      expect(at(rds.resources[0]!.body, 'virtual_hosts', 0, 'routes', 0, 'route', 'cluster')).toBe('b');
      await s.expectNothing(QUIET_MS); // A stays until the new route is accepted
      s.ack(rds);
      const cds2 = await s.next(CLUSTER);
      expect(names(cds2)).toEqual(['b']);
      s.ack(cds2);
      s.ack(eds, ['b']);
      const eds2 = await s.next(ENDPOINT);
      expect(names(eds2)).toEqual(['b']);
      s.ack(eds2);
      await s.expectNothing(QUIET_MS);
    });

    it('a NACK of a CDS that still carries a retained cluster rolls back like any other NACK', async () => {
      const f = await startFixture();
      const v1 = snap(edsCluster('a'), cla('a', '10.0.0.1'), listener('web', 8000), routeConfig('web', 'a'));
      f.set(v1);
      const s = await f.open();
      const h = await handshake(s, f);

      f.set(snap(edsCluster('b'), cla('b', '10.0.0.2'), listener('web', 8000), routeConfig('web', 'b')));
      const cds1 = await s.next(CLUSTER);
      expect(names(cds1)).toEqual(['a', 'b']);
      s.nack(cds1, 'cluster b: rejected', h.cds.versionInfo);
      const rolled = await s.next(CLUSTER);
      expect(names(rolled)).toEqual(['a']);
      expect(rolled.versionInfo).toBe(h.cds.versionInfo);
      expect(f.events()).toContainEqual(expect.objectContaining({ kind: 'nack', type: CLUSTER, outcome: 'rolled-back' }));
      s.ack(rolled);
      await s.expectNothing(QUIET_MS);
    });
  });

  it('pushes a change to every stream of the group, and to no stream of another group', async () => {
    const f = await startFixture();
    const staging: GroupId = { namespace: `${f.ns}-staging`, ambassador: 'orders' };
    const billing: GroupId = { namespace: f.ns, ambassador: 'billing' };
    f.set(snap(...baseResources()));
    f.set(snap(...baseResources()), staging);
    f.set(snap(...baseResources()), billing);
    const same1 = await f.open({ nodeId: `${f.ns}-orders-1` });
    const same2 = await f.open({ nodeId: `${f.ns}-orders-2` });
    const otherNamespace = await f.open({ nodeId: `${f.ns}-orders-staging-0`, namespace: staging.namespace });
    const otherAmbassador = await f.open({ nodeId: `${f.ns}-billing-0`, cluster: 'billing' });
    const all = [same1, same2, otherNamespace, otherAmbassador];
    const before = await Promise.all(all.map((x) => handshake(x, f)));

    f.set(snap(...baseResources({ dnsTimeoutS: 11 })));
    for (const [i, s] of [same1, same2].entries()) {
      const cds = await s.next(CLUSTER);
      expect(cds.versionInfo).not.toBe(before[i]!.cds.versionInfo);
      expect(at(cds.resources.find((c) => c.name === 'dns')?.body, 'connect_timeout')).toEqual({ seconds: '11' });
    }
    await otherNamespace.expectNothing(QUIET_MS);
    await otherAmbassador.expectNothing(0);
    expect(f.events().filter((e) => e.kind === 'opened').map((e) => e.kind === 'opened' && e.group).sort())
      .toEqual([`${f.ns}-staging/orders`, `${f.ns}/billing`, `${f.ns}/orders`, `${f.ns}/orders`].sort());
  });

  it('refuses a node without node.cluster with INVALID_ARGUMENT, naming node.cluster', async () => {
    const f = await startFixture();
    const s = await f.open({ nodeId: `${f.ns}-anonymous-0`, cluster: '' });
    s.request({ typeUrl: CLUSTER, names: [] });
    const status = await s.ended();
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toContain('node.cluster');
    expect(status.details).toContain(`${f.ns}-anonymous-0`);
    expect(s.received).toEqual([]);
    expect(f.events()).toContainEqual(expect.objectContaining({ kind: 'refused', reason: 'bad_node', node: `${f.ns}-anonymous-0` }));
  });

  it('reports grpc.health.v1 NOT_SERVING until setServing(true), then SERVING', async () => {
    const f = await startFixture({ ownServer: true, synced: false });
    const client = new grpc.Client(`127.0.0.1:${f.server.port}`, grpc.credentials.createInsecure());
    f.defer(() => client.close());
    const check = healthService.Check!;
    const ask = (svc: string) => new Promise<string>((resolve, reject) => {
      client.makeUnaryRequest(check.path, check.requestSerialize, check.responseDeserialize, { service: svc }, (err, res) => {
        if (err) return reject(err);
        resolve(String((res as { status?: unknown } | undefined)?.status));
      });
    });
    expect(await ask('')).toBe('NOT_SERVING');
    expect(await ask(ADS_SERVICE_NAME)).toBe('NOT_SERVING');
    f.server.setServing(true);
    expect(await ask('')).toBe('SERVING');
    expect(await ask(ADS_SERVICE_NAME)).toBe('SERVING');
    f.server.setServing(false);
    expect(await ask(ADS_SERVICE_NAME)).toBe('NOT_SERVING');
  });
});
