// Bytes an Envoy is sent, State-of-the-World vs Delta, for an ambassador of 100 upstreams (one
// endpoint each, one route per upstream), built by the real pipeline: the first configuration, a
// change of one endpoint, and a reconnection to a restarted control plane with the config unchanged.
// Two raw clients (test/helpers) talk to a real server over loopback and behave as Envoy does
// (ACK everything, subscribe to what CDS and LDS name). Counted: the encoded DiscoveryResponse /
// DeltaDiscoveryResponse messages. Run: scripts/bench.sh delta-bytes
import { encodeResource } from '../../control-plane/src/cache/encode.ts';
import { SnapshotCache } from '../../control-plane/src/cache/snapshot-cache.ts';
import { buildSnapshot, type Snapshot } from '../../control-plane/src/cache/snapshot.ts';
import { parseConfigMap } from '../../control-plane/src/model/parse-configmap.ts';
import { startXdsServer, type XdsServer } from '../../control-plane/src/server/grpc-server.ts';
import type { XdsObserver } from '../../control-plane/src/server/observer.ts';
import { translateAmbassador } from '../../control-plane/src/translate/ambassador.ts';
import { groupKey, type GroupId } from '../../control-plane/src/translate/names.ts';
import { xdsRoot } from '../../control-plane/src/xds/protos.ts';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, type TypeUrl } from '../../control-plane/src/xds/type-urls.ts';
import { openAds, type AdsResponse, type AdsSession } from '../helpers/ads-client.ts';
import { openDelta, type DeltaResponse, type DeltaSession } from '../helpers/delta-client.ts';

const UPSTREAMS = 100;
/** A stream is done once no response came for this long (the first may take a connection setup). */
const QUIET_MS = 300;
const FIRST_MS = 5000;
const group: GroupId = { namespace: 'bench', ambassador: 'big' };
const node = { nodeId: 'bench-0', cluster: 'big', namespace: 'bench' };
const silent: XdsObserver = { streamOpened() {}, streamClosed() {}, streamRefused() {}, responseSent() {}, ack() {}, nack() {}, staleNonce() {}, unknownType() {} };
const root = await xdsRoot();

function snapshot(changedEndpoint: boolean): Snapshot {
  const routes = Array.from({ length: UPSTREAMS }, (_, i) => `      - {match: {prefix: /u${i}/}, upstream: u${i}}`).join('\n');
  const upstreams = Array.from({ length: UPSTREAMS }, (_, i) => {
    const last = i === 42 && changedEndpoint ? 200 : 10;
    return `  u${i}: {endpoints: ["10.1.${i}.${last}:8080"]}`;
  }).join('\n');
  const parsed = parseConfigMap({
    kind: 'ConfigMap', namespace: group.namespace, name: 'big', labels: { 'xds-ambassador.io/config': 'true' }, origin: 'bench',
    data: { 'ambassador.yaml': `ambassador: big\nlisteners:\n  - name: api\n    port: 8080\n    routes:\n${routes}\nupstreams:\n${upstreams}\n` },
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return buildSnapshot(translateAmbassador(group, parsed.config).map((r) => encodeResource(root, r)), ['bench']);
}

async function server(s: Snapshot): Promise<{ xds: XdsServer; cache: SnapshotCache }> {
  const cache = new SnapshotCache();
  cache.markSynced();
  cache.set(groupKey(group), s);
  const xds = await startXdsServer({ root, cache, observer: silent, controlPlaneId: 'bench', address: '127.0.0.1', port: 0, auth: { kind: 'insecure' } });
  return { xds, cache };
}

const sub = (rs: { resources: { body: Record<string, unknown>; name: string }[] }, kind: 'eds' | 'rds') => kind === 'eds'
  ? rs.resources.filter((c) => c.body.type === 'EDS').map((c) => c.name)
  : rs.resources.map((l) => JSON.stringify(l.body).match(/"route_config_name":"([^"]+)"/)?.[1]).filter((n): n is string => n !== undefined);

/** What a SotW Envoy last accepted, per type: version and names (sent again after a reconnect). */
const sotwHas = new Map<string, { version: string; names: string[] }>();

/** ACKs every response, and subscribes (EDS after CDS, RDS after LDS) like Envoy, until quiet. */
async function sotwUntilQuiet(s: AdsSession): Promise<void> {
  for (let first = true; ; first = false) {
    const r: AdsResponse | undefined = await s.next(undefined, first ? FIRST_MS : QUIET_MS).catch(() => undefined);
    if (!r) return;
    s.ack(r);
    sotwHas.set(r.typeUrl, { version: r.versionInfo, names: r.typeUrl === ENDPOINT || r.typeUrl === ROUTE ? r.resources.map((x) => x.name) : [] });
    // Like Envoy, a request only when the names it watches change.
    const resubscribe = (t: TypeUrl, names: string[]) => {
      if (names.join() !== (sotwHas.get(t)?.names ?? []).join()) s.request({ typeUrl: t, names, versionInfo: sotwHas.get(t)?.version ?? '' });
    };
    if (r.typeUrl === CLUSTER) resubscribe(ENDPOINT, sub(r, 'eds'));
    if (r.typeUrl === CLUSTER && !sotwHas.has(LISTENER)) s.request({ typeUrl: LISTENER, names: [] });
    if (r.typeUrl === LISTENER) resubscribe(ROUTE, sub(r, 'rds'));
  }
}

async function deltaUntilQuiet(s: DeltaSession): Promise<void> {
  for (let first = true; ; first = false) {
    const r: DeltaResponse | undefined = await s.next(undefined, first ? FIRST_MS : QUIET_MS).catch(() => undefined);
    if (!r) return;
    s.ack(r);
    const eds = sub(r, 'eds').filter((n) => !s.held(ENDPOINT).has(n));
    const rds = sub(r, 'rds').filter((n) => !s.held(ROUTE).has(n));
    if (r.typeUrl === CLUSTER && eds.length > 0) s.request({ typeUrl: ENDPOINT, subscribe: eds });
    if (r.typeUrl === CLUSTER && s.held(LISTENER).size === 0) s.request({ typeUrl: LISTENER });
    if (r.typeUrl === LISTENER && rds.length > 0) s.request({ typeUrl: ROUTE, subscribe: rds });
  }
}

const bytes = (n: number) => `${n.toLocaleString('en-US')} B`.padStart(9);
const row = (what: string, sotw: number, delta: number) => console.log(`${what.padEnd(44)} SotW ${bytes(sotw)}   Delta ${bytes(delta)}   (SotW/Delta ${(sotw / Math.max(delta, 1)).toFixed(1)}x)`);

const before = snapshot(false);
const after = snapshot(true);
const counts = (t: TypeUrl) => before.types[t].resources.size;
console.log(`an ambassador of ${UPSTREAMS} upstreams: ${counts(CLUSTER)} clusters, ${counts(ENDPOINT)} endpoint assignments, ${counts(LISTENER)} listener, ${counts(ROUTE)} route config`);

const first = await server(before);
const sotw = await openAds(first.xds.port, { ...node, nodeId: 'bench-sotw' });
const delta = await openDelta(first.xds.port, { ...node, nodeId: 'bench-delta' });
sotw.request({ typeUrl: CLUSTER, names: [] });
delta.request({ typeUrl: CLUSTER });
await Promise.all([sotwUntilQuiet(sotw), deltaUntilQuiet(delta)]);
row('the first configuration', sotw.bytesReceived, delta.bytesReceived);

// One endpoint of one upstream changes.
const [s0, d0] = [sotw.bytesReceived, delta.bytesReceived];
first.cache.set(groupKey(group), after);
await Promise.all([sotwUntilQuiet(sotw), deltaUntilQuiet(delta)]);
row('one endpoint changed', sotw.bytesReceived - s0, delta.bytesReceived - d0);
sotw.close();
delta.close();
await first.xds.stop();

// The control plane restarts with the same config; each Envoy reconnects, telling what it has.
const second = await server(after);
const sotw2 = await openAds(second.xds.port, { ...node, nodeId: 'bench-sotw' });
const delta2 = await openDelta(second.xds.port, { ...node, nodeId: 'bench-delta' });
for (const t of [CLUSTER, ENDPOINT, LISTENER, ROUTE]) {
  const had = sotwHas.get(t);
  sotw2.request({ typeUrl: t, names: had?.names ?? [], versionInfo: had?.version ?? '' });
  const versions = Object.fromEntries(delta.held(t));
  const names = t === ENDPOINT || t === ROUTE ? Object.keys(versions) : [];
  delta2.request({ typeUrl: t, subscribe: names, initialVersions: versions });
}
await Promise.all([sotwUntilQuiet(sotw2), deltaUntilQuiet(delta2)]);
row('reconnection to a restarted control plane', sotw2.bytesReceived, delta2.bytesReceived);
sotw2.close();
delta2.close();
await second.xds.stop();
