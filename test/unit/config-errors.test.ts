// One test per class of config error: each asserts the complete formatted message(s) a user sees
// (ConfigMap "ns/name", the key, the YAML path, the line, what was expected and what was found).
// Asserting the whole list also proves that a mistake is reported once, not as a cascade.
// The last tests cover ModelBuilder: ownership of an ambassador, last-good-config, deletion, labels.
import { describe, expect, it } from 'vitest';
import { formatConfigError } from '../../control-plane/src/model/errors.ts';
import { ModelBuilder } from '../../control-plane/src/model/model-builder.ts';
import { CONFIG_LABEL, MAX_ERRORS, parseConfigMap } from '../../control-plane/src/model/parse-configmap.ts';
import { MAX_ALIAS_VALUES, MAX_DEPTH } from '../../control-plane/src/model/safe-yaml.ts';
import { parseManifestFile } from '../../control-plane/src/sources/manifests.ts';
import { objectKey } from '../../control-plane/src/sources/types.ts';
import type { ConfigMapObject, SourceObject, SourceState } from '../../control-plane/src/sources/types.ts';

function configMap(data: Record<string, string>, name = 'orders', labelled = true): ConfigMapObject {
  return { kind: 'ConfigMap', namespace: 'shop', name, labels: labelled ? { [CONFIG_LABEL]: 'true' } : {}, origin: 'test', data };
}

/** The formatted errors for an ambassador.yaml text (fails the test if it is accepted). */
function errorsOf(text: string): string[] {
  const r = parseConfigMap(configMap({ 'ambassador.yaml': text }));
  if (r.ok) throw new Error('expected the config to be rejected, but it was accepted');
  return r.errors.map(formatConfigError);
}

/** A valid config (once the route has a match and an upstream) whose one route is made of `routeLines`. */
function withRoute(...routeLines: string[]): string {
  return [
    'ambassador: orders',
    'listeners:',
    '  - name: web',
    '    port: 8000',
    '    routes:',
    `      - ${routeLines.join('\n        ')}`,
    'upstreams:',
    '  a:',
    '    endpoints: ["10.0.0.1:80"]',
    '  b:',
    '    endpoints: ["10.0.0.2:80"]',
    '',
  ].join('\n');
}
const ROUTE_LINE = 6; // the line of "- match" in withRoute()

const VALID = withRoute('match: {prefix: /}', 'upstream: a');

describe('config errors of TCP, Redis and environments', () => {
  const base = ['ambassador: orders', 'listeners:'];
  it('an unknown protocol names the protocols', () => {
    expect(errorsOf([...base, '  - {name: x, port: 1, protocol: udp, upstream: a}', 'upstreams: {a: {endpoints: ["10.0.0.1:1"]}}'].join('\n'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].protocol (line 3): expected protocol to be one of http, tcp, redis, found "udp"',
    ]);
  });

  it('a field of another protocol is an unknown field for this one', () => {
    expect(errorsOf([...base, '  - {name: db, port: 5432, protocol: tcp, upstream: a, routes: []}', 'upstreams: {a: {endpoints: ["10.0.0.1:1"]}}'].join('\n'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0] (line 3): unknown field "routes"; allowed fields: name, port, address, protocol, upstream, idleTimeout, accessLog',
    ]);
  });

  it('a redis prefix route to an unknown upstream', () => {
    expect(errorsOf([...base, '  - {name: c, port: 6379, protocol: redis, upstream: a, routes: [{prefix: "s:", upstream: zz}]}', 'upstreams: {a: {endpoints: ["10.0.0.1:1"]}}'].join('\n'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].upstream (line 3): unknown upstream "zz" (defined upstreams: a); add it under "upstreams:" or fix the name',
    ]);
  });

  it('an environment that overrides an upstream that does not exist', () => {
    expect(errorsOf([VALID.trimEnd(), 'environments:', '  staging:', '    upstreams:', '      c: {endpoints: ["10.0.0.3:80"]}'].join('\n'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: environments.staging.upstreams.c (line 16): no upstream "c" to override (defined upstreams: a, b); define it under "upstreams:" first',
    ]);
  });

  it("an environment's overrides that break a rule of the merged config", () => {
    expect(errorsOf([VALID.trimEnd(), 'environments:', '  staging:', '    upstreams:', '      a: {tls: {}}'].join('\n'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: environments.staging (line 15): with this environment\'s overrides, upstreams.a.tls: expected "sni" or "subjectAltNames": the endpoints are IP addresses, so there is no name to verify the server certificate against',
    ]);
  });
});

describe('config errors', () => {
  it('accepts the base config used below (so each rejection is caused by the one change)', () => {
    expect(parseConfigMap(configMap({ 'ambassador.yaml': VALID })).ok).toBe(true);
  });

  it('invalid YAML: reports the YAML parser message and the line', () => {
    expect(errorsOf('ambassador: orders\n\tlisteners: []\n')).toEqual([
      'ConfigMap shop/orders: ambassador.yaml (line 2): invalid YAML: Tabs are not allowed as indentation',
    ]);
  });

  it('empty document (only a comment)', () => {
    expect(errorsOf('# TODO\n')).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: empty: expected the ambassador config (a map with "ambassador", "listeners" and "upstreams")',
    ]);
  });

  it('missing ambassador.yaml key: lists the keys that were found', () => {
    const r = parseConfigMap(configMap({ 'ambassador.yml': 'x', other: 'y' }));
    expect(r.ok ? [] : r.errors.map(formatConfigError)).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: missing: the ConfigMap is labelled xds-ambassador.io/config: "true" but has no data key "ambassador.yaml" (found "ambassador.yml", "other"); put the ambassador config under data.ambassador.yaml',
    ]);
  });

  it('unknown field: "did you mean" hint and the allowed fields', () => {
    expect(errorsOf(withRoute('match: {prefix: /}', 'upstream: a', 'timout: 5s'))).toEqual([
      `ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0] (line ${ROUTE_LINE}): unknown field "timout" (did you mean "timeout"?); allowed fields: match, upstream, split, timeout, retries, inject, transcode, oauth2, awsSigV4, rateLimit, cache, name`,
    ]);
  });

  it('wrong type: port: "eighty"', () => {
    expect(errorsOf(VALID.replace('port: 8000', 'port: "eighty"'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].port (line 4): expected a port number 1-65535, found "eighty"',
    ]);
  });

  it('port out of range', () => {
    expect(errorsOf(VALID.replace('port: 8000', 'port: 70000'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].port (line 4): expected a port number 1-65535, found 70000',
    ]);
  });

  it('bad duration (text, and a bare number)', () => {
    expect(errorsOf(withRoute('match: {prefix: /}', 'upstream: a', 'timeout: 5 seconds'))).toEqual([
      `ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].timeout (line 8): expected a duration such as "250ms", "5s", "1.5s" or "2m", found "5 seconds"`,
    ]);
    expect(errorsOf(withRoute('match: {prefix: /}', 'upstream: a', 'timeout: 5'))).toEqual([
      `ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].timeout (line 8): expected a duration such as "250ms", "5s", "1.5s" or "2m", found 5`,
    ]);
  });

  it('bad endpoint (no port, and a malformed bracketed IPv6 address)', () => {
    expect(errorsOf(VALID.replace('"10.0.0.1:80"', '"10.0.0.1"'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: upstreams.a.endpoints[0] (line 10): expected an endpoint "host:port" (a DNS name, an IPv4 address or [IPv6], and a port 1-65535), found "10.0.0.1"',
    ]);
    expect(errorsOf(VALID.replace('"10.0.0.1:80"', '"[::::]:80"'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: upstreams.a.endpoints[0] (line 10): expected an endpoint "host:port" (a DNS name, an IPv4 address or [IPv6], and a port 1-65535), found "[::::]:80"',
    ]);
  });

  it('bad retry condition: lists the valid ones', () => {
    expect(errorsOf(withRoute('match: {prefix: /}', 'upstream: a', 'retries: {attempts: 2, on: [5xx, timeout]}'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].retries.on[1] (line 8): expected one of 5xx, gateway-error, reset, reset-before-request, connect-failure, envoy-ratelimited, retriable-4xx, refused-stream, retriable-status-codes, http3-post-connect-failure, or for gRPC cancelled, deadline-exceeded, internal, resource-exhausted, unavailable, found "timeout"',
    ]);
  });

  it('bad header name', () => {
    expect(errorsOf(withRoute('match: {prefix: /, headers: {X-Canary: "1"}}', 'upstream: a'))).toEqual([
      `ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].match.headers.X-Canary (line ${ROUTE_LINE}): expected a lowercase HTTP header name, found "X-Canary"`,
    ]);
  });

  it('bad header value form', () => {
    expect(errorsOf(withRoute('match: {prefix: /, headers: {x-canary: {regex: "1"}}}', 'upstream: a'))).toEqual([
      `ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].match.headers.x-canary (line ${ROUTE_LINE}): expected a string (exact match) or one of {exact: ...}, {prefix: ...}, {present: true|false}, found a map with "regex"`,
    ]);
  });

  it('empty listeners', () => {
    expect(errorsOf('ambassador: orders\nlisteners: []\n')).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners (line 2): expected at least one listener, found a list (0 items)',
    ]);
  });

  it('empty routes', () => {
    expect(errorsOf('ambassador: orders\nlisteners:\n  - name: web\n    port: 8000\n    routes: []\n')).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].routes (line 5): expected at least one route, found a list (0 items)',
    ]);
  });

  it('route with neither or both of prefix and path', () => {
    const message = (found: string) =>
      `ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].match (line ${ROUTE_LINE}): expected exactly one of "prefix" (e.g. prefix: /) or "path" (an exact path), found ${found}`;
    expect(errorsOf(withRoute('match: {}', 'upstream: a'))).toEqual([message('neither')]);
    expect(errorsOf(withRoute('match: {prefix: /, path: /x}', 'upstream: a'))).toEqual([message('both')]);
  });

  it('route with neither or both of upstream and split', () => {
    const message = (found: string) =>
      `ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0] (line ${ROUTE_LINE}): expected exactly one of "upstream: NAME" or "split: [{upstream, weight}, ...]", found ${found}`;
    expect(errorsOf(withRoute('match: {prefix: /}'))).toEqual([message('neither')]);
    expect(errorsOf(withRoute('match: {prefix: /}', 'upstream: a', 'split: [{upstream: b, weight: 1}]'))).toEqual([message('both')]);
  });

  it('unknown upstream reference: lists the defined ones', () => {
    expect(errorsOf(withRoute('match: {prefix: /}', 'upstream: c'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].upstream (line 7): unknown upstream "c" (defined upstreams: a, b); add it under "upstreams:" or fix the name',
    ]);
  });

  const twoListeners = (second: string) => [
    'ambassador: orders',
    'listeners:',
    '  - {name: web, port: 8000, routes: [{match: {prefix: /}, upstream: a}]}',
    `  - {${second}, routes: [{match: {prefix: /}, upstream: a}]}`,
    'upstreams:',
    '  a: {endpoints: ["10.0.0.1:80"]}',
    '',
  ].join('\n');

  it('duplicate listener name', () => {
    expect(errorsOf(twoListeners('name: web, port: 8001'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[1].name (line 4): duplicate listener name "web" (also listeners[0]); give each listener its own name',
    ]);
  });

  it('duplicate port (on the same address)', () => {
    expect(errorsOf(twoListeners('name: api, port: 8000'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[1].port (line 4): port 8000 on 127.0.0.1 is already used by listeners[0]; choose another port',
    ]);
    // The same port on another address is a different socket.
    expect(parseConfigMap(configMap({ 'ambassador.yaml': twoListeners('name: api, port: 8000, address: "::1"') })).ok).toBe(true);
  });

  it('split weights summing to 0', () => {
    expect(errorsOf(withRoute('match: {prefix: /}', 'split: [{upstream: a, weight: 0}, {upstream: b, weight: 0}]'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].split (line 7): expected the split weights to add up to more than 0, found 2 weights of 0',
    ]);
  });

  it('duplicate upstream in a split', () => {
    expect(errorsOf(withRoute('match: {prefix: /}', 'split: [{upstream: a, weight: 1}, {upstream: a, weight: 2}]'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].split[1].upstream (line 7): upstream "a" appears twice in the split; merge the two weights',
    ]);
  });

  it('backoff max < base', () => {
    expect(errorsOf(withRoute('match: {prefix: /}', 'upstream: a', 'retries: {attempts: 2, backoff: {base: 1s, max: 100ms}}'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].retries.backoff.max (line 8): expected max to be at least base (1000ms), found 100ms',
    ]);
  });

  it('connect timeout of 0 (Envoy requires connect_timeout > 0)', () => {
    expect(errorsOf(VALID.replace('endpoints: ["10.0.0.1:80"]', 'endpoints: ["10.0.0.1:80"]\n    connectTimeout: 0s'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: upstreams.a.connectTimeout (line 11): expected a connect timeout greater than 0 (such as "1s"), found 0ms',
    ]);
  });

  it('invalid ambassador name', () => {
    expect(errorsOf(VALID.replace('ambassador: orders', 'ambassador: Orders_1'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: ambassador (line 1): expected an ambassador name (the node.cluster of its Envoys): lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters, found "Orders_1"',
    ]);
  });
});

describe('ModelBuilder', () => {
  const state = (...objects: SourceObject[]): SourceState => ({ objects: new Map(objects.map((o) => [objectKey(o), o])), problems: [] });
  const cm = (name: string, text: string, labelled = true) => configMap({ 'ambassador.yaml': text }, name, labelled);

  it('an invalid ConfigMap is parsed once, not on every build (until its content changes)', () => {
    const builder = new ModelBuilder();
    const broken = cm('orders', VALID.replace('port: 8000', 'port: 0'));
    const other = (port: number) => cm('other', VALID.replace('ambassador: orders', 'ambassador: other').replace('port: 8000', `port: ${port}`));
    const first = builder.build(state(broken, other(1)));
    const second = builder.build(state(broken, other(2))); // another ConfigMap edited
    expect(second.errors).toHaveLength(1);
    expect(second.errors[0]).toBe(first.errors[0]); // the very same error object: not parsed again
    const edited = builder.build(state(cm('orders', VALID.replace('port: 8000', 'port: 99999')), other(2)));
    expect(edited.errors.map(formatConfigError)).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].port (line 4): expected a port number 1-65535, found 99999',
    ]);
  });

  it('two ConfigMaps claiming one ambassador: the first by name wins, the second gets the error', () => {
    const result = new ModelBuilder().build(state(cm('zz-second', VALID), cm('aa-first', VALID)));
    expect([...result.ambassadors.entries()].map(([k, m]) => [k, m.configMap])).toEqual([['shop/orders', 'shop/aa-first']]);
    expect(result.errors.map(formatConfigError)).toEqual([
      'ConfigMap shop/zz-second: ambassador.yaml: ambassador: ambassador "orders" in namespace "shop" is already configured by ConfigMap shop/aa-first; put all of an ambassador\'s listeners in one ConfigMap, or give this one another ambassador name',
    ]);
  });

  it('a ConfigMap that becomes invalid keeps its last good config (stale) and recovers when fixed', () => {
    const builder = new ModelBuilder();
    const good = builder.build(state(cm('orders', VALID)));
    const goodConfig = good.ambassadors.get('shop/orders')?.config;
    expect(goodConfig).toBeDefined();
    expect(good.ambassadors.get('shop/orders')?.stale).toBe(false);

    const broken = builder.build(state(cm('orders', VALID.replace('port: 8000', 'port: 0'))));
    expect(broken.errors.map(formatConfigError)).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0].port (line 4): expected a port number 1-65535, found 0',
    ]);
    expect(broken.ambassadors.get('shop/orders')).toMatchObject({ stale: true, configMap: 'shop/orders' });
    expect(broken.ambassadors.get('shop/orders')?.config).toBe(goodConfig);

    const fixed = builder.build(state(cm('orders', VALID.replace('port: 8000', 'port: 8001'))));
    expect(fixed.errors).toEqual([]);
    expect(fixed.ambassadors.get('shop/orders')?.stale).toBe(false);
    expect(fixed.ambassadors.get('shop/orders')?.config.listeners[0]?.port).toBe(8001);
  });

  it('an invalid ConfigMap with no good version yet serves nothing and reports its error', () => {
    const result = new ModelBuilder().build(state(cm('orders', 'ambassador: orders\nlisteners: []\n')));
    expect(result.ambassadors.size).toBe(0);
    expect(result.errors).toHaveLength(1);
  });

  it('a deleted ConfigMap disappears (and its last good version is forgotten)', () => {
    const builder = new ModelBuilder();
    expect(builder.build(state(cm('orders', VALID))).ambassadors.size).toBe(1);
    expect(builder.build(state()).ambassadors.size).toBe(0);
    // Re-created broken: the old good version must not come back.
    const recreated = builder.build(state(cm('orders', VALID.replace('port: 8000', 'port: 0'))));
    expect(recreated.ambassadors.size).toBe(0);
    expect(recreated.errors).toHaveLength(1);
  });

  it('an unlabelled ConfigMap is ignored, even when it is invalid', () => {
    const result = new ModelBuilder().build(state(cm('orders', VALID, false), cm('junk', 'not: [valid', false)));
    expect(result.ambassadors.size).toBe(0);
    expect(result.errors).toEqual([]);
  });
});

// Whoever can create a ConfigMap may be hostile: no text makes parseConfigMap throw, overflow the
// stack or walk an exponential structure; each limit is an error with the line and the fix.
describe('hostile input', () => {
  const list = (n: number, item: string) => Array(n).fill(item).join(', ');

  it('the alias bomb that crashed every replica (101 aliases of a list) is just an invalid config', () => {
    expect(errorsOf(`x: &x [1]\ny: [${list(101, '*x')}]\n`)).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: ambassador (line 1): missing required field (expected a string)',
      'ConfigMap shop/orders: ambassador.yaml: listeners (line 1): missing required field (expected a list)',
      'ConfigMap shop/orders: ambassador.yaml (line 1): unknown field "x", "y"; allowed fields: ambassador, serviceAccounts, listeners, upstreams, environments, tracing',
    ]);
  });

  it('a repeated key is an error, found in linear time (the YAML library\'s own check took 139 s for 60,000 keys)', () => {
    expect(errorsOf('ambassador: orders\nlisteners: []\nambassador: "billing"\n')).toEqual([
      'ConfigMap shop/orders: ambassador.yaml (line 3): YAML: the key "ambassador" appears twice in the same map — keep one',
    ]);
    const manyKeys = Array.from({ length: 60_000 }, (_, i) => `k${i}: v`).join('\n');
    expect(errorsOf(`${manyKeys}\nk7: again\n`)).toEqual([
      'ConfigMap shop/orders: ambassador.yaml (line 60001): YAML: the key "k7" appears twice in the same map — keep one',
    ]);
  });

  it('aliases of aliases ("billion laughs") stop at the alias expansion limit', () => {
    const laughs = ['a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]', `b: &b [${list(10, '*a')}]`, `c: &c [${list(10, '*b')}]`, `d: &d [${list(10, '*c')}]`, `e: &e [${list(10, '*d')}]`, `f: [${list(10, '*e')}]`];
    expect(errorsOf(laughs.join('\n'))).toEqual([
      `ConfigMap shop/orders: ambassador.yaml (line 4): YAML aliases: the aliases (*name) expand to more than ${MAX_ALIAS_VALUES} values — write the repeated parts out, or use fewer aliases`,
    ]);
    // Aliases within the limit are fine: a shared retry policy, say.
    const shared = VALID.replace('upstream: a', 'upstream: a\n        retries: &r {attempts: 2}').replace('  b:', '  b:\n    healthCheck: {path: /h}');
    expect(parseConfigMap(configMap({ 'ambassador.yaml': shared.replace('retries: &r {attempts: 2}', 'retries: &r {attempts: 2}\n      - {match: {prefix: /x}, upstream: b, retries: *r}') })).ok).toBe(true);
  });

  it('an alias inside the node it names (an endless loop), and an alias with no anchor', () => {
    expect(errorsOf('ambassador: orders\nlisteners: &l [*l]\n')).toEqual([
      'ConfigMap shop/orders: ambassador.yaml (line 2): YAML aliases: *l is inside the value of &l it refers to (an endless loop) — remove the alias',
    ]);
    expect(errorsOf('ambassador: orders\nlisteners: *l\n')).toEqual([
      'ConfigMap shop/orders: ambassador.yaml (line 2): YAML aliases: *l refers to no anchor &l before it — define the anchor first, or fix the name',
    ]);
  });

  it(`nesting deeper than ${MAX_DEPTH} levels, written out or through an alias`, () => {
    const nested = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const tooDeep = `ConfigMap shop/orders: ambassador.yaml (line 2): YAML nesting: more than ${MAX_DEPTH} levels of maps and lists — a config never needs that many; remove the extra nesting`;
    expect(errorsOf(`ambassador: orders\nlisteners: ${nested(MAX_DEPTH)}\n`)).toEqual([tooDeep]); // + the top-level map
    // 50000 levels: the yaml library's recursive composer would overflow the stack on it.
    expect(errorsOf(`ambassador: orders\nlisteners: ${nested(50_000)}\n`)).toEqual([tooDeep]);
    expect(errorsOf(`ambassador: orders\nx: &x ${nested(60)}\nlisteners: ${'['.repeat(45)}*x${']'.repeat(45)}\n`)).toEqual([
      `ConfigMap shop/orders: ambassador.yaml (line 3): YAML nesting: with the alias *x expanded, more than ${MAX_DEPTH} levels of maps and lists — remove the extra nesting`,
    ]);
    // At the limit, it is the schema that objects.
    expect(errorsOf(`ambassador: orders\nlisteners: ${nested(MAX_DEPTH - 1)}\n`)).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: listeners[0] (line 2): expected a map, found a list (1 item)',
    ]);
  });

  it(`lists the first ${MAX_ERRORS} errors of a document full of them, then counts the rest`, () => {
    const errors = errorsOf(`ambassador: orders\nlisteners:\n${Array.from({ length: 3000 }, (_, i) => `  - name: l${i}`).join('\n')}\n`);
    expect(errors).toHaveLength(MAX_ERRORS + 1);
    expect(errors[0]).toBe('ConfigMap shop/orders: ambassador.yaml: listeners[0].port (line 3): expected a port number 1-65535, found nothing');
    expect(errors[MAX_ERRORS]).toBe(`ConfigMap shop/orders: ambassador.yaml: and ${6000 - MAX_ERRORS} more errors not listed — fix the ones above first`);
  });

  it('a second YAML document, and YAML tags that make other types, are errors', () => {
    expect(errorsOf(`${VALID}---\nambassador: other\n`)).toEqual([
      'ConfigMap shop/orders: ambassador.yaml (line 13): invalid YAML: more than one document (a "---" line) — put the whole config in one document',
    ]);
    expect(errorsOf(VALID.replace('ambassador: orders', 'ambassador: !!binary b3JkZXJz'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml: ambassador (line 1): expected a string, found a map with "0", "1", "2", "3", "4", …',
    ]);
    expect(errorsOf(VALID.replace('ambassador: orders', '__proto__: {ambassador: x}\nambassador: orders'))).toEqual([
      'ConfigMap shop/orders: ambassador.yaml (line 1): unknown field "__proto__"; allowed fields: ambassador, serviceAccounts, listeners, upstreams, environments, tracing',
    ]);
  });
});

describe('errors of a ConfigMap read from a manifest file give the line in that file', () => {
  const FILE = [
    'apiVersion: v1', //                                  1
    'kind: ConfigMap', //                                 2
    'metadata:', //                                       3
    '  name: orders', //                                  4
    '  namespace: shop', //                               5
    '  labels: {xds-ambassador.io/config: "true"}', //   6
    'data:', //                                           7
    '  ambassador.yaml: |', //                            8
    ...VALID.trimEnd().split('\n').map((l) => `    ${l}`), // ambassador.yaml line n is file line 8 + n
  ].join('\n');
  const build = (text: string) => {
    const parsed = parseManifestFile('deploy/orders.yaml', text);
    if ('problem' in parsed) throw new Error(parsed.problem.message);
    return new ModelBuilder().build({ objects: new Map(parsed.objects.map((o) => [objectKey(o), o])), problems: [] }).errors.map(formatConfigError);
  };

  it('inside a | block: the exact line, next to the line within ambassador.yaml', () => {
    expect(build(FILE.replace('port: 8000', 'port: 0'))).toEqual([
      'deploy/orders.yaml:12: ConfigMap shop/orders: ambassador.yaml: listeners[0].port (line 4): expected a port number 1-65535, found 0',
    ]);
  });

  it('errors found after parsing (a Secret that does not exist, a second claim on an ambassador) name the line of the value', () => {
    const withSecret = FILE.replace('upstream: a', 'upstream: a\n            inject: {header: x-key, secret: {name: nope, key: k}}');
    const second = FILE.replace('name: orders', 'name: orders-2'); // its document starts on line 23, after withSecret's 21 lines and "---"
    expect(build(`${withSecret}\n---\n${second}\n`)).toEqual([
      'deploy/orders.yaml:9: ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].inject.secret: Secret shop/nope not found; create it in namespace "shop", or fix the name at listeners[0].routes[0].inject.secret',
      'deploy/orders.yaml:31: ConfigMap shop/orders-2: ambassador.yaml: ambassador: ambassador "orders" in namespace "shop" is already configured by ConfigMap shop/orders; put all of an ambassador\'s listeners in one ConfigMap, or give this one another ambassador name',
    ]);
  });

  it('a quoted value cannot be mapped line by line: the line where it starts', () => {
    const quoted = FILE.split('\n').slice(0, 7).join('\n') + `\n  other: x\n  ambassador.yaml: ${JSON.stringify(VALID.replace('port: 8000', 'port: 0'))}\n`;
    expect(build(quoted)).toEqual([
      'deploy/orders.yaml:9: ConfigMap shop/orders: ambassador.yaml: listeners[0].port (line 4): expected a port number 1-65535, found 0',
    ]);
  });

  it('an alias bomb read from a file names the file, the ConfigMap and the line', () => {
    const bomb = ['a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]', ...['b', 'c', 'd', 'e'].map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcd'[i]}`).join(', ')}]`), `f: [${Array(10).fill('*e').join(', ')}]`];
    expect(build(FILE.split('\n').slice(0, 8).join('\n') + `\n${bomb.map((l) => `    ${l}`).join('\n')}\n`)).toEqual([
      `deploy/orders.yaml:12: ConfigMap shop/orders: ambassador.yaml (line 4): YAML aliases: the aliases (*name) expand to more than ${MAX_ALIAS_VALUES} values — write the repeated parts out, or use fewer aliases`,
    ]);
  });
});
