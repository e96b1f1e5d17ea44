// A real Envoy, configured only by our control plane, routes real HTTP traffic.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePort } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, startAmbassador, startControlPlaneProcess, waitUntil, XDS_MODE, type ControlPlaneProcess } from '../helpers/scenario.ts';

let v1: Upstream;
let v2: Upstream;
let cp: ControlPlaneProcess;
let envoy: EnvoyHandle;
let port: number;

const DEFAULT_UPSTREAMS = () => `  v1: {endpoints: ["127.0.0.1:${v1.port}"], connectTimeout: 1s}
  v2: {endpoints: ["127.0.0.1:${v2.port}"], connectTimeout: 1s}`;

/** The test ambassador with these routes and (by default) upstreams v1 and v2. */
function config(routes: string, upstreams = DEFAULT_UPSTREAMS()): string {
  return configMap({
    name: 'shop-ambassador',
    namespace: 'shop',
    config: `
ambassador: shop
listeners:
  - name: api
    port: ${port}
    routes:
${routes.trim().split('\n').map((l) => `      ${l}`).join('\n')}
upstreams:
${upstreams}`,
  });
}

beforeAll(async () => {
  [v1, v2] = await Promise.all([startUpstream({ name: 'v1' }), startUpstream({ name: 'v2' })]);
  port = await freePort();
  cp = await startControlPlaneProcess({ 'shop.yaml': config('- match: {prefix: /}\n  upstream: v1') });
  envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'shop', namespace: 'shop' });
  await waitUntil(async () => (await get(port)).upstream === 'v1', 10_000, 'the listener to serve');
});

afterAll(async () => {
  await stopAll();
  await Promise.all([v1?.close(), v2?.close()]);
});

describe('HTTP ambassador', () => {
  it(`speaks the ADS protocol of this run (${XDS_MODE}: the e2e files run once per protocol)`, () => {
    const opened = cp.proc.output().split('\n').filter((l) => l.includes('"ADS stream opened"') && l.includes(`"node":"${envoy.name}"`));
    expect(opened.length).toBeGreaterThan(0);
    for (const line of opened) expect(JSON.parse(line)).toMatchObject({ protocol: XDS_MODE });
  });

  it('routes a request through Envoy to the upstream, which sees it', async () => {
    v1.reset();
    const r = await get(port, '/movies/42?lang=en', { 'x-trace': 'abc' });
    expect(r.status).toBe(200);
    expect(r.upstream).toBe('v1');
    expect(v1.requests).toHaveLength(1);
    expect(v1.requests[0]).toMatchObject({ method: 'GET', path: '/movies/42?lang=en' });
    expect(v1.requests[0]?.headers['x-trace']).toBe('abc');
  });

  it('applies an edited manifest within 1 s, in the same Envoy process', async () => {
    const pid = envoy.pid;
    await cp.write('shop.yaml', config('- match: {prefix: /}\n  upstream: v2'));
    const elapsed = await waitUntil(async () => (await get(port)).upstream === 'v2', 1000, 'the edit to reach Envoy');
    expect(elapsed).toBeLessThan(1000);
    expect(envoy.pid).toBe(pid);
    // The listener was not re-created: the edit only changed routes (RDS), not the listener.
    const stats = await envoy.stats('listener_manager.listener_(added|modified|removed)');
    expect(stats.get('listener_manager.listener_modified')).toBe(0);
    expect(stats.get('listener_manager.listener_removed')).toBe(0);
  });

  it('matches an exact path, a path prefix and request headers', async () => {
    await cp.write('shop.yaml', config(`
- match: {path: /exact}
  upstream: v2
- match: {prefix: /, headers: {x-canary: "1"}}
  upstream: v2
- match: {prefix: /beta/, headers: {x-beta: {present: true}}}
  upstream: v2
- match: {prefix: /}
  upstream: v1`));
    await waitUntil(async () => (await get(port, '/other')).upstream === 'v1', 1000, 'the new routes');
    expect((await get(port, '/exact')).upstream).toBe('v2');
    expect((await get(port, '/exact/more')).upstream).toBe('v1');
    expect((await get(port, '/other', { 'x-canary': '1' })).upstream).toBe('v2');
    expect((await get(port, '/other', { 'x-canary': '2' })).upstream).toBe('v1');
    expect((await get(port, '/beta/x', { 'x-beta': 'anything' })).upstream).toBe('v2');
    expect((await get(port, '/beta/x')).upstream).toBe('v1');
  });

  it('retries a failing upstream until it answers, and the upstream counts every attempt', async () => {
    await cp.write('shop.yaml', config(`
- match: {prefix: /}
  upstream: v1
  retries: {attempts: 3, on: [5xx], backoff: {base: 10ms, max: 50ms}}`));
    await waitUntil(async () => JSON.stringify(await envoy.configDump('dynamic_route_configs')).includes('"num_retries":3'), 1000, 'the retry policy');
    v1.reset();
    v1.setBehaviour({ failNext: 2, failStatus: 503 });
    const r = await get(port, '/flaky');
    expect(r.status).toBe(200);
    expect(r.upstream).toBe('v1');
    expect(v1.requests.map((q) => q.status)).toEqual([503, 503, 200]);

    // More failures than attempts: the client finally sees the upstream's error.
    v1.reset();
    v1.setBehaviour({ failNext: 10, failStatus: 503 });
    expect((await get(port, '/flaky')).status).toBe(503);
    expect(v1.requests).toHaveLength(4);
    v1.reset();
  });

  it('retries only the configured status codes', async () => {
    await cp.write('shop.yaml', config(`
- match: {prefix: /}
  upstream: v1
  retries: {attempts: 2, on: [reset], statusCodes: [418]}`));
    // (a bare '418' could also match a port or a version hash, and the previous policy would be tested)
    await waitUntil(async () => JSON.stringify(await envoy.configDump('dynamic_route_configs')).includes('"retriable_status_codes":[418]'), 1000, 'the retry policy');
    v1.reset();
    v1.setBehaviour({ failNext: 1, failStatus: 418 });
    expect((await get(port)).status).toBe(200);
    expect(v1.requests.map((q) => q.status)).toEqual([418, 200]);
    v1.reset();
    v1.setBehaviour({ failNext: 1, failStatus: 500 });
    expect((await get(port)).status).toBe(500);
    expect(v1.requests).toHaveLength(1);
    v1.reset();
  });

  it('splits traffic 90/10 within a 3-sigma band over 2,000 requests', async () => {
    await cp.write('shop.yaml', config(`
- match: {prefix: /}
  split: [{upstream: v1, weight: 90}, {upstream: v2, weight: 10}]`));
    await waitUntil(async () => JSON.stringify(await envoy.configDump('dynamic_route_configs')).includes('weighted_clusters'), 1000, 'the split');
    const n = 2000;
    let toV2 = 0;
    for (let i = 0; i < n; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => get(port)));
      for (const r of batch) {
        expect(r.status).toBe(200);
        if (r.upstream === 'v2') toV2++;
      }
    }
    const mean = n * 0.1;
    const sigma = Math.sqrt(n * 0.1 * 0.9);
    expect(toV2).toBeGreaterThanOrEqual(mean - 3 * sigma);
    expect(toV2).toBeLessThanOrEqual(mean + 3 * sigma);
  });

  it('answers 504 when the route timeout passes', async () => {
    await cp.write('shop.yaml', config(`
- match: {prefix: /}
  upstream: v1
  timeout: 300ms`));
    await waitUntil(async () => JSON.stringify(await envoy.configDump('dynamic_route_configs')).includes('"timeout":"0.300s"'), 1000, 'the timeout');
    v1.setBehaviour({ delayMs: 2000 });
    const started = performance.now();
    const r = await get(port);
    const elapsed = performance.now() - started;
    v1.reset();
    expect(r.status).toBe(504);
    expect(r.body).toContain('upstream request timeout');
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1500);
  });

  it('keeps serving when an upstream is modified (the cluster re-warms from its endpoints)', async () => {
    await cp.write('shop.yaml', config('- match: {prefix: /}\n  upstream: v1'));
    // The previous test's route also went to v1: wait for its 300ms timeout to be gone instead.
    await waitUntil(async () => !JSON.stringify(await envoy.configDump('dynamic_route_configs')).includes('"timeout":"0.300s"') && (await get(port)).upstream === 'v1', 1000, 'v1 without the route timeout');
    const modified = (ms: number) => config('- match: {prefix: /}\n  upstream: v1', DEFAULT_UPSTREAMS().replace('connectTimeout: 1s', `connectTimeout: ${ms}ms`));
    for (const ms of [700, 800]) {
      await cp.write('shop.yaml', modified(ms));
      await waitUntil(async () => JSON.stringify(await envoy.configDump('dynamic_active_clusters')).includes(`"connect_timeout":"0.${ms}s"`), 1000, `connect timeout ${ms}ms active`);
      expect(JSON.stringify(await envoy.configDump('dynamic_warming_clusters'))).not.toContain('shop/shop/v1');
      expect((await get(port)).upstream).toBe('v1');
    }
  });

  it('moves to a new upstream with new endpoints, and removes the old cluster', async () => {
    const v3 = await startUpstream({ name: 'v3' });
    try {
      const v3Only = `  v3: {endpoints: ["127.0.0.1:${v3.port}"]}`;
      await cp.write('shop.yaml', config('- match: {prefix: /}\n  upstream: v3', `${DEFAULT_UPSTREAMS()}\n${v3Only}`));
      await waitUntil(async () => (await get(port)).upstream === 'v3', 1000, 'the new upstream');
      await cp.write('shop.yaml', config('- match: {prefix: /}\n  upstream: v3', v3Only));
      await waitUntil(async () => !(await envoy.clusters()).includes('shop/shop/v1::'), 2000, 'the unused clusters to be removed');
      expect((await get(port)).upstream).toBe('v3');
    } finally {
      await v3.close();
    }
  });
});
