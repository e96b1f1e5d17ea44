// Config errors of the HTTP features and observability fields (route names, rate limits, caching,
// access logs, tracing): every bad value of every field, asserting the complete message a user sees.
import { describe, expect, it } from 'vitest';
import { formatConfigError } from '../../control-plane/src/model/errors.ts';
import { CONFIG_LABEL, parseConfigMap } from '../../control-plane/src/model/parse-configmap.ts';

function parse(text: string) {
  return parseConfigMap({ kind: 'ConfigMap', namespace: 'shop', name: 'orders', labels: { [CONFIG_LABEL]: 'true' }, origin: 'test', data: { 'ambassador.yaml': text } });
}

function errorsOf(text: string): string[] {
  const r = parse(text);
  if (r.ok) throw new Error('expected the config to be rejected, but it was accepted');
  return r.errors.map(formatConfigError);
}

/** A config whose one route (line 6) has these fields, plus `listenerLines` on its listener. */
function withRoute(routeLines: string[], listenerLines: string[] = []): string {
  return [
    'ambassador: orders',
    'listeners:',
    '  - name: web',
    '    port: 8000',
    '    routes:',
    `      - ${['match: {prefix: /}', 'upstream: a', ...routeLines].join('\n        ')}`,
    ...listenerLines.map((l) => `    ${l}`),
    'upstreams:',
    '  a: {endpoints: ["10.0.0.1:80"]}',
    '',
  ].join('\n');
}
const at = (path: string, line: number) => `ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].${path} (line ${line})`;

/** A config with one HTTP listener and this top-level `tracing:` line (line 2). */
const withTracing = (tracing: string) => ['ambassador: orders', `tracing: ${tracing}`, 'listeners:', '  - {name: web, port: 8000, routes: [{match: {prefix: /}, upstream: a}]}', 'upstreams:', '  a: {endpoints: ["10.0.0.1:80"]}', ''].join('\n');

describe('config errors of the HTTP features', () => {
  it('accepts every new field with good values (so each rejection below is caused by its one change)', () => {
    expect(parse(withRoute(['name: search', 'rateLimit: {requests: 40, per: 10s, burst: 10}', 'cache: true'], ['rateLimit: {requests: 100, per: 1m}', 'accessLog: false'])).ok).toBe(true);
    expect(parse(withTracing('{otlp: "otel-collector.observability:4317", sampling: 0.5, serviceName: orders.shop}')).ok).toBe(true);
  });

  it('route name: not a DNS label, not a string', () => {
    expect(errorsOf(withRoute(['name: Search']))).toEqual([
      `${at('name', 8)}: expected a route name: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters, found "Search"`,
    ]);
    expect(errorsOf(withRoute(['name: 5']))).toEqual([`${at('name', 8)}: expected a string, found 5`]);
  });

  it('route names are unique within a listener, default names ("route-<index>") included', () => {
    const twoRoutes = (a: string, b: string) => ['ambassador: orders', 'listeners:', '  - name: web', '    port: 8000', '    routes:', `      - {match: {prefix: /a}, upstream: a${a}}`, `      - {match: {prefix: /b}, upstream: a${b}}`, 'upstreams:', '  a: {endpoints: ["10.0.0.1:80"]}'].join('\n');
    expect(errorsOf(twoRoutes(', name: x', ', name: x'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[1].name (line 7): duplicate route name "x" (also routes[0]); give each route of the listener its own name',
    ]);
    expect(errorsOf(twoRoutes('', ', name: route-0'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[1].name (line 7): duplicate route name "route-0" (also routes[0], whose default name is "route-0"); give each route of the listener its own name',
    ]);
    expect(errorsOf(twoRoutes(', name: route-1', ''))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[1] (line 7): duplicate route name "route-1" (also routes[0]); give each route of the listener its own name',
    ]);
    // The same name on two listeners is fine: stats and logs name the listener too.
    expect(parse(['ambassador: orders', 'listeners:', '  - {name: a, port: 1, routes: [{match: {prefix: /}, upstream: a, name: x}]}', '  - {name: b, port: 2, routes: [{match: {prefix: /}, upstream: a, name: x}]}', 'upstreams: {a: {endpoints: ["10.0.0.1:80"]}}'].join('\n')).ok).toBe(true);
  });

  it('rateLimit: not a map, an unknown field', () => {
    expect(errorsOf(withRoute(['rateLimit: 40']))).toEqual([`${at('rateLimit', 8)}: expected a map, found 40`]);
    expect(errorsOf(withRoute(['rateLimit: {requests: 40, per: 10s, bursts: 5}']))).toEqual([
      `${at('rateLimit', 8)}: unknown field "bursts" (did you mean "burst"?); allowed fields: requests, per, burst`,
    ]);
  });

  it('rateLimit.requests: missing, 0, negative, a fraction, a string, too large', () => {
    const expected = 'the number of requests per window: a whole number from 1 to 1000000000';
    expect(errorsOf(withRoute(['rateLimit: {per: 10s}']))).toEqual([`${at('rateLimit.requests', 8)}: missing required field (expected ${expected})`]);
    for (const [value, found] of [['0', '0'], ['-1', '-1'], ['1.5', '1.5'], ['"40"', '"40"'], ['1000000001', '1000000001']]) {
      expect(errorsOf(withRoute([`rateLimit: {requests: ${value}, per: 10s}`]))).toEqual([`${at('rateLimit.requests', 8)}: expected ${expected}, found ${found}`]);
    }
  });

  it('rateLimit.per: missing, not a duration, shorter than 1s, longer than 24h', () => {
    const expected = 'a window from 1s to 24h, such as "1s", "10s" or "1m"';
    expect(errorsOf(withRoute(['rateLimit: {requests: 40}']))).toEqual([`${at('rateLimit.per', 8)}: missing required field (expected ${expected})`]);
    expect(errorsOf(withRoute(['rateLimit: {requests: 40, per: soon}']))).toEqual([`${at('rateLimit.per', 8)}: expected ${expected}, found "soon"`]);
    expect(errorsOf(withRoute(['rateLimit: {requests: 40, per: 10}']))).toEqual([`${at('rateLimit.per', 8)}: expected ${expected}, found 10`]);
    expect(errorsOf(withRoute(['rateLimit: {requests: 40, per: 500ms}']))).toEqual([`${at('rateLimit.per', 8)}: expected ${expected}, found "500ms"; for a finer rate, give more requests per second`]);
    expect(errorsOf(withRoute(['rateLimit: {requests: 40, per: 25h}']))).toEqual([`${at('rateLimit.per', 8)}: expected ${expected}, found "25h"`]);
  });

  it('rateLimit.burst: 0, a fraction', () => {
    const expected = 'the burst size: a whole number from 1 to 1000000000';
    expect(errorsOf(withRoute(['rateLimit: {requests: 40, per: 10s, burst: 0}']))).toEqual([`${at('rateLimit.burst', 8)}: expected ${expected}, found 0`]);
    expect(errorsOf(withRoute(['rateLimit: {requests: 40, per: 10s, burst: 2.5}']))).toEqual([`${at('rateLimit.burst', 8)}: expected ${expected}, found 2.5`]);
  });

  it('a listener rateLimit is checked the same way; TCP and Redis listeners have none', () => {
    expect(errorsOf(withRoute([], ['rateLimit: {requests: 40, per: 2d}']))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].rateLimit.per (line 8): expected a window from 1s to 24h, such as "1s", "10s" or "1m", found "2d"',
    ]);
    expect(errorsOf(['ambassador: orders', 'listeners:', '  - {name: db, port: 5432, protocol: tcp, upstream: a, rateLimit: {requests: 1, per: 1s}}', 'upstreams: {a: {endpoints: ["10.0.0.1:80"]}}'].join('\n'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0] (line 3): unknown field "rateLimit"; allowed fields: name, port, address, protocol, upstream, idleTimeout, accessLog',
    ]);
  });

  it('cache: not a boolean', () => {
    expect(errorsOf(withRoute(['cache: yes']))).toEqual([`${at('cache', 8)}: expected true or false, found "yes"`]);
    expect(errorsOf(withRoute(['cache: {}']))).toEqual([`${at('cache', 8)}: expected true or false, found an empty map`]);
  });

  it('cache with a timeout or retries: Envoy would not apply them to what it may cache', () => {
    const why = 'cannot be combined with "cache: true": Envoy\'s cache filter sends cacheable requests (GET, HEAD) to the upstream itself, without the route\'s timeout and retries';
    expect(errorsOf(withRoute(['cache: true', 'timeout: 2s', 'retries: {attempts: 2}']))).toEqual([
      `${at('timeout', 9)}: "timeout" ${why}; remove "timeout", or the cache`,
      `${at('retries', 10)}: "retries" ${why}; remove "retries", or the cache`,
    ]);
    expect(parse(withRoute(['cache: false', 'timeout: 2s', 'retries: {attempts: 2}'])).ok).toBe(true);
  });

  it('cache with transcode: the cache filter would send JSON GETs past the transcoder', () => {
    expect(errorsOf(withRoute(['cache: true', 'transcode: {descriptors: {key: movies.pb}, services: [demo.Movies]}']))).toContainEqual(
      `${at('transcode', 9)}: "transcode" cannot be combined with "cache: true": Envoy's cache filter would send JSON GETs to the gRPC upstream itself, untranscoded; remove one of the two`,
    );
  });

  it('accessLog: not a boolean; a Redis listener has none', () => {
    expect(errorsOf(withRoute([], ['accessLog: "off"']))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].accessLog (line 8): expected true or false (access logs are on unless "accessLog: false"), found "off"',
    ]);
    expect(errorsOf(['ambassador: orders', 'listeners:', '  - {name: db, port: 5432, protocol: tcp, upstream: a, accessLog: 0}', 'upstreams: {a: {endpoints: ["10.0.0.1:80"]}}'].join('\n'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].accessLog (line 3): expected true or false (access logs are on unless "accessLog: false"), found 0',
    ]);
    expect(errorsOf(['ambassador: orders', 'listeners:', '  - {name: c, port: 6379, protocol: redis, upstream: a, accessLog: false}', 'upstreams: {a: {endpoints: ["10.0.0.1:80"]}}'].join('\n'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0] (line 3): unknown field "accessLog"; allowed fields: name, port, address, protocol, upstream, routes, opTimeout',
    ]);
  });

  it('tracing: not a map, an unknown field', () => {
    expect(errorsOf(withTracing('"collector:4317"'))).toEqual(['ConfigMap shop/orders: ambassador.yaml: tracing (line 2): expected a map, found "collector:4317"']);
    expect(errorsOf(withTracing('{otlp: "collector:4317", endpoint: x}'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: tracing (line 2): unknown field "endpoint"; allowed fields: otlp, sampling, serviceName',
    ]);
  });

  it('tracing.otlp: missing, no port, a number', () => {
    const expected = 'the collector\'s OTLP/gRPC address "host:port", such as "otel-collector.observability:4317"';
    expect(errorsOf(withTracing('{}'))).toEqual([`ConfigMap shop/orders: ambassador.yaml: tracing.otlp (line 2): missing required field (expected ${expected})`]);
    expect(errorsOf(withTracing('{otlp: collector}'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: tracing.otlp (line 2): expected an endpoint "host:port" (a DNS name, an IPv4 address or [IPv6], and a port 1-65535), found "collector"',
    ]);
    expect(errorsOf(withTracing('{otlp: 4317}'))).toEqual([`ConfigMap shop/orders: ambassador.yaml: tracing.otlp (line 2): expected ${expected}, found 4317`]);
  });

  it('tracing.sampling: above 100, negative, a string', () => {
    const message = (found: string) => `ConfigMap shop/orders: ambassador.yaml: tracing.sampling (line 2): expected a percentage from 0 to 100, such as 100, 10 or 0.5, found ${found}`;
    expect(errorsOf(withTracing('{otlp: "c:4317", sampling: 101}'))).toEqual([message('101')]);
    expect(errorsOf(withTracing('{otlp: "c:4317", sampling: -0.5}'))).toEqual([message('-0.5')]);
    expect(errorsOf(withTracing('{otlp: "c:4317", sampling: "10%"}'))).toEqual([message('"10%"')]);
  });

  it('tracing.serviceName: spaces, too long', () => {
    const message = (found: string) => `ConfigMap shop/orders: ambassador.yaml: tracing.serviceName (line 2): expected a service name: letters, digits, ".", "_" and "-", at most 128 characters, found ${found}`;
    expect(errorsOf(withTracing('{otlp: "c:4317", serviceName: "my service"}'))).toEqual([message('"my service"')]);
    expect(errorsOf(withTracing(`{otlp: "c:4317", serviceName: ${'s'.repeat(129)}}`))).toEqual([message(`"${'s'.repeat(57)}..."`)]);
  });
});
