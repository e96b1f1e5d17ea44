// Edit-to-traffic latency with real Envoys: a manifest edit is saved, and we time until every
// Envoy of the group routes to the new upstream. Run: scripts/bench.sh propagation
import { startUpstream } from '../../control-plane/src/demo/upstream.ts';
import { freePorts } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, startAmbassador, startControlPlaneProcess, waitUntil } from '../helpers/scenario.ts';

const ENVOYS = 6;
const EDITS = 20;

const v1 = await startUpstream({ name: 'v1' });
const v2 = await startUpstream({ name: 'v2' });
// Every Envoy of the group binds the same listener port on 127.0.0.1 (SO_REUSEPORT, as in
// test/e2e/environments.test.ts): loopback only, like every test.
const [port] = await freePorts(1) as [number];
const manifest = (upstream: string, n: number) => configMap({ name: 'bench', namespace: 'bench', config: `
ambassador: bench
listeners:
  - name: api
    port: ${port}
    routes:
      - match: {prefix: /edit-${n}}
        upstream: ${upstream}
      - match: {prefix: /}
        upstream: ${upstream}
upstreams:
  v1: {endpoints: ["127.0.0.1:${v1.port}"]}
  v2: {endpoints: ["127.0.0.1:${v2.port}"]}` });

try {
  const cp = await startControlPlaneProcess({ 'bench.yaml': manifest('v1', 0) });
  // One Envoy owns the port (SO_REUSEPORT lets all of them bind it, the kernel spreads connections);
  // we ask each Envoy's admin API which route config version it has, and send traffic through the port.
  const envoys = await Promise.all(Array.from({ length: ENVOYS }, () => startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'bench', namespace: 'bench' })));
  const routeVersion = async (e: (typeof envoys)[number]) => JSON.stringify(await e.configDump('dynamic_route_configs'));
  const samples: number[] = [];
  for (let i = 1; i <= EDITS; i++) {
    const upstream = i % 2 ? 'v2' : 'v1';
    const started = performance.now();
    await cp.write('bench.yaml', manifest(upstream, i));
    await Promise.all(envoys.map((e) => waitUntil(async () => (await routeVersion(e)).includes(`/edit-${i}`), 5000, `edit ${i}`, 2)));
    samples.push(performance.now() - started);
    if ((await get(port, `/edit-${i}`)).upstream !== upstream) throw new Error(`edit ${i}: traffic does not follow`);
  }
  samples.sort((a, b) => a - b);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))]?.toFixed(0);
  console.log(`${ENVOYS} Envoys in one group, ${EDITS} edits of the manifest file`);
  console.log(`edit saved → every Envoy applied it: p50 ${pct(50)} ms, p95 ${pct(95)} ms, max ${pct(100)} ms (includes the 100 ms file debounce)`);
  console.log(`ratio to the 1 s target: p95 is ${(Number(pct(95)) / 1000).toFixed(2)}x`);
} finally {
  await stopAll();
  await Promise.all([v1.close(), v2.close()]);
}
