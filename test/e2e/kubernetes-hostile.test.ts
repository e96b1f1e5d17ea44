// Hostile ConfigMaps against the real kube-apiserver (test/kube/), with deploy/'s RBAC: the alias
// bomb that made every replica exit 1 on every start is an error on that ConfigMap, the process
// stays up and ready, and another ambassador's Envoy keeps receiving edits. And the 1 MiB limits
// the directory source and `validate` apply are exactly the API server's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import { MAX_OBJECT_DATA_BYTES, parseManifestFile } from '../../control-plane/src/sources/manifests.ts';
import { freePort } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, startAmbassador, startServe, waitUntil, type ServeProcess } from '../helpers/scenario.ts';
import { startKubeApiServer, type KubeApiServer } from '../kube/apiserver.ts';
import { deployRbacKubeconfig } from '../kube/deploy-rbac.ts';
import { kubeRequest } from '../kube/rest.ts';

const NS = 'shop';
let kube: KubeApiServer;
let v1: Upstream;
let v2: Upstream;
let cp: ServeProcess;
let port: number;
let edits = 0;

const orders = (upstream: string) => configMap({ name: 'orders', namespace: NS, config: `
ambassador: orders
listeners:
  - {name: api, port: ${port}, routes: [{match: {prefix: /}, upstream: ${upstream}}]}
upstreams:
  v1: {endpoints: ["127.0.0.1:${v1.port}"]}
  v2: {endpoints: ["127.0.0.1:${v2.port}"]}` });
// The issue's reproduction: 101 aliases of a list made the yaml library throw from toJS().
const ISSUE_BOMB = `x: &x [1]\ny: [${Array(101).fill('*x').join(', ')}]`;
const LAUGHS = ['a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]', ...['b', 'c', 'd', 'e'].map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcd'[i]}`).join(', ')}]`), `f: [${Array(10).fill('*e').join(', ')}]`].join('\n');

async function apply(yaml: string): Promise<void> {
  const r = await kube.kubectl(['apply', '-f', '-'], { input: yaml });
  if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
}

async function events(reason: string, name: string): Promise<string[]> {
  const r = await kubeRequest(kube, { path: `/apis/events.k8s.io/v1/namespaces/${NS}/events`, token: kube.adminToken });
  return r.json<{ items: { reason?: string; note?: string; regarding?: { name?: string } }[] }>().items
    .filter((e) => e.reason === reason && e.regarding?.name === name).map((e) => e.note ?? '');
}

/** Edits orders and waits for its Envoy to route by the edit; the process is up and ready. */
async function editIsApplied(): Promise<void> {
  const target = ++edits % 2 ? 'v2' : 'v1';
  await apply(orders(target));
  await waitUntil(async () => (await get(port, '/', {}, 1000)).upstream === target, 5000, `edit ${edits} (to ${target}) applied`);
  expect((await fetch(`http://127.0.0.1:${cp.httpPort}/readyz`)).status).toBe(200);
  expect(cp.proc.exited()).toBeUndefined();
}

// A cold machine first builds kube-apiserver, etcd and kubectl (test/kube/build.sh).
beforeAll(async () => {
  kube = await startKubeApiServer();
  [v1, v2] = await Promise.all([startUpstream({ name: 'v1' }), startUpstream({ name: 'v2' })]) as [Upstream, Upstream];
  port = await freePort();
  const { kubeconfig } = await deployRbacKubeconfig(kube);
  await apply(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n`);
  // The bomb is in the API before the control plane starts: it used to exit 1 on every start.
  await apply(configMap({ name: 'bomb', namespace: NS, config: ISSUE_BOMB }));
  await apply(orders('v1'));
  cp = await startServe(['--kubernetes', '--kubeconfig', kubeconfig], { readyTimeoutMs: 20_000 });
  await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'orders', namespace: NS });
  await waitUntil(async () => (await get(port, '/', {}, 1000)).upstream === 'v1', 10_000, 'orders served');
}, 30 * 60_000);

afterAll(async () => {
  await stopAll();
  await Promise.all([v1?.close(), v2?.close()]);
  await kube?.stop();
});

describe('hostile ConfigMaps from the API server', () => {
  it('starts and stays ready with the alias bomb present, reports it on that ConfigMap, applies the others\' edits', async () => {
    const expected = 'ConfigMap shop/bomb: ambassador.yaml (line 1): unknown field "x", "y"; allowed fields: ambassador, serviceAccounts, listeners, upstreams, environments, tracing';
    expect((await cp.status()).errors).toContain(expected); // lines within the key: no file here
    await waitUntil(async () => (await events('Invalid', 'bomb')).some((n) => n.includes(expected)), 5000, 'an Invalid event on the bomb');
    await editIsApplied();
  });

  it('keeps applying edits while a billion-laughs and a 100000-levels-deep ConfigMap arrive', async () => {
    await apply(configMap({ name: 'laughs', namespace: NS, config: LAUGHS }));
    await apply(configMap({ name: 'deep', namespace: NS, config: `ambassador: deep\nlisteners: ${'['.repeat(100_000)}${']'.repeat(100_000)}` }));
    const expected = [
      'ConfigMap shop/laughs: ambassador.yaml (line 4): YAML aliases: the aliases (*name) expand to more than 10000 values — write the repeated parts out, or use fewer aliases',
      'ConfigMap shop/deep: ambassador.yaml (line 2): YAML nesting: more than 100 levels of maps and lists — a config never needs that many; remove the extra nesting',
    ];
    await waitUntil(async () => { const errors = (await cp.status()).errors; return expected.every((e) => errors.includes(e)); }, 10_000, 'both errors in /debug/status');
    await editIsApplied();
    await editIsApplied();
  });
});

describe('the 1 MiB limits are the API server\'s', () => {
  // "é" is two bytes: the API server counts UTF-8 bytes of the values (not the keys).
  const configMapOf = (bytes: number) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${bytes}`, namespace: NS }, data: { a: 'x'.repeat(bytes - 2), 'b.txt': 'é' } });
  const secretOf = (bytes: number) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `secret-${bytes}`, namespace: NS }, data: { a: Buffer.alloc(bytes - 3).toString('base64') }, stringData: { b: 'xyz' } });

  it.each([['ConfigMap', configMapOf, 'configmaps'], ['Secret', secretOf, 'secrets']] as const)('%s: accepted at exactly 1 MiB of data, refused 1 byte over, by both', async (kind, make, resource) => {
    for (const bytes of [MAX_OBJECT_DATA_BYTES, MAX_OBJECT_DATA_BYTES + 1]) {
      const object = make(bytes);
      const api = await kubeRequest(kube, { method: 'POST', path: `/api/v1/namespaces/${NS}/${resource}`, token: kube.adminToken, body: object });
      // JSON is YAML: the very object the API server judged, as a manifest file.
      const ours = parseManifestFile(`${kind}.yaml`, JSON.stringify(object));
      if (bytes === MAX_OBJECT_DATA_BYTES) {
        expect(api.status, api.text).toBe(201);
        expect(ours).toMatchObject({ objects: [{ kind, name: object.metadata.name }] });
      } else {
        expect(api.status).toBe(422);
        expect(api.json<{ message: string }>().message).toContain('Too long: may not be more than 1048576 bytes');
        expect('problem' in ours && ours.problem.message).toContain(`in total, more than the 1 MiB (1048576 bytes) the API server accepts in a ${kind}`);
      }
    }
  });
});
