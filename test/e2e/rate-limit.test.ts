// Rate limits with a real Envoy and real traffic: the TMDB seed's "40 requests per 10 s" lets a burst
// of 40 through and answers the 41st with 429 (retry-after, x-envoy-ratelimited), the upstream sees
// exactly 40, and Envoy counts both in the route's stats; a listener's bucket is shared by its routes,
// and a route with its own limit is counted apart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { burst } from '../helpers/http-burst.ts';
import { freePorts } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, startAmbassador, startControlPlaneProcess, waitUntil, type ControlPlaneProcess } from '../helpers/scenario.ts';

let api: Upstream;
let cp: ControlPlaneProcess;
let envoy: EnvoyHandle;
let tmdbPort: number;
let sharedPort: number;

beforeAll(async () => {
  api = await startUpstream({ name: 'api' });
  [tmdbPort, sharedPort] = await freePorts(2) as [number, number];
  cp = await startControlPlaneProcess({ 'limits.yaml': limits('') });
  expect((await cp.status()).errors).toEqual([]);
  envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'limited', namespace: 'shop' });
  // Both listeners active, without spending a token of the shared listener's bucket.
  await waitUntil(async () => (await counter('listener_manager.total_listeners_active')) === 2, 20_000, 'both listeners active');
});

/** The config; `bExtra` changes route b (and so the shared listener's routes, not its listener). */
function limits(bExtra: string): string {
  return configMap({
    name: 'limits',
    namespace: 'shop',
    config: `
ambassador: limited
listeners:
  - name: tmdb
    port: ${tmdbPort}
    routes:
      - {name: search, match: {prefix: /3/search}, upstream: api, rateLimit: {requests: 40, per: 10s}}
  - name: shared
    port: ${sharedPort}
    rateLimit: {requests: 5, per: 1h}
    routes:
      - {name: own, match: {prefix: /own}, upstream: api, rateLimit: {requests: 2, per: 1h}}
      - {name: a, match: {prefix: /a}, upstream: api}
      - {name: b, match: {prefix: /}, upstream: api${bExtra}}
upstreams:
  api: {endpoints: ["127.0.0.1:${api.port}"]}`,
  });
}

afterAll(async () => {
  await stopAll();
  await api?.close();
});

const counter = async (name: string) => (await envoy.stats(name.replaceAll('.', '\\.'))).get(name);

describe('rate limits', () => {
  it('40 per 10 s: a burst of 41 gets 40 answers and one 429, and the upstream counts exactly 40', async () => {
    // Envoy's bucket refills continuously (one token every 250 ms here): the 41 requests must reach
    // it within that time for the 41st to find it empty. So they are written at once, on 41
    // connections opened beforehand.
    api.reset();
    const started = performance.now();
    const replies = await burst(tmdbPort, Array.from({ length: 41 }, (_, i) => `/3/search/movie?query=q${i}`));
    const elapsed = Math.round(performance.now() - started);
    const limited = replies.filter((r) => r.status === 429);
    expect(replies.filter((r) => r.status === 200).length, `41 requests in ${elapsed} ms`).toBe(40);
    expect(limited.length).toBe(1);
    expect(api.requests.filter((q) => q.path.startsWith('/3/search')).length).toBe(40);

    const refused = limited[0];
    expect(refused?.body).toBe('local_rate_limited');
    // One token every 10 s / 40 = 250 ms: a request is allowed again within a second.
    expect(refused?.headers['retry-after']).toBe('1');
    expect(refused?.headers['x-envoy-ratelimited']).toBe('true');

    expect(await counter('rate_limit.tmdb.search.http_local_rate_limit.ok')).toBe(40);
    expect(await counter('rate_limit.tmdb.search.http_local_rate_limit.rate_limited')).toBe(1);
    // Per-route upstream stats, as the README says to graph them.
    expect(await counter('vhost.tmdb.route.search.upstream_rq_2xx')).toBe(40);

    // retry-after is reliable: after that many seconds the next request passes.
    await new Promise((r) => setTimeout(r, Number(refused?.headers['retry-after']) * 1000));
    expect((await get(tmdbPort, '/3/search/movie?query=again')).status).toBe(200);
  });

  it("a listener's bucket is shared by its routes; a route with its own limit is counted apart", async () => {
    api.reset();
    // The listener allows 5 per hour, shared by /a and /.
    const shared = [];
    for (const path of ['/a', '/b', '/a', '/b', '/a', '/a']) shared.push((await get(sharedPort, path)).status);
    expect(shared).toEqual([200, 200, 200, 200, 200, 429]);
    const refused = await get(sharedPort, '/b');
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('720'); // 1 h / 5
    // /own has its own bucket of 2 per hour, untouched by the listener's empty one.
    const own = [];
    for (let i = 0; i < 3; i++) own.push((await get(sharedPort, '/own')).status);
    expect(own).toEqual([200, 200, 429]);
    expect(api.requests.map((q) => q.path)).toEqual(['/a', '/b', '/a', '/b', '/a', '/own', '/own']);
    expect(await counter('rate_limit.shared.http_local_rate_limit.rate_limited')).toBe(2);
    expect(await counter('rate_limit.shared.own.http_local_rate_limit.rate_limited')).toBe(1);
  });

  it("an edit of a listener's routes starts the routes' buckets full again, not the listener's", async () => {
    // After the test above: /own's bucket and the listener's are empty.
    expect((await get(sharedPort, '/own')).status).toBe(429);
    const updates = await counter('http.shared.rds.shop/limited/shared.update_success');
    await cp.write('limits.yaml', limits(', timeout: 3s'));
    await waitUntil(async () => (await counter('http.shared.rds.shop/limited/shared.update_success')) === (updates ?? 0) + 1, 10_000, 'the new routes');
    expect((await get(sharedPort, '/own')).status).toBe(200);
    expect((await get(sharedPort, '/a')).status).toBe(429);
  });
});
