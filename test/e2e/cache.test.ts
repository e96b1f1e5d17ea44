// Caching with a real Envoy and real traffic: on a route with `cache: true`, a second identical GET
// of a cacheable response is answered by Envoy without reaching the upstream (which counts what it
// receives), and counts against the route's rate limit; what cache-control forbids (no-store, private, a request's no-cache), a response without
// freshness, one that varies, an expired one, and routes without the cache all reach it every time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import { freePorts } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, secretManifest, startAmbassador, startControlPlaneProcess, waitUntil } from '../helpers/scenario.ts';

let api: Upstream;
let port: number;

beforeAll(async () => {
  api = await startUpstream({ name: 'api' });
  [port] = await freePorts(1) as [number];
  const cp = await startControlPlaneProcess({
    'cached.yaml': configMap({
      name: 'cached',
      namespace: 'shop',
      config: `
ambassador: cached
listeners:
  - name: api
    port: ${port}
    routes:
      - {name: genres, match: {prefix: /genres}, upstream: api, cache: true}
      - name: keyed
        match: {prefix: /keyed}
        upstream: api
        cache: true
        inject: {header: authorization, prefix: "Bearer ", secret: {name: api-key, key: token}}
      - {name: limited, match: {prefix: /limited}, upstream: api, cache: true, rateLimit: {requests: 2, per: 1h}}
      - {name: other, match: {prefix: /}, upstream: api}
upstreams:
  api: {endpoints: ["127.0.0.1:${api.port}"]}`,
    }),
    'secret.yaml': secretManifest({ name: 'api-key', namespace: 'shop', data: { token: 'cache-test-token' } }),
  });
  expect((await cp.status()).errors).toEqual([]);
  await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'cached', namespace: 'shop' });
  await waitUntil(async () => (await get(port, '/ready')).status === 200, 20_000, 'the listener');
});

afterAll(async () => {
  await stopAll();
  await api?.close();
});

/** Two identical GETs of `path` while the upstream answers with `headers`; how many reached it. */
async function twice(path: string, headers: Record<string, string>, requestHeaders: Record<string, string> = {}) {
  api.reset();
  api.setBehaviour({ headers });
  const first = await get(port, path);
  const second = await get(port, path, requestHeaders);
  expect([first.status, second.status]).toEqual([200, 200]);
  return { first, second, reached: api.requests.filter((q) => q.path === path).length };
}

describe('caching', () => {
  it('serves a second identical GET from the cache, without reaching the upstream', async () => {
    const { first, second, reached } = await twice('/genres/movie/list', { 'cache-control': 'public, max-age=60' });
    expect(reached).toBe(1);
    expect(second.body).toBe(first.body);
    expect(first.headers.age).toBeUndefined();
    expect(second.headers.age).toMatch(/^\d+$/);
    // Another URL is another entry.
    expect((await get(port, '/genres/tv/list')).headers.age).toBeUndefined();
    expect(api.requests.map((q) => q.path)).toEqual(['/genres/movie/list', '/genres/tv/list']);
  });

  it('a cached route with an injected credential: the upstream gets it, once', async () => {
    const { second, reached } = await twice('/keyed/config', { 'cache-control': 'max-age=60' });
    expect(reached).toBe(1);
    expect(api.requests[0]?.headers.authorization).toBe('Bearer cache-test-token');
    expect(second.headers.age).toMatch(/^\d+$/);
  });

  it('does not cache what cache-control forbids: no-store, private, and a request with no-cache', async () => {
    expect((await twice('/genres/no-store', { 'cache-control': 'no-store' })).reached).toBe(2);
    expect((await twice('/genres/private', { 'cache-control': 'private, max-age=60' })).reached).toBe(2);
    expect((await twice('/genres/revalidated', { 'cache-control': 'max-age=60' }, { 'cache-control': 'no-cache' })).reached).toBe(2);
  });

  it('does not cache a response without freshness, or one that varies', async () => {
    expect((await twice('/genres/no-freshness', {})).reached).toBe(2);
    expect((await twice('/genres/varies', { 'cache-control': 'max-age=60', vary: 'accept-language' })).reached).toBe(2);
  });

  it('asks the upstream again once the response is stale', async () => {
    api.reset();
    api.setBehaviour({ headers: { 'cache-control': 'max-age=1' } });
    await get(port, '/genres/short');
    expect((await get(port, '/genres/short')).headers.age).toBeDefined();
    await new Promise((r) => setTimeout(r, 2100));
    await get(port, '/genres/short');
    expect(api.requests.filter((q) => q.path === '/genres/short').length).toBe(2);
  });

  it('counts answers from the cache against the rate limit (the limit comes first)', async () => {
    api.reset();
    api.setBehaviour({ headers: { 'cache-control': 'max-age=60' } });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await get(port, '/limited/x')).status);
    expect(statuses).toEqual([200, 200, 429]);
    expect(api.requests.length).toBe(1);
  });

  it('routes without cache: true never cache', async () => {
    expect((await twice('/plain', { 'cache-control': 'public, max-age=60' })).reached).toBe(2);
  });
});
