// Monitoring inside the ambassador, with a real Envoy and real traffic: one access-log line per HTTP
// request (and per TCP connection) on Envoy's stdout with the documented fields, none for a listener
// with accessLog: false; and spans reaching a real OTLP/gRPC receiver, named after the route, in the
// same trace as the access-log line and the traceparent the upstream received.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../../control-plane/src/demo/otlp-receiver.ts';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import { HTTP_ACCESS_LOG_FIELDS, TCP_ACCESS_LOG_FIELDS } from '../../control-plane/src/translate/access-log.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePorts } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, startAmbassador, startControlPlaneProcess, waitUntil } from '../helpers/scenario.ts';
import { roundTrip, startTcpEcho, type TcpEchoServer } from '../helpers/tcp-echo.ts';

let api: Upstream;
let echo: TcpEchoServer;
let otlp: OtlpReceiver;
let envoy: EnvoyHandle;
let apiPort: number;
let quietPort: number;
let dbPort: number;
const TCP_PAYLOAD = Buffer.from('hello through the ambassador');
const APP_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const APP_SPAN = '00f067aa0ba902b7';

beforeAll(async () => {
  [api, echo, otlp] = await Promise.all([startUpstream({ name: 'api' }), startTcpEcho(), startOtlpReceiver()]);
  [apiPort, quietPort, dbPort] = await freePorts(3) as [number, number, number];
  const cp = await startControlPlaneProcess({
    'watched.yaml': configMap({
      name: 'watched',
      namespace: 'shop',
      config: `
ambassador: watched
tracing: {otlp: "127.0.0.1:${otlp.port}", serviceName: watched-test}
listeners:
  - name: api
    port: ${apiPort}
    routes:
      - {name: search, match: {prefix: /search}, upstream: api, retries: {attempts: 2, on: [5xx]}}
      - {name: limited, match: {prefix: /limited}, upstream: api, rateLimit: {requests: 1, per: 1h}}
      - {name: cached, match: {prefix: /cached}, upstream: api, cache: true}
      - {match: {prefix: /}, upstream: api}
  - name: quiet
    port: ${quietPort}
    accessLog: false
    routes: [{match: {prefix: /}, upstream: api}]
  - {name: db, port: ${dbPort}, protocol: tcp, upstream: echo}
upstreams:
  api: {endpoints: ["127.0.0.1:${api.port}"]}
  echo: {endpoints: ["127.0.0.1:${echo.port}"]}`,
    }),
  });
  expect((await cp.status()).errors).toEqual([]);
  envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'watched', namespace: 'shop' });
  await waitUntil(async () => (await envoy.stats('listener_manager\\.total_listeners_active')).get('listener_manager.total_listeners_active') === 3, 20_000, 'the three listeners');
  // The traffic the tests look at, all at once: Envoy writes access logs in batches (about every
  // 10 s) and spans every 5 s, so the tests wait for one batch, not one each.
  api.setBehaviour({ failNext: 1, headers: { 'cache-control': 'max-age=60' } }); // the first request is retried once
  for (const path of ['/search/movie?api_key=not-for-logs', '/search/tv', '/search/person', '/other']) expect((await get(apiPort, path)).status).toBe(200);
  // An application that traces its own calls: its traceparent (W3C, sampled).
  expect((await get(apiPort, '/search/traced', { traceparent: `00-${APP_TRACE}-${APP_SPAN}-01` })).status).toBe(200);
  expect([(await get(apiPort, '/limited')).status, (await get(apiPort, '/limited')).status]).toEqual([200, 429]);
  expect([(await get(apiPort, '/cached')).headers.age, (await get(apiPort, '/cached')).headers.age]).toEqual([undefined, '0']);
  for (let i = 0; i < 3; i++) expect((await get(quietPort, '/quiet')).status).toBe(200);
  expect((await roundTrip(dbPort, TCP_PAYLOAD)).equals(TCP_PAYLOAD)).toBe(true);
});

afterAll(async () => {
  await stopAll();
  await Promise.all([api?.close(), echo?.close(), otlp?.stop()]);
});

type LogLine = Record<string, string | number | null>;

/** Envoy's JSON access-log lines so far (its own log lines are not JSON objects). */
function accessLogLines(): LogLine[] {
  return envoy.logs().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
}

/** Envoy writes access logs in batches (about every 10 s): waits until `n` lines match. */
async function waitForLines(match: (l: LogLine) => boolean, n: number): Promise<LogLine[]> {
  await envoy.waitFor(async () => accessLogLines().filter(match).length >= n, 30_000, `${n} access-log lines`);
  return accessLogLines().filter(match);
}

/** The trace id in the traceparent header the upstream received with the request for `path`. */
function upstreamTraceId(path: string): string {
  const traceparent = api.requests.find((q) => q.path === path)?.headers.traceparent ?? '';
  return traceparent.split('-')[1] ?? '';
}

describe('access logs', () => {
  it('one JSON line per request with the documented fields; none for accessLog: false; never the query string', async () => {
    const all = await waitForLines((l) => l.listener === 'api', 9);
    expect(all.length).toBe(9);
    const lines = all.slice(0, 4);
    expect(Object.keys(lines[0] ?? {}).sort()).toEqual(['listener', ...Object.keys(HTTP_ACCESS_LOG_FIELDS)].sort());
    expect(lines.map((l) => [l.route, l.method, l.path, l.response_code, l.attempts])).toEqual([
      ['search', 'GET', '/search/movie', 200, 2],
      ['search', 'GET', '/search/tv', 200, 1],
      ['search', 'GET', '/search/person', 200, 1],
      ['route-3', 'GET', '/other', 200, 1],
    ]);
    // The ids the upstream received: each line is its request's.
    const served = api.requests.filter((q) => q.status === 200).slice(0, 4);
    expect(lines.map((l) => l.request_id)).toEqual(served.map((q) => q.headers['x-request-id']));
    for (const l of lines) {
      expect(l.upstream_cluster).toBe('shop/watched/api');
      expect(l.upstream_host).toBe(`127.0.0.1:${api.port}`);
      expect(l.authority).toBe(`127.0.0.1:${apiPort}`);
      expect(l.protocol).toBe('HTTP/1.1');
      expect(l.response_flags).toBe('-');
      expect(l.response_code_details).toBe('via_upstream');
      expect(typeof l.duration_ms).toBe('number');
      expect(l.upstream_service_time_ms).toMatch(/^\d+$/);
      expect(l.bytes_received).toBe(0);
      expect(l.bytes_sent).toBeGreaterThan(0);
      expect(Date.parse(String(l.start_time))).not.toBeNaN();
      expect(l.trace_id).toMatch(/^[0-9a-f]{32}$/);
    }
    expect(envoy.logs()).not.toContain('not-for-logs');
    expect(accessLogLines().filter((l) => l.listener === 'quiet')).toEqual([]);
  });

  it("says when the ambassador answered itself: a rate limit's 429, an answer from the cache", async () => {
    const lines = await waitForLines((l) => l.route === 'limited' || l.route === 'cached', 4);
    expect(lines.map((l) => [l.route, l.response_code, l.response_flags, l.response_code_details])).toEqual([
      ['limited', 200, '-', 'via_upstream'],
      ['limited', 429, 'RL', 'local_rate_limited'],
      // On a cached route Envoy's cache filter asks the upstream itself, past the router: no tries,
      // no upstream host in the line.
      ['cached', 200, '-', 'via_upstream'],
      ['cached', 200, 'RFCF', 'cache.response_from_cache_filter'],
    ]);
    expect(lines.map((l) => [l.attempts, l.upstream_host])).toEqual([[1, `127.0.0.1:${api.port}`], [0, null], [0, null], [0, null]]);
  });

  it('one line per TCP connection, with the bytes each way', async () => {
    const [line, ...more] = await waitForLines((l) => l.listener === 'db', 1);
    expect(more).toEqual([]);
    expect(Object.keys(line ?? {}).sort()).toEqual(['listener', ...Object.keys(TCP_ACCESS_LOG_FIELDS)].sort());
    expect(line).toMatchObject({ upstream_cluster: 'shop/watched/echo', upstream_host: `127.0.0.1:${echo.port}`, bytes_received: TCP_PAYLOAD.length, bytes_sent: TCP_PAYLOAD.length, response_flags: '-' });
  });
});

describe('tracing', () => {
  it('sends a span named after the route to the OTLP collector, in the trace the upstream and the access log see', async () => {
    const traceId = upstreamTraceId('/search/tv');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    await waitUntil(async () => otlp.spans.some((s) => s.traceId === traceId), 20_000, 'the span at the OTLP receiver');
    const span = otlp.spans.find((s) => s.traceId === traceId);
    expect(span).toMatchObject({ service: 'watched-test', name: 'search', kind: 3 /* client */ });
    expect(span?.attributes).toMatchObject({ upstream_cluster: 'shop/watched/api', 'http.status_code': '200', 'http.method': 'GET' });
    // The route's name is a span name only: it is not sent to the (external) upstream.
    expect(api.requests.find((q) => q.path === '/search/tv')?.headers['x-envoy-decorator-operation']).toBeUndefined();
    const [line] = await waitForLines((l) => l.path === '/search/tv', 1);
    expect(line?.trace_id).toBe(traceId);
  });

  it("continues the application's own trace: its span is the parent, the upstream gets the same trace", async () => {
    await waitUntil(async () => otlp.spans.some((s) => s.traceId === APP_TRACE), 20_000, "the span of the application's trace");
    const span = otlp.spans.find((s) => s.traceId === APP_TRACE);
    expect(span).toMatchObject({ name: 'search', parentSpanId: APP_SPAN });
    expect(upstreamTraceId('/search/traced')).toBe(APP_TRACE);
  });

  it('names the span of an unnamed route with its default name', async () => {
    const traceId = upstreamTraceId('/other');
    await waitUntil(async () => otlp.spans.some((s) => s.traceId === traceId), 20_000, 'the span at the OTLP receiver');
    expect(otlp.spans.find((s) => s.traceId === traceId)?.name).toBe('route-3');
  });
});
