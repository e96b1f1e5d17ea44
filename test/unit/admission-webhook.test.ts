// The admission webhook's HTTPS endpoint on a real socket, driven as the API server drives it (an
// AdmissionReview v1 per request) and as a hostile client would (malformed, huge, too many): the
// same messages as `xds-ambassador validate`, allowed whatever the control plane ignores, never an
// echo of what it was sent.
import { request } from 'node:https';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validatePaths } from '../../control-plane/src/admin/validate.ts';
import { buildDescriptorSet, MOVIES_SERVICE } from '../../control-plane/src/demo/descriptor-set.ts';
import { makePki, type Pki } from '../../control-plane/src/demo/pki.ts';
import { MAX_BODY_BYTES, startAdmissionWebhook, WEBHOOK_PATH, type AdmissionWebhook } from '../../control-plane/src/kubernetes/admission-webhook.ts';
import { parseConfigMap } from '../../control-plane/src/model/parse-configmap.ts';
import { CertificateFiles } from '../../control-plane/src/tls/certificate-files.ts';
import { configMap } from '../helpers/scenario.ts';
import { parse } from 'yaml';

const quiet = pino({ level: 'silent' });
let pki: Pki;
let files: CertificateFiles;
let webhook: AdmissionWebhook;
let dir: string;
/** What the pipeline says serves each ambassador ("namespace/ambassador" → "namespace/ConfigMap"). */
const owners = new Map<string, string>();

interface Answer {
  status: number;
  text: string;
}

function post(body: string | Buffer, o: { path?: string; method?: string; contentType?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: webhook.port, path: o.path ?? WEBHOOK_PATH, method: o.method ?? 'POST', ca: pki.ca.cert, servername: 'localhost', agent: false,
      headers: { 'content-type': o.contentType ?? 'application/json', ...o.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The ConfigMap object of a manifest, as the API server puts it in request.object. */
function objectOf(manifest: string): Record<string, unknown> {
  return parse(manifest) as Record<string, unknown>;
}

function review(o: { operation?: string; object?: unknown; oldObject?: unknown; kind?: { group: string; version: string; kind: string }; uid?: string }): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: o.uid ?? 'b7e9c5e2-0000-4000-8000-000000000001',
      kind: o.kind ?? { group: '', version: 'v1', kind: 'ConfigMap' },
      resource: { group: '', version: 'v1', resource: 'configmaps' },
      operation: o.operation ?? 'CREATE',
      namespace: 'shop',
      name: 'orders',
      userInfo: { username: 'someone' },
      object: o.object,
      oldObject: o.oldObject,
      dryRun: false,
    },
  });
}

interface Response {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason: string; message: string };
}

async function admit(body: string): Promise<Response> {
  const r = await post(body);
  expect(r.status, r.text).toBe(200);
  const json = JSON.parse(r.text) as { apiVersion: string; kind: string; response: Response };
  expect(json.apiVersion).toBe('admission.k8s.io/v1');
  expect(json.kind).toBe('AdmissionReview');
  return json.response;
}

const valid = (ambassador = 'orders', name = 'orders') => configMap({ name, namespace: 'shop', config: `
ambassador: ${ambassador}
listeners:
  - name: api
    port: 8000
    routes:
      - match: {prefix: /}
        upstream: v1
upstreams:
  v1: {endpoints: ["127.0.0.1:9001"]}` });

const invalid = configMap({ name: 'orders', namespace: 'shop', config: `
ambassador: orders
listeners:
  - name: api
    port: 80000
    routes:
      - match: {prefix: /}
        upstream: v1
        timeout: soon
upstreams:
  v1: {endpoints: ["127.0.0.1:9001"]}` });

beforeAll(async () => {
  pki = await makePki();
  const server = await pki.server(['localhost', '127.0.0.1']);
  files = await CertificateFiles.open({ certFile: server.certPath, keyFile: server.keyPath }, quiet);
  webhook = await startAdmissionWebhook({
    address: '127.0.0.1', port: 0, certificates: files, logger: quiet,
    context: { ownerOf: (namespace, ambassador) => owners.get(`${namespace}/${ambassador}`), parse: async (cm) => parseConfigMap(cm) },
  });
  dir = await mkdtemp(join(tmpdir(), 'xds-webhook-'));
});

afterAll(async () => {
  await webhook?.close();
  files?.close();
  await pki?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('admission webhook', () => {
  it('allows a valid labelled ConfigMap and echoes the request uid', async () => {
    expect(await admit(review({ object: objectOf(valid()), uid: 'abc-123' }))).toEqual({ uid: 'abc-123', allowed: true });
  });

  it('refuses an invalid one with exactly the errors `validate` prints for the same manifest', async () => {
    const file = join(dir, 'invalid.yaml');
    await writeFile(file, invalid);
    const validated = await validatePaths([file]);
    // validate also says where in the file; an admission request has no file.
    expect(validated.errors).toEqual([
      `${file}:13: ConfigMap shop/orders: ambassador.yaml: listeners[0].port (line 4): expected a port number 1-65535, found 80000`,
      `${file}:17: ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].timeout (line 8): expected a duration such as "250ms", "5s", "1.5s" or "2m", found "soon"`,
    ]);
    const r = await admit(review({ object: objectOf(invalid) }));
    expect(r).toEqual({ uid: 'b7e9c5e2-0000-4000-8000-000000000001', allowed: false, status: { code: 422, reason: 'Invalid', message: validated.errors.map((e) => e.slice(`${file}:00: `.length)).join('\n') } });
  });

  it('lists at most 20 errors, as validate does', async () => {
    const routes = Array.from({ length: 30 }, (_, i) => `      - {match: {prefix: /${i}}, upstream: v1, timeout: soon${i}}`).join('\n');
    const cm = configMap({ name: 'many', namespace: 'shop', config: `ambassador: many\nlisteners:\n  - name: api\n    port: 8000\n    routes:\n${routes}\nupstreams:\n  v1: {endpoints: ["127.0.0.1:9001"]}` });
    const message = (await admit(review({ object: objectOf(cm) }))).status?.message ?? '';
    const lines = message.split('\n');
    expect(lines).toHaveLength(21);
    expect(lines[20]).toBe('ConfigMap shop/many: ambassador.yaml: and 10 more errors not listed — fix the ones above first');
  });

  it('allows what the control plane ignores: unlabelled ConfigMaps, other kinds, DELETE, an object being deleted', async () => {
    const unlabelled = objectOf(invalid);
    (unlabelled.metadata as { labels: Record<string, string> }).labels = { app: 'x' };
    expect((await admit(review({ object: unlabelled }))).allowed).toBe(true);
    expect((await admit(review({ operation: 'DELETE', oldObject: objectOf(invalid) }))).allowed).toBe(true);
    expect((await admit(review({ operation: 'CONNECT', object: objectOf(invalid) }))).allowed).toBe(true);
    const leaving = objectOf(invalid);
    (leaving.metadata as Record<string, unknown>).deletionTimestamp = '2026-11-28T10:00:00Z';
    expect((await admit(review({ operation: 'UPDATE', object: leaving, oldObject: objectOf(valid()) }))).allowed).toBe(true);
  });

  it('never echoes a Secret sent to it by a misconfigured webhook rule', async () => {
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tmdb', namespace: 'shop', labels: { 'xds-ambassador.io/config': 'true' } }, data: { 'ambassador.yaml': Buffer.from('top-secret-value').toString('base64') } };
    const r = await post(review({ kind: { group: '', version: 'v1', kind: 'Secret' }, object: secret }));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'b7e9c5e2-0000-4000-8000-000000000001', allowed: true } });
    expect(r.text).not.toContain(Buffer.from('top-secret-value').toString('base64'));
  });

  it('lets an UPDATE through that leaves an invalid config as it was, and refuses one that makes it invalid', async () => {
    const relabelled = objectOf(invalid);
    (relabelled.metadata as { labels: Record<string, string> }).labels['team'] = 'orders';
    expect((await admit(review({ operation: 'UPDATE', object: relabelled, oldObject: objectOf(invalid) }))).allowed).toBe(true);
    const r = await admit(review({ operation: 'UPDATE', object: objectOf(invalid), oldObject: objectOf(valid()) }));
    expect(r.allowed).toBe(false);
    expect(r.status?.message).toContain('listeners[0].routes[0].timeout (line 8)');
  });

  it('reads binaryData (descriptor sets for transcoding): an UPDATE of it alone is validated', async () => {
    const transcoding = (pb: Uint8Array): Record<string, unknown> => ({
      ...objectOf(configMap({ name: 'orders', namespace: 'shop', config: `
ambassador: orders
listeners:
  - name: api
    port: 8000
    routes:
      - match: {prefix: /v1/}
        upstream: movies
        transcode: {descriptors: {key: movies.pb}, services: [${MOVIES_SERVICE}]}
upstreams:
  movies: {endpoints: ["127.0.0.1:9001"], protocol: http2}` })),
      binaryData: { 'movies.pb': Buffer.from(pb).toString('base64') },
    });
    const good = transcoding(buildDescriptorSet());
    const broken = transcoding(buildDescriptorSet().subarray(0, 50));
    expect((await admit(review({ object: good }))).allowed).toBe(true);
    const r = await admit(review({ operation: 'UPDATE', object: broken, oldObject: good }));
    expect(r.allowed).toBe(false);
    expect(r.status?.message).toBe('ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].transcode.descriptors.key (line 8): the descriptor set in "movies.pb" is not a protobuf descriptor set (index out of range) — build it with protoc --include_imports --descriptor_set_out=FILE your.proto');
    // Left as it was (a label added), even broken: allowed.
    const relabelled = structuredClone(broken) as { metadata: { labels: Record<string, string> } };
    relabelled.metadata.labels['team'] = 'movies';
    expect((await admit(review({ operation: 'UPDATE', object: relabelled, oldObject: broken }))).allowed).toBe(true);
  });

  it('refuses a ConfigMap claiming an ambassador another ConfigMap serves, not the one that serves it', async () => {
    owners.set('shop/orders', 'shop/orders');
    try {
      expect((await admit(review({ object: objectOf(valid('orders', 'orders')) }))).allowed).toBe(true);
      const r = await admit(review({ object: objectOf(valid('orders', 'orders-2')) }));
      expect(r.status?.message).toBe('ConfigMap shop/orders-2: ambassador.yaml: ambassador: ambassador "orders" in namespace "shop" is already configured by ConfigMap shop/orders; put all of an ambassador\'s listeners in one ConfigMap, or give this one another ambassador name');
      // A ConfigMap created with generateName is named in the message by its prefix.
      const generated = objectOf(valid('orders', 'x'));
      const meta = generated.metadata as Record<string, unknown>;
      delete meta.name;
      meta.generateName = 'orders-';
      const body = JSON.parse(review({ object: generated })) as { request: Record<string, unknown> };
      delete body.request.name;
      expect((await admit(JSON.stringify(body))).status?.message).toMatch(/^ConfigMap shop\/orders-<generated>: ambassador.yaml: ambassador: ambassador "orders"/);
    } finally {
      owners.clear();
    }
  });

  it('answers malformed requests with 400 and nothing of what they held', async () => {
    const cases: [string, string | Buffer, RegExp][] = [
      ['not JSON', '{"apiVersion": "admission.k8s.io/v1", secret-sauce', /^the body is not JSON/],
      ['v1beta1', review({ object: {} }).replace('admission.k8s.io/v1', 'admission.k8s.io/v1beta1'), /^not an AdmissionReview \(admission.k8s.io\/v1\): apiVersion: /],
      ['no request', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', secret: 'secret-sauce' }), /^not an AdmissionReview \(admission.k8s.io\/v1\): request: /],
      ['no uid', review({ uid: '' }), /request.uid/],
      ['a ConfigMap that is not one', review({ object: { metadata: { name: 'x', labels: { 'xds-ambassador.io/config': 'true' } }, data: { 'ambassador.yaml': 42, other: 'secret-sauce' } } }), /^request.object is not a ConfigMap \(data.ambassador.yaml: /],
      ['a JSON array', '["secret-sauce"]', /^not an AdmissionReview/],
    ];
    for (const [what, body, message] of cases) {
      const r = await post(body);
      expect(r.status, what).toBe(400);
      expect(r.text, what).toMatch(message);
      expect(r.text, what).not.toContain('secret-sauce');
    }
    expect((await post(review({}), { path: '/' })).status).toBe(404);
    expect((await post('', { method: 'GET' })).status).toBe(405);
    expect((await post(review({}), { contentType: 'text/plain' })).status).toBe(415);
  });

  it('refuses bodies over the cap without reading them, declared or streamed', async () => {
    const huge = Buffer.alloc(MAX_BODY_BYTES + 1, 0x20);
    const declared = await post(huge);
    expect(declared.status).toBe(413);
    // Chunked (no content-length): reading stops at the cap.
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: webhook.port, path: WEBHOOK_PATH, method: 'POST', ca: pki.ca.cert, servername: 'localhost', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(256 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent <= MAX_BODY_BYTES * 2) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    }).catch((e: unknown) => `connection closed: ${String(e)}`);
    expect(streamed).toBe(413);
    // And it still answers.
    expect((await admit(review({ object: objectOf(valid()) }))).allowed).toBe(true);
  });

  it('answers 429 beyond 8 requests at once', async () => {
    // Eight requests that have sent their headers but not their bodies hold every slot.
    const held = Array.from({ length: 8 }, () => {
      let finish: () => void = () => {};
      const done = new Promise<number>((resolve, reject) => {
        const body = review({ object: objectOf(valid()) });
        const req = request({ host: '127.0.0.1', port: webhook.port, path: WEBHOOK_PATH, method: 'POST', ca: pki.ca.cert, servername: 'localhost', agent: false, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.write(body.slice(0, 10));
        finish = () => req.end(body.slice(10));
      });
      return { done, finish: () => finish() };
    });
    // Wait until the server holds all eight, then the ninth is turned away.
    let ninth = 0;
    for (let i = 0; i < 100 && ninth !== 429; i++) {
      ninth = (await post(review({ object: objectOf(valid()) }))).status;
      if (ninth !== 429) await new Promise((r) => setTimeout(r, 20));
    }
    expect(ninth).toBe(429);
    for (const h of held) h.finish();
    expect(await Promise.all(held.map((h) => h.done))).toEqual(Array(8).fill(200));
    expect((await post(review({ object: objectOf(valid()) }))).status).toBe(200);
  });
});
