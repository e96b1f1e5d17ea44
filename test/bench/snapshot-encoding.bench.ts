// How fast the pipeline turns configs into snapshots, and what sharing encoded bytes saves.
// Run: scripts/bench.sh snapshot-encoding   (prints numbers and ratios; asserts nothing)
import { performance } from 'node:perf_hooks';
import { encodeResource } from '../../control-plane/src/cache/encode.ts';
import { buildSnapshot } from '../../control-plane/src/cache/snapshot.ts';
import { parseConfigMap } from '../../control-plane/src/model/parse-configmap.ts';
import { encodeDiscoveryResponse } from '../../control-plane/src/server/discovery-messages.ts';
import { translateAmbassador } from '../../control-plane/src/translate/ambassador.ts';
import { CLUSTER } from '../../control-plane/src/xds/type-urls.ts';
import { xdsRoot } from '../../control-plane/src/xds/protos.ts';

const AMBASSADORS = 500;

function config(i: number): string {
  const upstreams = Array.from({ length: 10 }, (_, u) => `  up-${u}: {endpoints: ["10.${i % 250}.${u}.1:8080", "10.${i % 250}.${u}.2:8080"]}`).join('\n');
  const routes = Array.from({ length: 10 }, (_, r) => `      - match: {prefix: /r${r}/, headers: {x-tenant: "t${r}"}}
        split: [{upstream: up-${r}, weight: 90}, {upstream: up-${(r + 1) % 10}, weight: 10}]
        timeout: 2s
        retries: {attempts: 2, perTryTimeout: 500ms}`).join('\n');
  return `ambassador: amb-${i}\nlisteners:\n  - name: api\n    port: 8000\n    routes:\n${routes}\nupstreams:\n${upstreams}\n`;
}

const root = await xdsRoot();
const texts = Array.from({ length: AMBASSADORS }, (_, i) => config(i));

let t = performance.now();
const models = texts.map((text, i) => {
  const r = parseConfigMap({ kind: 'ConfigMap', namespace: 'bench', name: `c${i}`, labels: {}, origin: 'bench', data: { 'ambassador.yaml': text } });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.config;
});
const parseMs = performance.now() - t;

t = performance.now();
const snapshots = models.map((m, i) => buildSnapshot(translateAmbassador({ namespace: 'bench', ambassador: `amb-${i}` }, m).map((r) => encodeResource(root, r)), []));
const buildMs = performance.now() - t;
const resources = snapshots.reduce((n, s) => n + Object.values(s.types).reduce((k, ty) => k + ty.resources.size, 0), 0);

// A CDS response for one group: spliced from the shared encoded bytes, versus encoding every
// resource again for each stream (what a cache without shared bytes would do).
const snap = snapshots[0];
if (!snap) throw new Error('no snapshot');
const clusters = [...snap.types[CLUSTER].resources.values()];
const N = 20_000;
t = performance.now();
for (let i = 0; i < N; i++) {
  encodeDiscoveryResponse({ versionInfo: snap.version, typeUrl: CLUSTER, nonce: String(i), resources: clusters.map((c) => c.any), controlPlane: 'bench' });
}
const splicedUs = ((performance.now() - t) * 1000) / N;
const Cluster = root.lookupType('envoy.config.cluster.v3.Cluster');
const Response = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
t = performance.now();
for (let i = 0; i < N / 10; i++) {
  Response.encode(Response.fromObject({
    version_info: snap.version, type_url: CLUSTER, nonce: String(i),
    resources: clusters.map((c) => ({ type_url: CLUSTER, value: Cluster.encode(Cluster.fromObject(c.body)).finish() })),
  })).finish();
}
const reencodedUs = ((performance.now() - t) * 1000) / (N / 10);

console.log(`ambassadors: ${AMBASSADORS} (10 routes, 10 upstreams each) → ${resources} Envoy resources`);
console.log(`parse + validate:            ${(parseMs / AMBASSADORS).toFixed(3)} ms per ConfigMap`);
console.log(`translate + encode + hash:   ${(buildMs / AMBASSADORS).toFixed(3)} ms per snapshot (${Math.round(resources / (buildMs / 1000))} resources/s)`);
console.log(`CDS response, shared bytes:  ${splicedUs.toFixed(1)} µs per stream`);
console.log(`CDS response, re-encoded:    ${reencodedUs.toFixed(1)} µs per stream`);
console.log(`ratio re-encoded / shared:   ${(reencodedUs / splicedUs).toFixed(1)}x`);
