// gRPC through the ambassador, with a real Envoy and real @grpc/grpc-js servers and clients (the
// demo Movies service): unary and server-streaming calls over h2c and with TLS origination, `auto`
// (each request in the application's own HTTP version), deadlines and the route timeout, retries on
// gRPC status codes, and HTTP/JSON → gRPC transcoding with the descriptor set from the ConfigMap's
// binaryData, which can change on its own.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDescriptorSet, descriptorSetType, MOVIES_SERVICE } from '../../control-plane/src/demo/descriptor-set.ts';
import { moviesClient, startMoviesServer, type MoviesClient, type MoviesServer } from '../../control-plane/src/demo/movies-grpc.ts';
import { makePki, type Pki } from '../../control-plane/src/demo/pki.ts';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePorts } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, secretManifest, startAmbassador, startControlPlaneProcess, waitUntil, type ControlPlaneProcess } from '../helpers/scenario.ts';

const NS = 'movies';
let pki: Pki;
let plain: MoviesServer;
let secure: MoviesServer;
let web: Upstream;
let cp: ControlPlaneProcess;
let envoy: EnvoyHandle;
/** The ambassador's listeners, by name. */
const port: Record<string, number> = {};
const clients: MoviesClient[] = [];
const client = (listener: string) => {
  const c = moviesClient(`127.0.0.1:${port[listener]}`);
  clients.push(c);
  return c;
};

function ambassador(descriptorSet: Uint8Array): string {
  return `${configMap({
    name: 'storefront',
    namespace: NS,
    config: `
ambassador: storefront
listeners:
  - name: grpc
    port: ${port.grpc}
    routes:
      - match: {prefix: /}
        upstream: movies
        retries: {attempts: 2, on: [unavailable]}
  - name: grpc-tls
    port: ${port.tls}
    routes:
      - match: {prefix: /}
        upstream: movies-tls
  - name: capped
    port: ${port.capped}
    routes:
      - match: {prefix: /}
        upstream: movies
        timeout: 1s
  - name: auto
    port: ${port.auto}
    routes:
      - match: {prefix: /${MOVIES_SERVICE}/}
        upstream: movies-auto
      - match: {prefix: /}
        upstream: web
  - name: json
    port: ${port.json}
    routes:
      - match: {prefix: /}
        upstream: movies
        timeout: 5s
        transcode:
          descriptors: {key: movies.pb}
          services: [${MOVIES_SERVICE}]
upstreams:
  movies: {endpoints: ["127.0.0.1:${plain.port}"], protocol: http2}
  movies-tls:
    endpoints: ["127.0.0.1:${secure.port}"]
    protocol: http2
    tls: {sni: movies.test, ca: {secret: {name: movies-ca}}}
  movies-auto: {endpoints: ["127.0.0.1:${plain.port}"], protocol: auto}
  web: {endpoints: ["127.0.0.1:${web.port}"], protocol: auto}`,
  })}binaryData:
  movies.pb: ${Buffer.from(descriptorSet).toString('base64')}
`;
}

/** A long server stream started at the beginning and checked at the end (it takes 16 s). */
let longStream: Promise<{ atMs: number }[]> | undefined;

beforeAll(async () => {
  pki = await makePki();
  const cert = await pki.server(['movies.test']);
  plain = await startMoviesServer({ name: 'plain' });
  secure = await startMoviesServer({ name: 'secure', tls: { cert: cert.cert, key: cert.key } });
  web = await startUpstream({ name: 'web' });
  const [grpcPort, tls, capped, auto, json] = await freePorts(5);
  Object.assign(port, { grpc: grpcPort, tls, capped, auto, json });
  cp = await startControlPlaneProcess({
    'ca.yaml': secretManifest({ name: 'movies-ca', namespace: NS, data: { 'ca.crt': pki.ca.cert } }),
    'storefront.yaml': ambassador(buildDescriptorSet()),
  });
  expect((await cp.status()).errors).toEqual([]);
  envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'storefront', namespace: NS });
  await waitUntil(async () => (await get(port.json as number, '/v1/movies/1')).status === 200, 10_000, 'the ambassador to serve');
  // No `timeout` on the route: the stream has no limit but the client's deadline (none here).
  longStream = client('grpc').listMovies({ interval_ms: 2700 });
  longStream.catch(() => {}); // awaited (and so reported) by its test
  await waitUntil(async () => plain.calls.some((c) => c.request.interval_ms === 2700), 5000, 'the long stream to start');
});

afterAll(async () => {
  for (const c of clients) c.close();
  await stopAll();
  await Promise.all([plain?.close(), secure?.close(), web?.close()]);
  await pki?.cleanup();
});

describe('gRPC through the ambassador', () => {
  it('a unary and a server-streaming call over h2c, messages streamed as they come', async () => {
    plain.reset();
    const c = client('grpc');
    expect(await c.getMovie(4)).toEqual({ id: 4, title: 'Solaris', year: 1972, genre: 'scifi', served_by: 'plain' });
    const stream = await c.listMovies({ genre: 'scifi', interval_ms: 200 });
    expect(stream.map((s) => s.movie.title)).toEqual(['Metropolis', 'Solaris', 'Stalker']);
    // Sent 200 ms apart and received so: nothing buffered the stream.
    expect((stream[2]?.atMs ?? 0) - (stream[0]?.atMs ?? 0)).toBeGreaterThan(300);
    expect(plain.calls.map((x) => [x.method, x.code])).toEqual([['GetMovie', 0], ['ListMovies', 0]]);
    // What arrived is gRPC over HTTP/2 from the ambassador.
    expect(plain.calls[0]?.metadata['x-forwarded-proto']).toBe('http');
  });

  it('a unary and a server-streaming call with TLS origination (h2 over TLS, the certificate checked against the CA and movies.test)', async () => {
    const c = client('tls');
    expect((await c.getMovie(2)).served_by).toBe('secure');
    expect((await c.listMovies({ genre: 'drama' })).map((s) => s.movie.served_by)).toEqual(['secure', 'secure']);
    expect(secure.calls.map((x) => x.method)).toEqual(['GetMovie', 'ListMovies']);
  });

  it('auto: a gRPC call goes out as HTTP/2, a plain HTTP/1.1 request as HTTP/1.1', async () => {
    expect((await client('auto').getMovie(1)).served_by).toBe('plain');
    // web speaks HTTP/1.1 only: an HTTP/2 connection to it would fail.
    const r = await get(port.auto as number, '/hello');
    expect([r.status, r.upstream]).toEqual([200, 'web']);
  });

  it("the client's deadline reaches the server; the route's timeout caps calls and streams", async () => {
    plain.reset();
    await client('grpc').getMovie(1, { deadlineMs: 4000 });
    const left = plain.calls[0]?.deadlineMs ?? 0;
    expect(left).toBeGreaterThan(3000);
    expect(left).toBeLessThanOrEqual(4000);
    // timeout: 1s on `capped`: a 4 s deadline is cut to 1 s, and so is a call with none.
    plain.reset();
    await client('capped').getMovie(1, { deadlineMs: 4000 });
    expect(plain.calls[0]?.deadlineMs).toBeLessThanOrEqual(1000);
    plain.setBehaviour({ delayMs: 1500 });
    // Two clocks run out at 1 s: Envoy's route timeout (its 504, which a gRPC client reads as
    // UNAVAILABLE "upstream request timeout"), and the service's own deadline, since Envoy passes the
    // capped deadline on in grpc-timeout (the service then answers DEADLINE_EXCEEDED). Whichever
    // fires first, the call ends at about 1 s, never with the service's answer at 1.5 s.
    const ENDED_AT_THE_CAP = [[grpc.status.UNAVAILABLE, 'upstream request timeout'], [grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded']];
    let started = performance.now();
    const err = await client('capped').getMovie(1).catch((e: grpc.ServiceError) => e);
    expect(performance.now() - started).toBeLessThan(1400);
    expect(ENDED_AT_THE_CAP).toContainEqual([(err as grpc.ServiceError).code, (err as grpc.ServiceError).details]);
    plain.reset();
    started = performance.now();
    const cut = await client('capped').listMovies({ interval_ms: 300 }).catch((e: grpc.ServiceError & { received: unknown[] }) => e);
    expect(performance.now() - started).toBeLessThan(1400);
    // A stream already answering is reset when Envoy's timeout fires (the client sees INTERNAL), or
    // ended by the service at the deadline it was given.
    expect([[grpc.status.INTERNAL, 'Received RST_STREAM with code 2 (Internal server error)'], [grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded']])
      .toContainEqual([(cut as grpc.ServiceError).code, (cut as grpc.ServiceError).details]);
    const received = (cut as unknown as { received: unknown[] }).received.length;
    expect(received).toBeGreaterThan(0); // of the 6 the server would send 300 ms apart
    expect(received).toBeLessThanOrEqual(3);
  });

  it('retries a call that failed with a retryable gRPC status, on the route that asks for it', async () => {
    plain.reset();
    plain.setBehaviour({ failNext: 1, failCode: grpc.status.UNAVAILABLE });
    expect((await client('grpc').getMovie(3)).title).toBe('Seven Samurai');
    expect(plain.calls.map((x) => x.code)).toEqual([grpc.status.UNAVAILABLE, grpc.status.OK]);
    // `capped` has no retries: the same failure reaches the application.
    plain.reset();
    plain.setBehaviour({ failNext: 1, failCode: grpc.status.UNAVAILABLE });
    const err = await client('capped').getMovie(3).catch((e: grpc.ServiceError) => e);
    expect((err as grpc.ServiceError).code).toBe(grpc.status.UNAVAILABLE);
    expect(plain.calls).toHaveLength(1);
  });
});

describe('HTTP/JSON → gRPC transcoding', () => {
  it('turns GET /v1/... into gRPC calls, a server stream into a JSON array', async () => {
    plain.reset();
    const one = await get(port.json as number, '/v1/movies/6');
    expect(one.status).toBe(200);
    expect(one.headers['content-type']).toBe('application/json');
    expect(JSON.parse(one.body)).toEqual({ id: 6, title: 'Paris, Texas', year: 1984, genre: 'drama', servedBy: 'plain' });
    const list = await get(port.json as number, '/v1/movies?genre=scifi&limit=2');
    expect((JSON.parse(list.body) as { title: string }[]).map((m) => m.title)).toEqual(['Metropolis', 'Solaris']);
    // The server saw gRPC calls with the fields taken from the path and the query.
    expect(plain.calls.map((x) => [x.method, x.request])).toEqual([
      ['GetMovie', { id: 6 }],
      ['ListMovies', { genre: 'scifi', limit: 2, interval_ms: 0 }],
    ]);
  });

  it('answers a gRPC error with its HTTP status and a JSON status, and refuses what no rule maps', async () => {
    const missing = await get(port.json as number, '/v1/movies/99');
    expect([missing.status, JSON.parse(missing.body)]).toEqual([404, { code: 5, message: 'no movie with id 99' }]);
    plain.reset();
    const unknown = await get(port.json as number, '/v2/films/1');
    expect([unknown.status, unknown.body]).toEqual([404, 'Could not resolve /v2/films/1 to a method.']);
    const badQuery = await get(port.json as number, '/v1/movies/1?colour=blue');
    expect([badQuery.status, badQuery.body]).toEqual([400, 'Could not find field "colour" in the type "xds_ambassador.demo.v1.GetMovieRequest".']);
    const badValue = await get(port.json as number, '/v1/movies/one');
    expect(badValue.status).toBe(400);
    expect(plain.calls).toEqual([]); // none of them reached the server
  });

  it('lets native gRPC calls through the transcoding route', async () => {
    expect((await client('json').getMovie(5)).title).toBe('Stalker');
  });

  it('applies a new descriptor set (binaryData alone changed) without a restart', async () => {
    const pid = envoy.pid;
    // The same service, with GetMovie mapped from /v2/films/{id} instead.
    const type = descriptorSetType();
    const set = type.toObject(type.decode(buildDescriptorSet())) as { file: { service: { method: { name: string; options: Record<string, { get: string }> }[] }[] }[] };
    const getMovie = set.file[0]?.service[0]?.method.find((m) => m.name === 'GetMovie');
    if (!getMovie) throw new Error('no GetMovie');
    getMovie.options['.google.api.http'] = { get: '/v2/films/{id}' };
    await cp.write('storefront.yaml', ambassador(type.encode(type.fromObject(set)).finish()));
    const elapsed = await waitUntil(async () => (await get(port.json as number, '/v2/films/2')).status === 200, 2000, 'the new HTTP rule');
    expect(elapsed).toBeLessThan(2000);
    expect(JSON.parse((await get(port.json as number, '/v2/films/2')).body).title).toBe('Casablanca');
    expect((await get(port.json as number, '/v1/movies/2')).status).toBe(404);
    expect(envoy.pid).toBe(pid);
    expect((await cp.status()).errors).toEqual([]);
  });

  it('keeps serving when the new descriptor set is broken, and says why', async () => {
    const text = ambassador(new Uint8Array([0x0a, 0x40, 0x01]));
    await cp.write('storefront.yaml', text);
    await waitUntil(async () => (await cp.status()).errors.length > 0, 2000, 'the error');
    // The line of `descriptors:` in the file, and within ambassador.yaml (whose text starts below the `|`).
    const lines = text.split('\n');
    const fileLine = lines.findIndex((l) => l.includes('descriptors: {key: movies.pb}')) + 1;
    const yamlLine = fileLine - (lines.findIndex((l) => l.includes('ambassador.yaml: |')) + 1);
    expect((await cp.status()).errors).toEqual([
      `${cp.dir}/storefront.yaml:${fileLine}: ConfigMap movies/storefront: ambassador.yaml: listeners[4].routes[0].transcode.descriptors.key (line ${yamlLine}): the descriptor set in "movies.pb" is not a protobuf descriptor set (index out of range) — build it with protoc --include_imports --descriptor_set_out=FILE your.proto`,
    ]);
    expect((await get(port.json as number, '/v2/films/2')).status).toBe(200);
  });
});

describe('long streams', () => {
  it('a 16-second server stream outlives Envoy\'s default 15 s route timeout', async () => {
    const got = await longStream;
    expect(got).toHaveLength(6);
    expect(got?.at(-1)?.atMs).toBeGreaterThan(15_000);
  });
});
