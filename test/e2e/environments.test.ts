// One ConfigMap, Envoys in different environments (node.metadata.environment): each reaches its own
// upstream; an environment the config does not name gets the base config.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePort } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, startAmbassador, startControlPlaneProcess, waitUntil, type ControlPlaneProcess } from '../helpers/scenario.ts';

let prod: Upstream;
let staging: Upstream;
let cp: ControlPlaneProcess;
let port: number;
let envoys: { none: EnvoyHandle; staging: EnvoyHandle; qa: EnvoyHandle };

const manifest = (stagingConfig: string) => configMap({
  name: 'db',
  namespace: 'shop',
  config: `
ambassador: orders
listeners:
  - name: db
    port: ${port}
    routes: [{match: {prefix: /}, upstream: database}]
upstreams:
  database: {endpoints: ["127.0.0.1:${prod.port}"]}
environments:
${stagingConfig}`,
});

/** The endpoints an Envoy has for the database cluster, from its admin API. */
async function endpoints(e: EnvoyHandle): Promise<string[]> {
  const lines = (await e.clusters()).split('\n').filter((l) => l.startsWith('shop/orders/database::127.0.0.1:') && l.includes('::cx_active::'));
  return lines.map((l) => l.split('::')[1] ?? '').sort();
}

beforeAll(async () => {
  [prod, staging] = await Promise.all([startUpstream({ name: 'prod' }), startUpstream({ name: 'staging' })]) as [Upstream, Upstream];
  port = await freePort();
  cp = await startControlPlaneProcess({ 'db.yaml': manifest(`  staging:\n    upstreams:\n      database: {endpoints: ["127.0.0.1:${staging.port}"]}`) });
  const [none, stg, qa] = await Promise.all([
    startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'orders', namespace: 'shop' }),
    startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'orders', namespace: 'shop', environment: 'staging' }),
    startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'orders', namespace: 'shop', environment: 'qa' }),
  ]);
  envoys = { none, staging: stg, qa };
  await waitUntil(async () => (await get(port)).status === 200, 10_000, 'the listener');
});

afterAll(async () => {
  await stopAll();
  await Promise.all([prod?.close(), staging?.close()]);
});

it('gives each environment its own upstream endpoints from one ConfigMap', async () => {
  expect(await endpoints(envoys.none)).toEqual([`127.0.0.1:${prod.port}`]);
  expect(await endpoints(envoys.staging)).toEqual([`127.0.0.1:${staging.port}`]);
  expect(await endpoints(envoys.qa)).toEqual([`127.0.0.1:${prod.port}`]);
  // Real traffic: the three Envoys share the listener port (SO_REUSEPORT), so fresh connections
  // reach all of them, and both upstreams get requests.
  prod.reset();
  staging.reset();
  const replies = await Promise.all(Array.from({ length: 60 }, () => get(port, '/', { connection: 'close' })));
  expect(replies.every((r) => r.status === 200)).toBe(true);
  expect(prod.requests.length).toBeGreaterThan(0);
  expect(staging.requests.length).toBeGreaterThan(0);
  expect(prod.requests.length + staging.requests.length).toBe(60);
});

it('moves an environment back to the base config when its overrides are removed, and forth again', async () => {
  await cp.write('db.yaml', manifest('  {}'));
  await waitUntil(async () => (await endpoints(envoys.staging)).join() === `127.0.0.1:${prod.port}`, 1000, 'staging on the base endpoints');
  await cp.write('db.yaml', manifest(`  qa:\n    upstreams:\n      database: {endpoints: ["127.0.0.1:${staging.port}"]}`));
  await waitUntil(async () => (await endpoints(envoys.qa)).join() === `127.0.0.1:${staging.port}`, 1000, 'qa on its own endpoints');
  expect(await endpoints(envoys.none)).toEqual([`127.0.0.1:${prod.port}`]);
  expect(await endpoints(envoys.staging)).toEqual([`127.0.0.1:${prod.port}`]);
});
