// Nothing the control plane did not see happen empties an Envoy. With real Envoys and a steady
// request loop (failed requests counted: zero): a file deleted and written back, a two-ConfigMap file
// rewritten in two writes, a newcomer ConfigMap claiming a served ambassador, and control plane
// restarts with the config unchanged (a Delta Envoy is sent none of what it has), while the only
// file is invalid and while the folder is empty.
import { appendFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePorts } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, requestLoop, startAmbassador, startControlPlaneProcess, waitUntil, XDS_MODE, type ControlPlaneProcess, type StatusBody } from '../helpers/scenario.ts';

interface HeldStatus extends StatusBody {
  held: { group: string; reason: string; nodes: string[] }[];
}

let v1: Upstream;
let v2: Upstream;
let dir: string;
let cp: ControlPlaneProcess;
let xdsPort: number;
let orders: EnvoyHandle;
let alpha: EnvoyHandle;
let beta: EnvoyHandle;
let ordersPort: number;
let alphaPort: number;
let betaPort: number;

const ambassadorConfig = (ambassador: string, port: number, upstream: 'v1' | 'v2', timeout = '5s') => `
ambassador: ${ambassador}
listeners:
  - name: api
    port: ${port}
    routes:
      - match: {prefix: /}
        upstream: ${upstream}
        timeout: ${timeout}
upstreams:
  v1: {endpoints: ["127.0.0.1:${v1.port}"]}
  v2: {endpoints: ["127.0.0.1:${v2.port}"]}`;

const ordersManifest = (upstream: 'v1' | 'v2', timeout = '5s') => configMap({ name: 'zz-orders', config: ambassadorConfig('orders', ordersPort, upstream, timeout) });
const pair = () => [
  configMap({ name: 'alpha', config: ambassadorConfig('alpha', alphaPort, 'v1') }),
  configMap({ name: 'beta', config: ambassadorConfig('beta', betaPort, 'v2') }),
];

async function status(): Promise<HeldStatus> {
  return (await cp.status()) as HeldStatus;
}

async function restartControlPlane(): Promise<void> {
  const stopping = cp.proc;
  await cp.stop();
  expect(stopping.exited()).toEqual({ code: 0, signal: null });
  cp = await startControlPlaneProcess({}, { xdsPort, dir });
}

/** Envoy is connected to the (new) control plane. */
async function reconnected(envoy: EnvoyHandle): Promise<void> {
  await waitUntil(async () => (await envoy.stats('control_plane\\.connected_state')).get('control_plane.connected_state') === 1, 30_000, `${envoy.name} reconnected`);
}

const removedListeners = async (envoy: EnvoyHandle) => (await envoy.stats('listener_manager\\.listener_removed')).get('listener_manager.listener_removed');

beforeAll(async () => {
  [v1, v2] = await Promise.all([startUpstream({ name: 'v1' }), startUpstream({ name: 'v2' })]) as [Upstream, Upstream];
  [ordersPort, alphaPort, betaPort] = await freePorts(3) as [number, number, number];
  dir = await mkdtemp(join(tmpdir(), 'xds-absence-'));
  cp = await startControlPlaneProcess({ 'orders.yaml': ordersManifest('v1'), 'pair.yaml': pair().join('---\n') }, { dir });
  xdsPort = cp.xdsPort;
  [orders, alpha, beta] = await Promise.all([
    startAmbassador({ xdsPort, ambassador: 'orders' }),
    startAmbassador({ xdsPort, ambassador: 'alpha' }),
    startAmbassador({ xdsPort, ambassador: 'beta' }),
  ]);
  await waitUntil(async () => (await get(ordersPort)).upstream === 'v1' && (await get(alphaPort)).upstream === 'v1' && (await get(betaPort)).upstream === 'v2', 10_000, 'every ambassador serving');
}, 60_000);

afterAll(async () => {
  await stopAll();
  await Promise.all([v1?.close(), v2?.close()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the directory source confirms a deletion only after its grace period', () => {
  it('a file deleted and written back 300 ms later (with an edit): zero failed requests, the listener never removed, the edit applied', async () => {
    const removedBefore = await removedListeners(orders);
    const loop = requestLoop(ordersPort, 'v1');
    try {
      await rm(join(dir, 'orders.yaml'));
      await new Promise((r) => setTimeout(r, 300));
      await writeFile(join(dir, 'orders.yaml'), ordersManifest('v1', '6s'));
      await waitUntil(async () => (await status()).groups.find((g) => g.group === 'default/orders')?.served !== undefined, 1000, 'status');
      // The edit (a new timeout) reaches Envoy well within a second of the write.
      await orders.waitFor(async () => JSON.stringify(await orders.configDump('dynamic_route_configs')).includes('"6s"'), 1000, 'the edit applied');
      await new Promise((r) => setTimeout(r, 2500)); // past the grace period: nothing is removed later
    } finally {
      await loop.stop();
    }
    expect(loop.failures).toEqual([]);
    expect(loop.requests).toBeGreaterThan(50);
    expect(await removedListeners(orders)).toBe(removedBefore);
  });

  it('a two-ConfigMap file rewritten in two writes 300 ms apart: zero failed requests on either ambassador', async () => {
    const removedBefore = await removedListeners(beta);
    const loops = [requestLoop(alphaPort, 'v1'), requestLoop(betaPort, 'v2')];
    try {
      const [first, second] = pair();
      await writeFile(join(dir, 'pair.yaml'), `${first}---\n`); // beta is not in the file for 300 ms
      await new Promise((r) => setTimeout(r, 300));
      await appendFile(join(dir, 'pair.yaml'), second as string);
      await new Promise((r) => setTimeout(r, 2500));
    } finally {
      await Promise.all(loops.map((l) => l.stop()));
    }
    expect(loops.flatMap((l) => l.failures)).toEqual([]);
    expect(await removedListeners(beta)).toBe(removedBefore);
  });
});

describe('ownership is stable', () => {
  it('a newcomer ConfigMap claiming a served ambassador is rejected, and the serving one keeps serving', async () => {
    const loop = requestLoop(ordersPort, 'v1');
    try {
      // Its name sorts first: before, that was enough to take the ambassador over.
      await writeFile(join(dir, 'aa-newcomer.yaml'), configMap({ name: 'aa-newcomer', config: ambassadorConfig('orders', ordersPort, 'v2') }));
      await waitUntil(async () => (await status()).errors.length > 0, 2000, 'the newcomer reported');
      expect((await status()).errors).toEqual([
        `${join(dir, 'aa-newcomer.yaml')}:10: ConfigMap default/aa-newcomer: ambassador.yaml: ambassador: ambassador "orders" in namespace "default" is already configured by ConfigMap default/zz-orders; put all of an ambassador's listeners in one ConfigMap, or give this one another ambassador name`,
      ]);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await loop.stop();
      await rm(join(dir, 'aa-newcomer.yaml'));
    }
    expect(loop.failures).toEqual([]);
    await waitUntil(async () => (await status()).errors.length === 0, 4000, 'the newcomer gone (after the grace period)');
  });
});

describe('a control plane restart empties no Envoy', () => {
  it(`with the config unchanged: every Envoy accepts the same versions again, ${XDS_MODE === 'delta' ? 'and is sent none of the resources it has' : 'sent all of them again'}; an edit of one endpoint then sends ${XDS_MODE === 'delta' ? 'one resource' : 'the whole EDS type'}`, async () => {
    const resourcesSent = async () => {
      const text = await (await fetch(`http://127.0.0.1:${cp.httpPort}/metrics`)).text();
      return [...text.matchAll(/^xds_ambassador_resources_sent_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const groups = ['default/alpha', 'default/beta', 'default/orders'];
    const allAccepted = async () => {
      const s = await status();
      return groups.every((g) => { const x = s.groups.find((y) => y.group === g); return x !== undefined && x.lastGood === x.latest; });
    };
    const versionsBefore = (await status()).groups.map((g) => [g.group, g.latest]);
    const loop = requestLoop(ordersPort, 'v1');
    let afterRestart: number;
    const current = await readFile(join(dir, 'orders.yaml'), 'utf8');
    try {
      await restartControlPlane();
      await Promise.all([orders, alpha, beta].map(reconnected));
      // Accepted from the new process: in Delta by the ACK of an empty answer per type.
      await waitUntil(allAccepted, 10_000, 'every group accepted again from the new control plane');
      expect((await status()).groups.map((g) => [g.group, g.latest])).toEqual(versionsBefore);
      afterRestart = await resourcesSent();

      // One more endpoint for v2 of orders (not the upstream its traffic goes to): one ClusterLoadAssignment changes.
      await cp.write('orders.yaml', current.replace(`["127.0.0.1:${v2.port}"]`, `["127.0.0.1:${v2.port}", "127.0.0.2:${v2.port}"]`));
      await orders.waitFor(async () => JSON.stringify(await orders.configDump(undefined, { includeEds: true })).includes('127.0.0.2'), 2000, 'the new endpoint applied');
      await waitUntil(allAccepted, 5000, 'the edit accepted');
    } finally {
      await loop.stop();
    }
    const forTheEdit = await resourcesSent() - afterRestart;
    if (XDS_MODE === 'delta') {
      expect(afterRestart).toBe(0);
      expect(forTheEdit).toBe(1);
    } else {
      // Each Envoy's whole config (2 clusters, 2 endpoint assignments, a listener, a route) at least.
      expect(afterRestart).toBeGreaterThanOrEqual(3 * 6);
      expect(forTheEdit).toBe(2);
    }
    expect(loop.failures).toEqual([]);
    await cp.write('orders.yaml', current);
  });

  it('while the ambassador\'s only file is invalid: zero failed requests; the group is held and reported until the file is fixed', async () => {
    await writeFile(join(dir, 'orders.yaml'), ordersManifest('v1').replace('timeout: 5s', 'timeout: soon'));
    await waitUntil(async () => (await status()).errors.length > 0, 2000, 'the error reported');
    const loop = requestLoop(ordersPort, 'v1');
    let log: string;
    try {
      await restartControlPlane();
      await reconnected(orders);
      await waitUntil(async () => (await status()).held.some((h) => h.group === 'default/orders' && h.nodes.includes(orders.name)), 5000, 'the group held, with its Envoy');
      const held = (await status()).held.find((h) => h.group === 'default/orders');
      expect(held?.reason).toBe('ConfigMap default/zz-orders claims it but has had no valid version since this control plane started: its Envoys are not answered and keep the config they have');
      expect((await status()).groups.find((g) => g.group === 'default/orders')).toBeUndefined();
      const metrics = await (await fetch(`http://127.0.0.1:${cp.httpPort}/metrics`)).text();
      expect(metrics).toMatch(/^xds_ambassador_held_groups 1$/m);
      log = cp.proc.output();
      expect(log).toContain(`ambassador default/orders is held (no response to Envoy ${orders.name})`);
      await new Promise((r) => setTimeout(r, 1000));

      // Fixed (to v2): served at once, and no longer held.
      await writeFile(join(dir, 'orders.yaml'), ordersManifest('v2'));
      await waitUntil(async () => (await get(ordersPort)).upstream === 'v2', 2000, 'the fixed config served');
    } finally {
      await loop.stop();
    }
    // Every request before the fix reached v1; after it, v2 only.
    const failures = loop.failures.filter((f) => f !== '200 v2');
    expect(failures).toEqual([]);
    expect(loop.requests).toBeGreaterThan(100);
    expect((await status()).held).toEqual([]);
    expect(cp.proc.output()).toMatch(/ambassador default\/orders is no longer held: its Envoys are served version \w+/);
  });

  it('with the folder empty (a volume not mounted yet): zero failed requests on every ambassador; they are held until the files are back', async () => {
    const stash = join(tmpdir(), `xds-stash-${process.pid}`);
    await mkdir(stash, { recursive: true });
    const loops = [requestLoop(ordersPort, 'v2'), requestLoop(alphaPort, 'v1'), requestLoop(betaPort, 'v2')];
    try {
      await cp.stop();
      for (const f of ['orders.yaml', 'pair.yaml']) await rename(join(dir, f), join(stash, f));
      cp = await startControlPlaneProcess({}, { xdsPort, dir });
      await Promise.all([orders, alpha, beta].map(reconnected));
      await waitUntil(async () => (await status()).held.flatMap((h) => h.nodes).length === 3, 5000, 'all three Envoys held');
      expect((await status()).held.map((h) => h.group)).toEqual(['default/alpha', 'default/beta', 'default/orders']);
      expect((await status()).held[0]?.reason).toBe('no ConfigMap configures it, and none was seen deleted, since this control plane started; its Envoys that have config keep it');
      await new Promise((r) => setTimeout(r, 1000));
      for (const f of ['orders.yaml', 'pair.yaml']) await rename(join(stash, f), join(dir, f));
      await waitUntil(async () => (await status()).held.length === 0, 2000, 'released');
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await Promise.all(loops.map((l) => l.stop()));
      await rm(stash, { recursive: true, force: true });
    }
    expect(loops.flatMap((l) => l.failures)).toEqual([]);
    expect(Math.min(...loops.map((l) => l.requests))).toBeGreaterThan(100);
  });

  it('a deletion the control plane sees still empties the ambassador (after the grace period)', async () => {
    await rm(join(dir, 'pair.yaml'));
    const active = async (envoy: EnvoyHandle) => ((await envoy.configDump('dynamic_listeners')) as { configs?: { active_state?: unknown }[] }).configs?.filter((l) => l.active_state !== undefined).length ?? 0;
    await new Promise((r) => setTimeout(r, 1000));
    expect(await active(alpha)).toBe(1); // within the grace period
    await waitUntil(async () => (await active(alpha)) === 0 && (await active(beta)) === 0, 3000, 'the listeners removed');
  });
});
