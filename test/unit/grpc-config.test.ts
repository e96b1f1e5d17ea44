// Config errors of gRPC upstreams and JSON → gRPC transcoding: every bad value of `protocol`,
// `transcode` and the gRPC retry conditions, and every way a descriptor set in the ConfigMap can be
// wrong (missing, not a descriptor set, imports left out, a service it lacks or cannot map), each
// with its complete message. Then how binaryData travels: manifests, the Kubernetes object
// conversion, and the model (a new descriptor set alone makes a new config).
import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { buildDescriptorSet, encodeDescriptorSet, MOVIES_SERVICE } from '../../control-plane/src/demo/descriptor-set.ts';
import { formatConfigError } from '../../control-plane/src/model/errors.ts';
import { ModelBuilder } from '../../control-plane/src/model/model-builder.ts';
import { CONFIG_LABEL, parseConfigMap } from '../../control-plane/src/model/parse-configmap.ts';
import { fromConfigMap } from '../../control-plane/src/sources/kubernetes-objects.ts';
import { parseManifestFile } from '../../control-plane/src/sources/manifests.ts';
import { objectKey, type ConfigMapObject } from '../../control-plane/src/sources/types.ts';

const MOVIES = buildDescriptorSet();

function configMap(text: string, binaryData: Record<string, Uint8Array> = { 'movies.pb': MOVIES }, data: Record<string, string> = {}): ConfigMapObject {
  return { kind: 'ConfigMap', namespace: 'shop', name: 'orders', labels: { [CONFIG_LABEL]: 'true' }, origin: 'test', data: { 'ambassador.yaml': text, ...data }, binaryData };
}

function errorsOf(cm: ConfigMapObject): string[] {
  const r = parseConfigMap(cm);
  if (r.ok) throw new Error('expected the config to be rejected, but it was accepted');
  return r.errors.map(formatConfigError);
}

/** A config with one route (its extra lines given) to the upstream `grpc`, whose own lines are given too. */
function config(o: { route?: string[]; upstream?: string[]; extra?: string[] } = {}): string {
  return [
    'ambassador: orders',
    'listeners:',
    '  - name: web',
    '    port: 8000',
    '    routes:',
    '      - match: {prefix: /}',
    '        upstream: grpc',
    ...(o.route ?? []).map((l) => `        ${l}`),
    'upstreams:',
    '  grpc:',
    '    endpoints: ["10.0.0.1:50051"]',
    ...(o.upstream ?? ['protocol: http2']).map((l) => `    ${l}`),
    ...(o.extra ?? []),
    '',
  ].join('\n');
}
const TRANSCODE = ['transcode:', '  descriptors: {key: movies.pb}', `  services: [${MOVIES_SERVICE}]`];
const E = 'ConfigMap shop/orders: ambassador.yaml:';

/** An encoded FileDescriptorSet of these files (camelCase fields, as protobufjs writes them). */
function set(...file: Record<string, unknown>[]): Uint8Array {
  return encodeDescriptorSet({ file });
}
const GET = { name: 'Get', inputType: '.shop.v1.Req', outputType: '.shop.v1.Req' };
const HTTP_GET = { '.google.api.http': { get: '/v1/x' } };

describe('config errors of gRPC upstreams', () => {
  it('accepts the configs below once fixed (so each rejection is caused by the one change)', () => {
    expect(parseConfigMap(configMap(config({ route: TRANSCODE }))).ok).toBe(true);
    expect(parseConfigMap(configMap(config({ route: ['retries: {attempts: 2, on: [unavailable, 5xx]}'], upstream: ['protocol: auto'] }))).ok).toBe(true);
  });

  it('an unknown protocol lists the protocols', () => {
    expect(errorsOf(configMap(config({ upstream: ['protocol: h2c'] })))).toEqual([
      `${E} upstreams.grpc.protocol (line 11): expected one of http1, http2, auto (http2 for gRPC), found "h2c"`,
    ]);
  });

  it('an unknown protocol in an environment override', () => {
    expect(errorsOf(configMap(config({ extra: ['environments:', '  staging: {upstreams: {grpc: {protocol: grpc}}}'] })))).toEqual([
      `${E} environments.staging.upstreams.grpc.protocol (line 13): expected one of http1, http2, auto (http2 for gRPC), found "grpc"`,
    ]);
  });

  it('an HTTP protocol on an upstream of a TCP or Redis listener', () => {
    const text = ['ambassador: orders', 'listeners:', '  - {name: db, port: 5432, protocol: tcp, upstream: pg}', '  - {name: cache, port: 6379, protocol: redis, upstream: rd}', 'upstreams:', '  pg: {endpoints: ["10.0.0.1:5432"], protocol: http2}', '  rd: {endpoints: ["10.0.0.2:6379"], protocol: auto}', ''].join('\n');
    expect(errorsOf(configMap(text))).toEqual([
      `${E} upstreams.pg.protocol (line 6): upstream "pg" is used by the tcp listener "db", which proxies bytes, not HTTP: protocol http2 applies to HTTP routes only — remove it`,
      `${E} upstreams.rd.protocol (line 7): upstream "rd" is used by the redis listener "cache", which proxies Redis commands, not HTTP: protocol auto applies to HTTP routes only — remove it`,
    ]);
  });

  it('a gRPC retry condition on a route to an HTTP/1.1 upstream', () => {
    expect(errorsOf(configMap(config({ route: ['retries: {attempts: 2, on: [5xx, unavailable]}'], upstream: [] })))).toEqual([
      `${E} listeners[0].routes[0].retries.on[1] (line 8): "unavailable" is a gRPC status, and gRPC needs HTTP/2: upstream "grpc" has protocol http1 — set upstreams.grpc.protocol: http2 (or auto)`,
    ]);
  });

  it('a bad retry condition lists the HTTP and the gRPC ones', () => {
    expect(errorsOf(configMap(config({ route: ['retries: {attempts: 2, on: [unavailble]}'] })))).toEqual([
      `${E} listeners[0].routes[0].retries.on[0] (line 8): expected one of 5xx, gateway-error, reset, reset-before-request, connect-failure, envoy-ratelimited, retriable-4xx, refused-stream, retriable-status-codes, http3-post-connect-failure, or for gRPC cancelled, deadline-exceeded, internal, resource-exhausted, unavailable, found "unavailble"`,
    ]);
  });
});

describe('config errors of transcoding', () => {
  it('each field of transcode: unknown, missing, empty, malformed', () => {
    expect(errorsOf(configMap(config({ route: ['transcode: {descriptors: {key: movies.pb}, service: [a.B]}'] })))).toEqual([
      `${E} listeners[0].routes[0].transcode.services (line 8): missing required field (expected a list)`,
      `${E} listeners[0].routes[0].transcode (line 8): unknown field "service" (did you mean "services"?); allowed fields: descriptors, services`,
    ]);
    expect(errorsOf(configMap(config({ route: ['transcode: {services: [a.B]}'] })))).toEqual([
      `${E} listeners[0].routes[0].transcode.descriptors (line 8): missing required field (expected a map)`,
    ]);
    expect(errorsOf(configMap(config({ route: ['transcode: {descriptors: {key: "movies pb"}, services: []}'] })))).toEqual([
      `${E} listeners[0].routes[0].transcode.descriptors.key (line 8): expected a binaryData key: letters, digits, "-", "_" and ".", found "movies pb"`,
      `${E} listeners[0].routes[0].transcode.services (line 8): expected at least one service such as "shop.catalog.v1.Movies", found a list (0 items)`,
    ]);
    expect(errorsOf(configMap(config({ route: ['transcode: {descriptors: {binaryData: movies.pb}, services: ["xds_ambassador/Movies"]}'] })))).toEqual([
      `${E} listeners[0].routes[0].transcode.descriptors.key (line 8): missing required field (expected a string)`,
      `${E} listeners[0].routes[0].transcode.descriptors (line 8): unknown field "binaryData"; allowed fields: key`,
      `${E} listeners[0].routes[0].transcode.services[0] (line 8): expected a fully-qualified gRPC service name such as "shop.catalog.v1.Movies" (package, then service), found "xds_ambassador/Movies"`,
    ]);
  });

  it('transcoding to an upstream that is not HTTP/2 (auto would pass the JSON call on as HTTP/1.1)', () => {
    for (const p of ['http1', 'auto']) {
      expect(errorsOf(configMap(config({ route: TRANSCODE, upstream: [`protocol: ${p}`] })))).toEqual([
        `${E} listeners[0].routes[0].transcode (line 9): transcoding sends gRPC, which needs HTTP/2: upstream "grpc" has protocol ${p} — set upstreams.grpc.protocol: http2`,
      ]);
    }
  });

  it("an environment's override that makes a transcoding upstream HTTP/1.1", () => {
    expect(errorsOf(configMap(config({ route: TRANSCODE, extra: ['environments:', '  staging: {upstreams: {grpc: {protocol: http1}}}'] })))).toEqual([
      `${E} environments.staging (line 16): with this environment's overrides, listeners.0.routes.0.transcode: transcoding sends gRPC, which needs HTTP/2: upstream "grpc" has protocol http1 — set upstreams.grpc.protocol: http2`,
    ]);
  });

  it('a key binaryData does not have lists the keys it has', () => {
    expect(errorsOf(configMap(config({ route: TRANSCODE }), { 'catalog.pb': MOVIES }))).toEqual([
      `${E} listeners[0].routes[0].transcode.descriptors.key (line 9): binaryData has no key "movies.pb" (it has "catalog.pb"); add the descriptor set there (kubectl create configmap orders --from-file=ambassador.yaml --from-file=movies.pb puts it there)`,
    ]);
    expect(errorsOf(configMap(config({ route: TRANSCODE }), {}))[0]).toContain('binaryData has no key "movies.pb" (the ConfigMap has no binaryData)');
  });

  it('a descriptor set under data (text) instead of binaryData', () => {
    // kubectl create configmap --from-file never does that: a set with HTTP rules is never UTF-8.
    expect(isUtf8(MOVIES)).toBe(false);
    expect(errorsOf(configMap(config({ route: TRANSCODE }), {}, { 'movies.pb': Buffer.from(MOVIES).toString('base64') }))).toEqual([
      `${E} listeners[0].routes[0].transcode.descriptors.key (line 9): "movies.pb" is under data, which holds text; a descriptor set is binary and goes under binaryData (kubectl create configmap orders --from-file=ambassador.yaml --from-file=movies.pb puts it there)`,
    ]);
  });

  it('bytes that are not a descriptor set: empty, garbage, truncated, no files; never printed', () => {
    const at = `${E} listeners[0].routes[0].transcode.descriptors.key (line 9): the descriptor set in "movies.pb"`;
    const rebuild = 'build it with protoc --include_imports --descriptor_set_out=FILE your.proto';
    const of = (bytes: Uint8Array) => errorsOf(configMap(config({ route: TRANSCODE }), { 'movies.pb': bytes }));
    expect(of(new Uint8Array())).toEqual([`${at} is empty, not a protobuf descriptor set — ${rebuild}`]);
    expect(of(new TextEncoder().encode('\u0000\u0001\u0002'))).toEqual([`${at} is not a protobuf descriptor set (illegal tag: field number 0) — ${rebuild}`]);
    expect(of(new Uint8Array([0x10, 0x01]))).toEqual([`${at} holds no .proto files, so it is not a descriptor set — ${rebuild}`]); // a message, with no file in it
    expect(of(MOVIES.subarray(0, 100))).toEqual([`${at} is not a protobuf descriptor set (index out of range) — ${rebuild}`]);
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const message = of(png)[0] ?? '';
    expect(message).toMatch(new RegExp(`^${at.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a protobuf descriptor set \\(.*\\) — build it with protoc`));
    expect(message).not.toContain('PNG');
  });

  it('a descriptor set without its imports, or with them out of order, or a file twice', () => {
    const at = `${E} listeners[0].routes[0].transcode.descriptors.key (line 9): the descriptor set in "movies.pb"`;
    const annotations = { name: 'google/api/annotations.proto', package: 'google.api' };
    const shop = { name: 'shop.proto', package: 'shop.v1', dependency: ['google/api/annotations.proto'] };
    const of = (bytes: Uint8Array) => errorsOf(configMap(config({ route: TRANSCODE }), { 'movies.pb': bytes }));
    expect(of(set(shop))).toEqual([`${at} "shop.proto" imports "google/api/annotations.proto", which is not in the set before it — build it with protoc --include_imports --descriptor_set_out=FILE your.proto (--include_imports adds the imports)`]);
    expect(of(set(shop, annotations))).toEqual([`${at} "shop.proto" imports "google/api/annotations.proto", which is not in the set before it — build it with protoc --include_imports --descriptor_set_out=FILE your.proto (--include_imports adds the imports)`]);
    expect(of(set(annotations, annotations))).toEqual([`${at} holds "google/api/annotations.proto" twice — build it with protoc --include_imports --descriptor_set_out=FILE your.proto`]);
  });

  it('a service the set does not declare (with a hint), and one with no google.api.http rule', () => {
    const cm = configMap(config({ route: ['transcode:', '  descriptors: {key: movies.pb}', '  services: [xds_ambassador.demo.v1.Movie, shop.v1.Shop]'] }), {
      'movies.pb': set(
        { name: 'shop.proto', package: 'shop.v1', messageType: [{ name: 'Req' }], service: [{ name: 'Shop', method: [GET] }] },
        { name: 'movies.proto', package: 'xds_ambassador.demo.v1', service: [{ name: 'Movies' }] },
      ),
    });
    expect(errorsOf(cm)).toEqual([
      `${E} listeners[0].routes[0].transcode.services[0] (line 10): service "xds_ambassador.demo.v1.Movie" is not in the descriptor set in "movies.pb" (it declares shop.v1.Shop, xds_ambassador.demo.v1.Movies); did you mean "xds_ambassador.demo.v1.Movies"?`,
      `${E} listeners[0].routes[0].transcode.services[1] (line 10): no method of service "shop.v1.Shop" has a google.api.http option, so no JSON call maps to it — annotate its methods (option (google.api.http) = {get: "/v1/..."}) and rebuild the descriptor set`,
    ]);
  });

  it('hostile bytes: nested groups and a megabyte of noise are errors, quickly', () => {
    // Field 1 as a group start, nested 200,000 deep: the decoder's recursion, not ours.
    const groups = new Uint8Array(400_000);
    for (let i = 0; i < groups.length; i += 2) groups.set([0x0b, 0x0b], i);
    const noise = new Uint8Array(1024 * 1024).map((_, i) => (i * 2654435761) >>> 24);
    for (const bytes of [groups, noise]) {
      const start = performance.now();
      const errors = errorsOf(configMap(config({ route: TRANSCODE }), { 'movies.pb': bytes }));
      expect(performance.now() - start).toBeLessThan(1000);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/transcode\.descriptors\.key \(line 9\): the descriptor set in "movies.pb" (is not a protobuf descriptor set|holds no \.proto files)/);
    }
  });
});

describe('binaryData on its way to the model', () => {
  const manifest = (b64: string) => `apiVersion: v1
kind: ConfigMap
metadata: {name: orders, namespace: shop, labels: {${CONFIG_LABEL}: "true"}}
data:
  ambassador.yaml: |
${config({ route: TRANSCODE }).split('\n').map((l) => `    ${l}`).join('\n')}
binaryData:
  movies.pb: ${b64}
`;

  it('a manifest file carries binaryData decoded, and a ConfigMap without any has none', () => {
    const r = parseManifestFile('m.yaml', manifest(Buffer.from(MOVIES).toString('base64')));
    if ('problem' in r) throw new Error(r.problem.message);
    const cm = r.objects[0] as ConfigMapObject;
    expect(Buffer.from(cm.binaryData?.['movies.pb'] ?? []).equals(Buffer.from(MOVIES))).toBe(true);
    const plain = parseManifestFile('p.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: y}\n');
    expect('objects' in plain && 'binaryData' in (plain.objects[0] ?? {})).toBe(false);
  });

  it('the Kubernetes object conversion decodes binaryData (the API server sends base64)', () => {
    const cm = fromConfigMap({ metadata: { namespace: 'shop', name: 'orders' }, data: { a: 'b' }, binaryData: { 'movies.pb': Buffer.from(MOVIES).toString('base64') } });
    expect(Buffer.from(cm?.binaryData?.['movies.pb'] ?? []).equals(Buffer.from(MOVIES))).toBe(true);
    expect(fromConfigMap({ metadata: { namespace: 'shop', name: 'orders' }, data: {} })).not.toHaveProperty('binaryData');
  });

  it('the model builds a new config when only the descriptor set changes, and not otherwise', () => {
    const builder = new ModelBuilder();
    const build = (cm: ConfigMapObject) => builder.build({ objects: new Map([[objectKey(cm), cm]]), problems: [] });
    const text = config({ route: TRANSCODE });
    const first = build(configMap(text)).ambassadors.get('shop/orders');
    const again = build(configMap(text, { 'movies.pb': new Uint8Array(MOVIES) })).ambassadors.get('shop/orders');
    expect(again?.config).toBe(first?.config); // same content: not parsed again
    const other = set({ name: 'm.proto', package: 'xds_ambassador.demo.v1', messageType: [{ name: 'Req' }], service: [{ name: 'Movies', method: [{ name: 'Get', inputType: '.xds_ambassador.demo.v1.Req', outputType: '.xds_ambassador.demo.v1.Req', options: HTTP_GET }] }] });
    const changed = build(configMap(text, { 'movies.pb': other }));
    expect(changed.errors).toEqual([]);
    const model = changed.ambassadors.get('shop/orders');
    expect(model?.config).not.toBe(first?.config);
    expect(Buffer.from(model?.descriptorSets.get('movies.pb') ?? []).equals(Buffer.from(other))).toBe(true);
    // A broken set is that ConfigMap's error; its last good version (and descriptor set) stays.
    const broken = build(configMap(text, { 'movies.pb': new Uint8Array([1, 2, 3]) }));
    expect(broken.errors.map(formatConfigError)[0]).toMatch(/the descriptor set in "movies.pb" is not a protobuf descriptor set/);
    expect(broken.ambassadors.get('shop/orders')?.descriptorSets).toBe(model?.descriptorSets);
  });
});

