// What an invalid ConfigMap costs the others: edit-to-Envoy latency of a valid ambassador while a
// neighbour ConfigMap stays invalid (deeply nested YAML, or a large config full of errors), and
// the control plane's own build time per change (xds_ambassador_build_seconds).
// Run: scripts/bench.sh invalid-neighbour
import { startUpstream } from '../../control-plane/src/demo/upstream.ts';
import { freePorts } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, startAmbassador, startControlPlaneProcess, waitUntil } from '../helpers/scenario.ts';

const EDITS = 15;
const v1 = await startUpstream({ name: 'v1' });
const v2 = await startUpstream({ name: 'v2' });
const [port] = await freePorts(1) as [number];
const manifest = (upstream: string, n: number) => configMap({ name: 'edited', namespace: 'bench', config: `
ambassador: edited
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

const neighbours: Record<string, string> = {
  none: '',
  // 5000 levels of flow lists: the yaml library's recursive composer overflows its stack on it.
  'deeply nested (5000 levels)': configMap({ name: 'deep', namespace: 'bench', config: `ambassador: deep\nlisteners: ${'['.repeat(5000)}${']'.repeat(5000)}` }),
  // 3000 listeners that each miss their port and routes: ~6000 schema errors.
  'large, invalid (3000 listeners)': configMap({ name: 'large', namespace: 'bench', config: `ambassador: large\nlisteners:\n${Array.from({ length: 3000 }, (_, i) => `  - name: l${i}`).join('\n')}` }),
};

const buildSeconds = async (httpPort: number): Promise<{ sum: number; count: number }> => {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { sum: value('xds_ambassador_build_seconds_sum'), count: value('xds_ambassador_build_seconds_count') };
};

try {
  for (const [name, neighbour] of Object.entries(neighbours)) {
    const cp = await startControlPlaneProcess({ 'edited.yaml': manifest('v1', 0), ...(neighbour ? { 'neighbour.yaml': neighbour } : {}) });
    const envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'edited', namespace: 'bench' });
    await waitUntil(async () => (await get(port, '/', {}, 1000)).upstream === 'v1', 10_000, 'the first config');
    const before = await buildSeconds(cp.httpPort);
    const samples: number[] = [];
    for (let i = 1; i <= EDITS; i++) {
      const upstream = i % 2 ? 'v2' : 'v1';
      const started = performance.now();
      await cp.write('edited.yaml', manifest(upstream, i));
      await waitUntil(async () => JSON.stringify(await envoy.configDump('dynamic_route_configs')).includes(`/edit-${i}`), 10_000, `edit ${i}`, 2);
      samples.push(performance.now() - started);
    }
    const after = await buildSeconds(cp.httpPort);
    samples.sort((a, b) => a - b);
    const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))]?.toFixed(0);
    const builds = after.count - before.count;
    console.log(`neighbour ${name}: edit saved → Envoy applied it: p50 ${pct(50)} ms, max ${pct(100)} ms; build per change ${(((after.sum - before.sum) / builds) * 1000).toFixed(1)} ms (${builds} builds)`);
    await envoy.stop();
    await cp.stop();
  }
} finally {
  await stopAll();
  await Promise.all([v1.close(), v2.close()]);
}
