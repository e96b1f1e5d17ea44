// Credentials from Secrets: Envoy's credential_injector, per route, with the value delivered only over SDS.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePort } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, secretManifest, startAmbassador, startControlPlaneProcess, waitUntil, type ControlPlaneProcess } from '../helpers/scenario.ts';

const NS = 'movies';
const TOKEN = 'tmdb-api-token-5f0c1d2e3b4a';
const ROTATED = 'tmdb-api-token-rotated-9a8b7c';
let api: Upstream;
let cp: ControlPlaneProcess;
let envoy: EnvoyHandle;
let port: number;

const ambassador = (key = 'token') => configMap({
  name: 'tmdb',
  namespace: NS,
  config: `
ambassador: tmdb
listeners:
  - name: api
    port: ${port}
    routes:
      - match: {prefix: /3/}
        upstream: tmdb
        inject: {header: authorization, prefix: "Bearer ", secret: {name: tmdb, key: ${key}}}
      - match: {prefix: /key/}
        upstream: tmdb
        inject: {header: x-api-key, secret: {name: tmdb, key: ${key}}}
      - match: {prefix: /}
        upstream: tmdb
upstreams:
  tmdb: {endpoints: ["127.0.0.1:${api.port}"]}`,
});
const secret = (token: string) => secretManifest({ name: 'tmdb', namespace: NS, data: { token } });
const lastHeaders = () => api.requests.at(-1)?.headers ?? {};

beforeAll(async () => {
  api = await startUpstream({ name: 'tmdb' });
  port = await freePort();
  cp = await startControlPlaneProcess({ 'secret.yaml': secret(TOKEN), 'tmdb.yaml': ambassador() });
  envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'tmdb', namespace: NS });
  await waitUntil(async () => (await get(port, '/3/discover')).status === 200, 10_000, 'the listener to serve');
});

afterAll(async () => {
  await stopAll();
  await api?.close();
});

it('adds the header from the Secret, with its prefix, on the routes that ask for it only', async () => {
  await get(port, '/3/discover/movie');
  expect(lastHeaders().authorization).toBe(`Bearer ${TOKEN}`);
  await get(port, '/key/x');
  expect(lastHeaders()['x-api-key']).toBe(TOKEN);
  expect(lastHeaders().authorization).toBeUndefined();
  await get(port, '/health');
  expect(lastHeaders().authorization).toBeUndefined();
  expect(lastHeaders()['x-api-key']).toBeUndefined();
  // What the application sends in that header is replaced, never forwarded.
  await get(port, '/3/x', { authorization: 'Bearer from-the-app' });
  expect(lastHeaders().authorization).toBe(`Bearer ${TOKEN}`);
});

it('keeps the value out of listeners, routes and clusters, redacted in config_dump, and out of our logs and status', async () => {
  const dump = JSON.stringify(await envoy.configDump());
  expect(dump).not.toContain(TOKEN);
  expect(dump).not.toContain(Buffer.from(`Bearer ${TOKEN}`).toString('base64'));
  expect(dump).toContain(`"generic_secret":{"secret":{"inline_bytes":"${Buffer.from('[redacted]').toString('base64')}"}}`);
  expect(cp.proc.output()).not.toContain(TOKEN);
  expect(JSON.stringify(await cp.status())).not.toContain(TOKEN);
  expect(await (await fetch(`http://127.0.0.1:${cp.httpPort}/metrics`)).text()).not.toContain(TOKEN);
});

it('changes the header when the Secret changes, with no restart', async () => {
  const pid = envoy.pid;
  await cp.write('secret.yaml', secret(ROTATED));
  const elapsed = await waitUntil(async () => {
    await get(port, '/3/x');
    return lastHeaders().authorization === `Bearer ${ROTATED}`;
  }, 1000, 'the rotated token');
  expect(elapsed).toBeLessThan(1000);
  expect(envoy.pid).toBe(pid);
  expect(cp.proc.output()).not.toContain(ROTATED);
});

it('reports a missing key precisely and fails only the routes that use it', async () => {
  await cp.write('tmdb.yaml', ambassador('apikey'));
  await waitUntil(async () => (await get(port, '/3/x')).status === 503, 1000, 'the route without its credential');
  api.reset();
  const r = await get(port, '/3/x');
  expect(r.body).toContain('Secret movies/tmdb has no key "apikey" (it has "token")');
  expect(api.requests).toEqual([]); // never sent upstream without its credential
  expect((await get(port, '/health')).status).toBe(200);
  // No line within ambassador.yaml for these: the file line is where its value starts.
  expect((await cp.status()).errors).toEqual([
    `${join(cp.dir, 'tmdb.yaml')}:10: ConfigMap movies/tmdb: ambassador.yaml: listeners[0].routes[0].inject.secret: Secret movies/tmdb has no key "apikey" (it has "token")`,
    `${join(cp.dir, 'tmdb.yaml')}:10: ConfigMap movies/tmdb: ambassador.yaml: listeners[0].routes[1].inject.secret: Secret movies/tmdb has no key "apikey" (it has "token")`,
  ]);
  // The Secret gains the key: the routes come back.
  await cp.write('secret.yaml', secretManifest({ name: 'tmdb', namespace: NS, data: { token: ROTATED, apikey: TOKEN } }));
  await waitUntil(async () => (await get(port, '/3/x')).status === 200, 1000, 'the route with its credential');
  expect(lastHeaders().authorization).toBe(`Bearer ${TOKEN}`);
  await get(port, '/key/y');
  expect(lastHeaders()['x-api-key']).toBe(TOKEN);
});
