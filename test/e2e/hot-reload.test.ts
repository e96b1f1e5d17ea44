// Hot reload under load: a steady request loop through a real Envoy sees no failed request while
// the manifest is edited 20 times — routes, splits, upstreams added, renamed and removed.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePort } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, startAmbassador, startControlPlaneProcess, waitUntil, type ControlPlaneProcess } from '../helpers/scenario.ts';

let ups: Upstream[];
let cp: ControlPlaneProcess;
let envoy: EnvoyHandle;
let port: number;

/** Edit number i: which upstreams exist, how the catch-all route uses them, and what answers.
 * `edited` is the upstream that answers /edit-i under this edit only: under edit i-1, /edit-i falls
 * to the catch-all route, which never sends to it. */
function edit(i: number): { manifest: string; edited: string; expect: (upstream: string | undefined) => boolean } {
  const names = ['a', 'b', 'c'];
  // Upstream names rotate, so clusters are added and removed as the edits go on.
  const defined = [names[i % 3] as string, names[(i + 1) % 3] as string];
  const upstreams = defined.map((n) => `  ${n}-${i % 2}: {endpoints: ["127.0.0.1:${ups[names.indexOf(n)]?.port}"], connectTimeout: 1s}`).join('\n');
  const [first, second] = defined.map((n) => `${n}-${i % 2}`);
  const route = i % 4 === 0
    ? `split: [{upstream: ${first}, weight: 50}, {upstream: ${second}, weight: 50}]`
    : `upstream: ${first}`;
  const manifest = configMap({
    name: 'reload',
    namespace: 'hot',
    config: `
ambassador: reload
listeners:
  - name: api
    port: ${port}
    routes:
      - match: {prefix: /edit-${i}}
        upstream: ${second}
      - match: {prefix: /}
        ${route}
        timeout: 5s
upstreams:
${upstreams}`,
  });
  const allowed = new Set(i % 4 === 0 ? defined : [defined[0]]);
  return { manifest, edited: defined[1] as string, expect: (u) => u !== undefined && allowed.has(u) };
}

beforeAll(async () => {
  ups = await Promise.all(['a', 'b', 'c'].map((name) => startUpstream({ name })));
  port = await freePort();
  cp = await startControlPlaneProcess({ 'reload.yaml': edit(0).manifest });
  envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'reload', namespace: 'hot' });
  await waitUntil(async () => (await get(port)).status === 200, 10_000, 'the listener to serve');
});

afterAll(async () => {
  await stopAll();
  await Promise.all(ups.map((u) => u.close()));
});

it('serves 20 successive edits, each within 1 s, with zero failed requests in a steady loop', async () => {
  const pid = envoy.pid;
  const failures: string[] = [];
  let requests = 0;
  let running = true;
  // Two concurrent keep-alive loops, as an application would send.
  const loop = async () => {
    while (running) {
      try {
        const r = await get(port, '/', {}, 5000);
        requests++;
        if (r.status !== 200) failures.push(`${r.status} ${r.body.slice(0, 120)}`);
      } catch (e) {
        failures.push(String(e));
      }
    }
  };
  const loops = [loop(), loop()];
  const latencies: number[] = [];
  try {
    for (let i = 1; i <= 20; i++) {
      const e = edit(i);
      await cp.write('reload.yaml', e.manifest);
      // /edit-i must be answered by its own route (the catch-all answers it 200 before the edit too).
      latencies.push(await waitUntil(async () => {
        const edited = await get(port, `/edit-${i}`);
        return edited.status === 200 && edited.upstream === e.edited && e.expect((await get(port)).upstream);
      }, 1000, `edit ${i} to be served`));
    }
  } finally {
    running = false;
    await Promise.all(loops);
  }
  expect(failures).toEqual([]);
  expect(requests).toBeGreaterThan(200);
  expect(envoy.pid).toBe(pid);
  expect(Math.max(...latencies)).toBeLessThan(1000);
  // Every update was accepted; none rejected.
  const stats = await envoy.stats('(cds|lds)\\.update_rejected');
  expect(stats.get('cluster_manager.cds.update_rejected')).toBe(0);
  expect(stats.get('listener_manager.lds.update_rejected')).toBe(0);
  // Renamed upstreams leave no stale clusters behind once the routes moved off them (edit 20 defines c-0 and a-0).
  const live = async () => [...new Set((await envoy.clusters()).split('\n').map((l) => l.split('::')[0] ?? '').filter((n) => n.startsWith('hot/reload/')))].sort();
  await waitUntil(async () => (await live()).length === 2, 2000, 'stale clusters to be removed');
  expect(await live()).toEqual(['hot/reload/a-0', 'hot/reload/c-0']);
});
