// Every README recipe, run from its manifests in deploy/recipes/ (every port moved to a free one)
// with its stand-in peers and a real Envoy, doing what the README says it does.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildDescriptorSet, MOVIES_SERVICE } from '../../control-plane/src/demo/descriptor-set.ts';
import { moviesClient } from '../../control-plane/src/demo/movies-grpc.ts';
import { RECIPES, recipeFiles, type Recipe, type RecipePeers } from '../../control-plane/src/demo/recipes.ts';
import { freePorts } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { burst } from '../helpers/http-burst.ts';
import { connectResp, respCommand } from '../helpers/redis.ts';
import { get, REPO_ROOT, startAmbassador, startControlPlaneProcess, waitUntil, type ControlPlaneProcess } from '../helpers/scenario.ts';
import { roundTrip } from '../helpers/tcp-echo.ts';

function recipe(name: string): Recipe {
  const r = RECIPES.find((x) => x.name === name);
  if (!r) throw new Error(`no recipe ${name}`);
  return r;
}

/** Starts a recipe's peers and control plane on free ports; stops them after the describe block. */
function runRecipe(name: string, say?: (line: string) => void): { ports: Record<string, number>; cp: () => ControlPlaneProcess; r: Recipe; env: () => Record<string, string> } {
  const r = recipe(name);
  const ports: Record<string, number> = {};
  let peers: RecipePeers | undefined;
  let cp: ControlPlaneProcess | undefined;
  beforeAll(async () => {
    const free = await freePorts(Object.keys(r.ports).length);
    Object.keys(r.ports).forEach((role, i) => { ports[role] = free[i] as number; });
    peers = await r.startPeers(ports, say);
    cp = await startControlPlaneProcess({ ...recipeFiles(r, ports), ...peers.files });
    expect((await cp.status()).errors).toEqual([]);
  });
  afterAll(async () => {
    await stopAll();
    await peers?.stop();
  });
  return { ports, r, cp: () => { if (!cp) throw new Error('not started'); return cp; }, env: () => peers?.envoyEnv ?? {} };
}

/** What the stand-in database behind `port` says: it greets, and ends once we half-close. roundTrip
 * times out and rejects on a close without an answer (a bare 'data' listener would wait forever). */
async function greeting(port: number): Promise<string> {
  return (await roundTrip(port, Buffer.alloc(0), { timeoutMs: 2000 })).toString().trim();
}

describe('recipe: an external API over TLS', () => {
  const { ports, r, cp } = runRecipe('external-api-tls');
  it('turns the app\'s plain HTTP into verified TLS with the API\'s SNI', async () => {
    await startAmbassador({ xdsPort: cp().xdsPort, ambassador: r.ambassador, namespace: r.namespace });
    await waitUntil(async () => (await get(ports.listener as number, '/todos/1')).status === 200, 10_000, 'the API through the ambassador');
    const body = JSON.parse((await get(ports.listener as number, '/todos/1')).body) as { upstream: string; tls: { servername: string } };
    expect(body.upstream).toBe('example-api');
    expect(body.tls.servername).toBe('api.example.test');
  });
});

describe('recipe: an API key from a Secret', () => {
  const { ports, r, cp } = runRecipe('api-key-from-secret');
  it('adds the bearer token from the Secret on /3/ only', async () => {
    await startAmbassador({ xdsPort: cp().xdsPort, ambassador: r.ambassador, namespace: r.namespace });
    await waitUntil(async () => (await get(ports.listener as number, '/3/discover/movie')).status === 200, 10_000, 'the API');
    const headers = (path: string) => get(ports.listener as number, path).then((x) => (JSON.parse(x.body) as { headers: Record<string, string> }).headers);
    expect((await headers('/3/discover/movie')).authorization).toBe('Bearer replace-me-with-your-tmdb-token');
    expect((await headers('/health')).authorization).toBeUndefined();
  });
});

describe('recipe: a sharding Redis ambassador', () => {
  const { ports, r, cp } = runRecipe('redis-sharding');
  it('spreads keys over both shards and sends session keys to their own server', async () => {
    await startAmbassador({ xdsPort: cp().xdsPort, ambassador: r.ambassador, namespace: r.namespace });
    const client = await connectResp(ports.listener as number);
    try {
      await waitUntil(async () => (await client.command('PING')) === 'PONG', 10_000, 'the Redis listener');
      for (let i = 0; i < 100; i++) await client.command('SET', `key:${i}`, String(i));
      expect(await client.command('GET', 'key:42')).toBe('42');
      const sizes = await Promise.all(['shard1', 'shard2'].map((role) => respCommand(ports[role] as number, 'DBSIZE')));
      expect((sizes[0] as number) + (sizes[1] as number)).toBe(100);
      expect(Math.min(sizes[0] as number, sizes[1] as number)).toBeGreaterThan(20);
      await client.command('SET', 'session:abc', 'token');
      expect(await respCommand(ports.sessions as number, 'GET', 'session:abc')).toBe('token');
    } finally {
      await client.close();
    }
  });
});

describe('recipe: a database per environment', () => {
  const { ports, r, cp } = runRecipe('per-environment-database');
  it('connects production Envoys to production and staging Envoys to staging, with one ConfigMap', async () => {
    const prod = await startAmbassador({ xdsPort: cp().xdsPort, ambassador: r.ambassador, namespace: r.namespace });
    await waitUntil(async () => (await greeting(ports.listener as number)) === 'hello from production-db', 10_000, 'production');
    await prod.stop();
    await startAmbassador({ xdsPort: cp().xdsPort, ambassador: r.ambassador, namespace: r.namespace, environment: 'staging' });
    await waitUntil(async () => (await greeting(ports.listener as number)) === 'hello from staging-db', 10_000, 'staging');
  });
});

describe('recipe: a gRPC service over TLS', () => {
  const { ports, r, cp } = runRecipe('grpc-upstream');
  it('carries plaintext gRPC calls and streams (and reflection for grpcurl) to the service over TLS', async () => {
    await startAmbassador({ xdsPort: cp().xdsPort, ambassador: r.ambassador, namespace: r.namespace });
    const client = moviesClient(`127.0.0.1:${ports.listener}`);
    try {
      await waitUntil(async () => (await client.getMovie(4)).served_by === 'movies', 10_000, 'a gRPC call through the ambassador');
      expect((await client.listMovies({ genre: 'scifi', interval_ms: 50 })).map((m) => m.movie.title)).toEqual(['Metropolis', 'Solaris', 'Stalker']);
    } finally {
      client.close();
    }
    const run = promisify(execFile);
    const listed = await run(join(REPO_ROOT, '.tools', 'bin', 'grpcurl'), ['-plaintext', `localhost:${ports.listener}`, 'list']);
    expect(listed.stdout.trim().split('\n')).toContain(MOVIES_SERVICE);
  });
});

describe('recipe: a gRPC service called with HTTP/JSON', () => {
  const { ports, r, cp } = runRecipe('json-to-grpc');
  it('keeps the descriptor set in its manifest current with the .proto', () => {
    const manifest = parse(recipeFiles(r, r.ports)['ambassador.yaml'] ?? '') as { binaryData: Record<string, string> };
    expect(manifest.binaryData['movies.pb']).toBe(Buffer.from(buildDescriptorSet()).toString('base64'));
  });

  it('answers JSON calls with what the gRPC server says', async () => {
    await startAmbassador({ xdsPort: cp().xdsPort, ambassador: r.ambassador, namespace: r.namespace });
    await waitUntil(async () => (await get(ports.listener as number, '/v1/movies/4')).status === 200, 10_000, 'the transcoded call');
    expect(JSON.parse((await get(ports.listener as number, '/v1/movies/4')).body)).toEqual({ id: 4, title: 'Solaris', year: 1972, genre: 'scifi', servedBy: 'movies' });
    expect((JSON.parse((await get(ports.listener as number, '/v1/movies?genre=scifi')).body) as { id: number }[]).map((m) => m.id)).toEqual([1, 4, 5]);
    const missing = await get(ports.listener as number, '/v1/movies/99');
    expect([missing.status, JSON.parse(missing.body)]).toEqual([404, { code: 5, message: 'no movie with id 99' }]);
  });
});

describe('recipe: an API behind OAuth2 client credentials', () => {
  const { ports, r, cp } = runRecipe('oauth2-api');
  it('gets a token from the authorization server with the client secret from the Secret, and sends it as a bearer token', async () => {
    const envoy = await startAmbassador({ xdsPort: cp().xdsPort, ambassador: r.ambassador, namespace: r.namespace });
    // The first token comes about 1 s after Envoy starts (README: OAuth2 client credentials).
    await waitUntil(async () => (await get(ports.listener as number, '/orders')).status === 200, 10_000, 'the API with a token');
    const headers = (JSON.parse((await get(ports.listener as number, '/orders')).body) as { headers: Record<string, string> }).headers;
    expect(headers.authorization).toBe('Bearer token-1');
    expect((await envoy.stats('oauth2.token_fetched')).get('credential_injector.oauth2.token_fetched')).toBe(1);
  });
});

describe('recipe: an AWS API signed with SigV4', () => {
  const { ports, r, cp, env } = runRecipe('aws-signed-api');
  it('signs every request with the keys of the mounted Secret, and the API verifies the signature', async () => {
    await startAmbassador({ xdsPort: cp().xdsPort, ambassador: r.ambassador, namespace: r.namespace, env: env() });
    await waitUntil(async () => (await get(ports.listener as number, '/reports?year=2026')).status === 200, 10_000, 'a signed request');
    const body = JSON.parse((await get(ports.listener as number, '/reports?year=2026')).body) as { verified: boolean; accessKeyId: string };
    expect(body).toMatchObject({ verified: true, accessKeyId: 'AKIAIOSFODNN7EXAMPLE' });
    expect((await get(ports.api as number, '/reports')).status).toBe(403);
  });
});

describe('recipe: a rate-limited API', () => {
  const { ports, r, cp } = runRecipe('rate-limited-api');
  it('lets a burst of 40 through to the API and answers the 41st with 429 and retry-after', async () => {
    const envoy = await startAmbassador({ xdsPort: cp().xdsPort, ambassador: r.ambassador, namespace: r.namespace });
    await envoy.waitFor(async () => (await envoy.stats('listener_manager\\.total_listeners_active')).get('listener_manager.total_listeners_active') === 1, 10_000, 'the listener');
    const replies = await burst(ports.listener as number, Array.from({ length: 41 }, () => '/3/movie/550'));
    expect(replies.filter((x) => x.status === 200).length).toBe(40);
    const refused = replies.find((x) => x.status === 429);
    expect(refused?.headers['retry-after']).toBe('1');
    expect(refused?.headers['x-envoy-ratelimited']).toBe('true');
    const stats = await envoy.stats('http_local_rate_limit|upstream_rq_total');
    expect([stats.get('rate_limit.tmdb.http_local_rate_limit.ok'), stats.get('rate_limit.tmdb.http_local_rate_limit.rate_limited')]).toEqual([40, 1]);
    expect(stats.get('cluster.recipes/movies-app/tmdb.upstream_rq_total')).toBe(40);
  });
});

describe('recipe: a cached API', () => {
  const { ports, r, cp } = runRecipe('cached-api');
  it('answers the second GET of a genre list from the cache; other routes reach the API', async () => {
    const envoy = await startAmbassador({ xdsPort: cp().xdsPort, ambassador: r.ambassador, namespace: r.namespace });
    await waitUntil(async () => (await get(ports.listener as number, '/3/movie/550')).status === 200, 10_000, 'the API');
    const first = await get(ports.listener as number, '/3/genre/movie/list');
    const second = await get(ports.listener as number, '/3/genre/movie/list');
    expect(first.headers.age).toBeUndefined();
    expect(second.headers.age).toMatch(/^\d+$/);
    expect(second.body).toBe(first.body);
    await get(ports.listener as number, '/3/movie/550');
    // The start-up probe, one genre list, one movie: 3 requests reached the API for 4 answers.
    expect((await envoy.stats('upstream_rq_total')).get('cluster.recipes/catalog-app/tmdb.upstream_rq_total')).toBe(3);
  });
});

describe('recipe: access logs and traces of every call', () => {
  const said: string[] = [];
  const { ports, r, cp } = runRecipe('traced-api', (line) => said.push(line));
  it('logs a JSON line and reports a span named after the route, for one call of the app', async () => {
    const envoy = await startAmbassador({ xdsPort: cp().xdsPort, ambassador: r.ambassador, namespace: r.namespace });
    await waitUntil(async () => (await get(ports.listener as number, '/charges/42')).status === 200, 10_000, 'the API');
    await envoy.waitFor(async () => envoy.logs().includes('"path":"/charges/42"'), 30_000, 'the access-log line');
    const line = JSON.parse(envoy.logs().split('\n').find((l) => l.includes('"path":"/charges/42"')) ?? '{}') as Record<string, unknown>;
    expect(line).toMatchObject({ listener: 'payments', route: 'charges', method: 'GET', response_code: 200, attempts: 1, upstream_cluster: 'recipes/orders-app/payments' });
    await waitUntil(async () => said.some((l) => l.startsWith('[collector] span "charges" from orders-app.recipes')), 20_000, 'the span at the stand-in collector');
  });
});
