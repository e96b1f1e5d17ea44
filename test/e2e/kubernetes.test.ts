// The Kubernetes source against a real kube-apiserver and etcd (test/kube/): the control plane runs
// with exactly the deploy/ RBAC (a token of its ServiceAccount), and a real Envoy serves what
// ConfigMaps and Secrets in the API say — created, edited, broken, deleted, across an API server
// restart and a control plane restart.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import net from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../control-plane/src/cli/kubeconfig.ts';
import { KubeEventRecorder } from '../../control-plane/src/observe/kube-events.ts';
import { buildDescriptorSet, MOVIES_SERVICE } from '../../control-plane/src/demo/descriptor-set.ts';
import { startMoviesServer } from '../../control-plane/src/demo/movies-grpc.ts';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePort } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, secretManifest, startAmbassador, startServe, waitUntil, type ServeProcess } from '../helpers/scenario.ts';
import { startKubeApiServer, type KubeApiServer } from '../kube/apiserver.ts';
import { deployRbacKubeconfig } from '../kube/deploy-rbac.ts';
import { kubeRequest } from '../kube/rest.ts';

const NS = 'shop';
let kube: KubeApiServer;
let v1: Upstream;
let v2: Upstream;
let cp: ServeProcess;
let envoy: EnvoyHandle;
let port: number;
let saKubeconfig: string;
let saToken: string;

const ambassador = (upstream: string, extra = '') => configMap({
  name: 'orders',
  namespace: NS,
  config: `
ambassador: orders
listeners:
  - name: api
    port: ${port}
    routes:
      - match: {prefix: /}
        upstream: ${upstream}${extra}
upstreams:
  v1: {endpoints: ["127.0.0.1:${v1.port}"]}
  v2: {endpoints: ["127.0.0.1:${v2.port}"]}`,
});

async function apply(yaml: string): Promise<void> {
  const r = await kube.kubectl(['apply', '-f', '-'], { input: yaml });
  if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
}

/** The notes of the events with this reason about ConfigMap `name` (default: orders) of NS. */
async function events(reason: string, name = 'orders'): Promise<string[]> {
  const r = await kubeRequest(kube, { method: 'GET', path: `/apis/events.k8s.io/v1/namespaces/${NS}/events`, token: kube.adminToken });
  const list = r.json<{ items: { reason?: string; note?: string; regarding?: { name?: string } }[] }>();
  return list.items.filter((e) => e.reason === reason && e.regarding?.name === name).map((e) => e.note ?? '');
}

/** The events with this reason about ConfigMap `namespace/name` recorded at or after `since` (ms). */
async function eventsSince(since: number, reason: string, namespace: string, name: string): Promise<string[]> {
  const r = await kubeRequest(kube, { method: 'GET', path: `/apis/events.k8s.io/v1/namespaces/${namespace}/events`, token: kube.adminToken });
  const list = r.json<{ items: { reason?: string; note?: string; eventTime?: string; regarding?: { name?: string } }[] }>();
  return list.items.filter((e) => e.reason === reason && e.regarding?.name === name && Date.parse(e.eventTime ?? '') >= since).map((e) => e.note ?? '');
}

async function serveWithDeployRbac(): Promise<ServeProcess> {
  return startServe(['--kubernetes', '--kubeconfig', saKubeconfig], { readyTimeoutMs: 20_000 });
}

// A cold machine first builds kube-apiserver, etcd and kubectl from the Go module proxy (minutes).
beforeAll(async () => {
  kube = await startKubeApiServer();
  [v1, v2] = await Promise.all([startUpstream({ name: 'v1' }), startUpstream({ name: 'v2' })]) as [Upstream, Upstream];
  port = await freePort();
  // Exactly the RBAC of deploy/: its Namespace, ServiceAccount, ClusterRole and binding.
  ({ kubeconfig: saKubeconfig, token: saToken } = await deployRbacKubeconfig(kube));
  await apply(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n`);
  await apply(ambassador('v1'));
  cp = await serveWithDeployRbac();
  envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'orders', namespace: NS });
  await waitUntil(async () => (await get(port)).upstream === 'v1', 10_000, 'the ConfigMap served');
}, 30 * 60_000);

afterAll(async () => {
  await stopAll();
  await Promise.all([v1?.close(), v2?.close()]);
  await kube?.stop();
});

describe('Kubernetes source', () => {
  it('deploy/ applies with a server-side dry run', async () => {
    // A dry run cannot create a namespace and its contents together: the namespaces exist first.
    await apply('apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n');
    const r = await kube.kubectl(['apply', '--dry-run=server', '-k', 'deploy/']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('deployment.apps/xds-ambassador created (server dry run)');
  });

  it('scripts/deploy-certs.sh makes the certificates deploy/ mounts, and fills the webhook\'s caBundle', async () => {
    const out = await mkdtemp(join(tmpdir(), 'xds-deploy-certs-'));
    const webhook = await kube.kubectl(['apply', '-f', 'deploy/control-plane/webhook.yaml']);
    expect(webhook.stderr).toBe('');
    try {
      const run = promisify(execFile);
      const r = await run('bash', ['scripts/deploy-certs.sh', '--namespace', 'demo', '--out', out], { env: { ...process.env, KUBECTL: kube.kubectlPath, KUBECONFIG: kube.kubeconfigPath } });
      expect(r.stdout).toContain('Secret xds-system/xds-ambassador-tls');
      const ca = await readFile(join(out, 'ca.crt'), 'utf8');
      const secret = (await kubeRequest(kube, { path: '/api/v1/namespaces/xds-system/secrets/xds-ambassador-tls', token: kube.adminToken })).json<{ type: string; data: Record<string, string> }>();
      expect(secret.type).toBe('kubernetes.io/tls');
      const cert = new X509Certificate(Buffer.from(secret.data['tls.crt'] ?? '', 'base64'));
      expect(cert.subjectAltName).toContain('DNS:xds-ambassador.xds-system.svc');
      expect(cert.verify(new X509Certificate(ca).publicKey)).toBe(true);
      const configMapCa = (await kubeRequest(kube, { path: '/api/v1/namespaces/demo/configmaps/xds-ambassador-ca', token: kube.adminToken })).json<{ data: Record<string, string> }>();
      expect(configMapCa.data['ca.crt']).toBe(ca);
      const registration = (await kubeRequest(kube, { path: '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/xds-ambassador', token: kube.adminToken }))
        .json<{ webhooks: { clientConfig: { caBundle?: string } }[] }>();
      expect(Buffer.from(registration.webhooks[0]?.clientConfig.caBundle ?? '', 'base64').toString()).toBe(ca);
    } finally {
      // No control plane answers for this registration here: remove it so later applies do not wait on it.
      await kube.kubectl(['delete', '-f', 'deploy/control-plane/webhook.yaml']);
      await rm(out, { recursive: true, force: true });
    }
  });

  it('has only the grant deploy/ gives it', async () => {
    const as = (method: string, path: string, body?: unknown) => kubeRequest(kube, { method, path, token: saToken, ...(body ? { body } : {}) });
    expect((await as('GET', `/api/v1/namespaces/${NS}/configmaps`)).status).toBe(200);
    expect((await as('GET', `/api/v1/namespaces/${NS}/secrets`)).status).toBe(200);
    expect((await as('POST', `/api/v1/namespaces/${NS}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } })).status).toBe(403);
    expect((await as('DELETE', `/api/v1/namespaces/${NS}/configmaps/orders`)).status).toBe(403);
    expect((await as('GET', `/api/v1/namespaces/${NS}/pods`)).status).toBe(403);
  });

  it('serves a created ConfigMap within 1 s to an Envoy already waiting for it, and records an Accepted event', async () => {
    const second = await freePort();
    const billing = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'billing', namespace: NS });
    await apply(configMap({ name: 'billing', namespace: NS, config: `
ambassador: billing
listeners:
  - {name: api, port: ${second}, routes: [{match: {prefix: /}, upstream: v2}]}
upstreams:
  v2: {endpoints: ["127.0.0.1:${v2.port}"]}` }));
    const elapsed = await waitUntil(async () => (await get(second, '/', {}, 500).catch(() => undefined))?.upstream === 'v2', 1000, 'the new ConfigMap served');
    expect(elapsed).toBeLessThan(1000);
    // On billing itself: orders has had an Accepted event since beforeAll.
    await waitUntil(async () => (await events('Accepted', 'billing')).some((n) => n.includes('"billing"')), 2000, 'an Accepted event on billing');
    // With the ConfigMap's uid (kubectl describe lists events by it), as the watch delivered it.
    const uid = (await kubeRequest(kube, { method: 'GET', path: `/api/v1/namespaces/${NS}/configmaps/billing`, token: kube.adminToken })).json<{ metadata: { uid: string } }>().metadata.uid;
    const listed = (await kubeRequest(kube, { method: 'GET', path: `/apis/events.k8s.io/v1/namespaces/${NS}/events`, token: kube.adminToken }))
      .json<{ items: { reason?: string; regarding?: { name?: string; uid?: string } }[] }>().items.filter((e) => e.reason === 'Accepted' && e.regarding?.name === 'billing');
    expect(listed.map((e) => e.regarding?.uid)).toEqual(listed.map(() => uid));
    await billing.stop();
  });

  it('isolates namespaces: a node gets only its namespace\'s config and Secrets', async () => {
    // Same ambassador name in another namespace, pointing elsewhere and naming a Secret that only
    // exists in "shop": the shop Envoy is unaffected, and the other config cannot reach the Secret.
    await apply('apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n');
    await apply(secretManifest({ name: 'shop-only', namespace: NS, data: { token: 'not-for-other' } }));
    await apply(configMap({ name: 'orders', namespace: 'other', config: `
ambassador: orders
listeners:
  - name: api
    port: ${port}
    routes: [{match: {prefix: /}, upstream: v2, inject: {header: x-token, secret: {name: shop-only, key: token}}}]
upstreams:
  v2: {endpoints: ["127.0.0.1:${v2.port}"]}` }));
    await waitUntil(async () => (await cp.status()).errors.some((e) => e.startsWith('ConfigMap other/orders')), 2000, 'the other namespace\'s config to be read');
    expect((await cp.status()).errors).toContain('ConfigMap other/orders: ambassador.yaml: listeners[0].routes[0].inject.secret: Secret other/shop-only not found; create it in namespace "other", or fix the name at listeners[0].routes[0].inject.secret');
    for (let i = 0; i < 10; i++) {
      const r = await get(port);
      expect(r.upstream).toBe('v1');
      expect(JSON.parse(r.body).headers['x-token']).toBeUndefined();
    }
    const r = await kube.kubectl(['-n', 'other', 'delete', 'configmap', 'orders']);
    expect(r.code).toBe(0);
  });

  it('hot-reloads edits within 1 s with zero failed requests in a steady loop', async () => {
    let running = true;
    const failures: string[] = [];
    let requests = 0;
    const loop = (async () => {
      while (running) {
        const r = await get(port).catch((e: unknown) => ({ status: 0, body: String(e), upstream: undefined }));
        requests++;
        if (r.status !== 200) failures.push(`${r.status} ${r.body.slice(0, 100)}`);
      }
    })();
    try {
      for (const [i, target] of ['v2', 'v1', 'v2', 'v1', 'v2'].entries()) {
        await apply(ambassador(target as string, `\n        timeout: ${i + 2}s`));
        await waitUntil(async () => (await get(port)).upstream === target, 1000, `edit ${i} served`);
      }
    } finally {
      running = false;
      await loop;
    }
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(50);
  });

  it('records an Invalid event for a bad edit while the last good config keeps serving', async () => {
    await apply(ambassador('v1', '\n        timeout: soon'));
    await waitUntil(async () => (await events('Invalid')).some((n) => n.includes('timeout') && n.includes('found "soon"')), 3000, 'the Invalid event');
    for (let i = 0; i < 10; i++) expect((await get(port)).upstream).toBe('v2');
  });

  it('records Accepted again for a fix back to the version that was accepted before the Invalid one', async () => {
    const refunds = (timeout: string) => configMap({ name: 'refunds', namespace: NS, config: `
ambassador: refunds
listeners:
  - {name: api, port: ${port}, routes: [{match: {prefix: /}, upstream: v1, timeout: ${timeout}}]}
upstreams:
  v1: {endpoints: ["127.0.0.1:${v1.port}"]}` });
    await apply(refunds('2s'));
    await waitUntil(async () => (await events('Accepted', 'refunds')).length === 1, 3000, 'the first Accepted event');
    await apply(refunds('soon'));
    await waitUntil(async () => (await events('Invalid', 'refunds')).length === 1, 3000, 'the Invalid event');
    await apply(refunds('2s'));
    // The latest event on the ConfigMap tells the truth: it is live again.
    await waitUntil(async () => (await events('Accepted', 'refunds')).length === 2, 3000, 'Accepted again');
    const [first, again] = await events('Accepted', 'refunds');
    expect(again).toBe(first);
    expect((await kube.kubectl(['-n', NS, 'delete', 'configmap', 'refunds'])).code).toBe(0);
  });

  it('records a RejectedByEnvoy event with the node and Envoy\'s message, and rate-limits a storm of them', async () => {
    const squatter = net.createServer();
    const busy = await freePort();
    await new Promise<void>((r) => squatter.listen(busy, '127.0.0.1', r));
    try {
      await apply(configMap({ name: 'orders', namespace: NS, config: `
ambassador: orders
listeners:
  - {name: api, port: ${port}, routes: [{match: {prefix: /}, upstream: v1}]}
  - {name: clash, port: ${busy}, routes: [{match: {prefix: /}, upstream: v2}]}
upstreams:
  v1: {endpoints: ["127.0.0.1:${v1.port}"]}
  v2: {endpoints: ["127.0.0.1:${v2.port}"]}` }));
      await waitUntil(async () => (await events('RejectedByEnvoy')).some((n) => n.includes(envoy.name) && n.includes(`cannot bind '127.0.0.1:${busy}'`)), 3000, 'the RejectedByEnvoy event');
      // The last accepted config (to v2) keeps serving, not the rejected one's route (to v1).
      for (let i = 0; i < 10; i++) expect((await get(port)).upstream).toBe('v2');
    } finally {
      await new Promise((r) => squatter.close(r));
    }
    // A storm: many distinct NACKs at once reach the API server as a bounded number of events.
    const recorder = new KubeEventRecorder(loadKubeConfig(kube.kubeconfigPath), pino({ level: 'silent' }));
    for (let i = 0; i < 50; i++) recorder.nacked(`${NS}/storm`, `node-${i}`, 'LDS', `error ${i}`);
    recorder.nacked(`${NS}/storm`, 'node-0', 'LDS', 'error 0'); // a duplicate
    // The recorder posts in the background: wait for the burst to land (well before the 10 s
    // refill), then give any event beyond it time to land too before counting.
    const storm = async () => (await kubeRequest(kube, { path: `/apis/events.k8s.io/v1/namespaces/${NS}/events`, token: kube.adminToken }))
      .json<{ items: { regarding?: { name?: string } }[] }>().items.filter((e) => e.regarding?.name === 'storm').length;
    await waitUntil(async () => (await storm()) >= 5, 5000, 'the burst of storm events');
    await new Promise((r) => setTimeout(r, 1000));
    expect(await storm()).toBe(5);
  });

  it('delivers a Secret edit to Envoy (a credential header) with no restart', async () => {
    await apply(secretManifest({ name: 'api', namespace: NS, data: { token: 'first-token' } }));
    await apply(ambassador('v1', '\n        inject: {header: x-api-key, secret: {name: api, key: token}}'));
    await waitUntil(async () => JSON.parse((await get(port)).body).headers['x-api-key'] === 'first-token', 3000, 'the first token');
    await apply(secretManifest({ name: 'api', namespace: NS, data: { token: 'second-token' } }));
    await waitUntil(async () => JSON.parse((await get(port)).body).headers['x-api-key'] === 'second-token', 1000, 'the second token');
  });

  it('serves a ConfigMap referencing a Secret created seconds before with zero 503s from the moment its listener exists, and no false Invalid event', async () => {
    const since = Date.now() - 1000; // the API server's clock is this machine's; events carry microseconds
    const mark = cp.proc.output().length;
    const payPort = await freePort();
    const pay = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'pay', namespace: NS });
    await apply(secretManifest({ name: 'pay-token', namespace: NS, data: { token: 'pay-secret-1' } }));
    // deploy/'s own demo config (a Secret-referencing ConfigMap) too: the restart test below checks it.
    await apply('apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n');
    const demo = await kube.kubectl(['apply', '-f', 'deploy/example-app/config.yaml']);
    expect(demo.code, demo.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 2000));
    let running = true;
    let listening = false;
    const answers: string[] = [];
    const loop = (async () => {
      while (running) {
        try {
          const r = await get(payPort, '/', {}, 2000);
          listening = true;
          answers.push(r.status === 200 ? `200 ${JSON.parse(r.body).headers['x-pay-token']}` : `${r.status} ${r.body.slice(0, 100)}`);
        } catch (e) {
          if (listening) answers.push(String(e));
          else await new Promise((r) => setTimeout(r, 2));
        }
      }
    })();
    try {
      await apply(configMap({ name: 'pay', namespace: NS, config: `
ambassador: pay
listeners:
  - name: api
    port: ${payPort}
    routes: [{match: {prefix: /}, upstream: v1, inject: {header: x-pay-token, secret: {name: pay-token, key: token}}}]
upstreams:
  v1: {endpoints: ["127.0.0.1:${v1.port}"]}` }));
      await waitUntil(async () => answers.length >= 300, 10_000, '300 answers from the new listener');
    } finally {
      running = false;
      await loop;
    }
    expect(answers.filter((a) => a !== '200 pay-secret-1')).toEqual([]);
    await waitUntil(async () => (await eventsSince(since, 'Accepted', NS, 'pay')).length > 0, 3000, 'the Accepted event');
    await new Promise((r) => setTimeout(r, 500));
    // One Accepted event, naming the version its Envoys are served; no Invalid event.
    const served = (await cp.status()).groups.find((g) => g.group === `${NS}/pay`)?.served;
    expect(await eventsSince(since, 'Accepted', NS, 'pay')).toEqual([`served to the Envoys of ambassador "pay" as version ${served}`]);
    expect(await eventsSince(since, 'Invalid', NS, 'pay')).toEqual([]);
    expect(await eventsSince(since, 'Invalid', 'demo', 'movies-ambassador')).toEqual([]);
    expect(cp.proc.output().slice(mark)).not.toContain('not found');
    await pay.stop();
  });

  it('reads a descriptor set kubectl put in binaryData, and transcodes JSON to gRPC with it', async () => {
    const movies = await startMoviesServer({ name: 'movies-grpc' });
    const jsonPort = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'xds-binarydata-'));
    try {
      await writeFile(join(dir, 'movies.pb'), buildDescriptorSet());
      await writeFile(join(dir, 'ambassador.yaml'), `ambassador: storefront
listeners:
  - name: json
    port: ${jsonPort}
    routes:
      - match: {prefix: /v1/}
        upstream: movies
        transcode: {descriptors: {key: movies.pb}, services: [${MOVIES_SERVICE}]}
upstreams:
  movies: {endpoints: ["127.0.0.1:${movies.port}"], protocol: http2}
`);
      // What the README tells users to run: the binary file lands in binaryData.
      const created = await kube.kubectl(['-n', NS, 'create', 'configmap', 'storefront', `--from-file=${join(dir, 'ambassador.yaml')}`, `--from-file=${join(dir, 'movies.pb')}`]);
      expect(created.code, created.stderr).toBe(0);
      const stored = (await kubeRequest(kube, { path: `/api/v1/namespaces/${NS}/configmaps/storefront`, token: kube.adminToken })).json<{ binaryData?: Record<string, string> }>();
      expect(Object.keys(stored.binaryData ?? {})).toEqual(['movies.pb']);
      const labelled = await kube.kubectl(['-n', NS, 'label', 'configmap', 'storefront', 'xds-ambassador.io/config=true']);
      expect(labelled.code, labelled.stderr).toBe(0);
      const storefront = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'storefront', namespace: NS });
      await waitUntil(async () => (await get(jsonPort, '/v1/movies/5')).status === 200, 10_000, 'the transcoded call');
      expect(JSON.parse((await get(jsonPort, '/v1/movies/5')).body)).toMatchObject({ title: 'Stalker', servedBy: 'movies-grpc' });
      expect(movies.calls.map((c) => c.method)).toContain('GetMovie');
      await storefront.stop();
      expect((await kube.kubectl(['-n', NS, 'delete', 'configmap', 'storefront'])).code).toBe(0);
    } finally {
      await movies.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('recovers from an API server restart and applies an edit made after it', async () => {
    await kube.restart();
    const restarted = performance.now();
    await apply(ambassador('v2'));
    // Watches reconnect with back-off capped at 5 s (jittered).
    await waitUntil(async () => (await get(port)).upstream === 'v2', 15_000, 'the edit made after the restart');
    console.log(`edit applied ${Math.round(performance.now() - restarted)} ms after the API server was back`);
  });

  it('keeps Envoy serving through a control plane restart, with identical versions', async () => {
    const versions = async () => {
      const listeners = (await envoy.configDump('dynamic_listeners')) as { configs?: { name: string; active_state?: { version_info?: string } }[] };
      const clusters = (await envoy.configDump('dynamic_active_clusters')) as { configs?: { cluster?: { name?: string }; version_info?: string }[] };
      const v = JSON.stringify([
        (listeners.configs ?? []).map((l) => [l.name, l.active_state?.version_info]),
        (clusters.configs ?? []).map((c) => [c.cluster?.name, c.version_info]),
      ]);
      expect(v).toContain('shop/orders/api');
      return v;
    };
    const before = await versions();
    const modified = async () => {
      const s = await envoy.stats('(listener_manager\\.listener_modified|cluster_manager\\.cluster_modified)');
      return `${s.get('listener_manager.listener_modified')}/${s.get('cluster_manager.cluster_modified')}`;
    };
    const changesBefore = await modified();
    let running = true;
    const failures: string[] = [];
    const loop = (async () => {
      while (running) {
        const r = await get(port).catch((e: unknown) => ({ status: 0, body: String(e), upstream: undefined }));
        if (r.status !== 200) failures.push(`${r.status}`);
      }
    })();
    const restarted = Date.now() - 1000;
    try {
      const xdsPort = cp.xdsPort;
      const stopping = cp.proc;
      await cp.stop();
      // It shuts down cleanly on SIGTERM (a watch left open would keep it alive until SIGKILL).
      expect(stopping.exited()).toEqual({ code: 0, signal: null });
      cp = await startServe(['--kubernetes', '--kubeconfig', saKubeconfig], { xdsPort, readyTimeoutMs: 20_000 });
      // Reconnected is not enough: the versions below are compared once Envoy has ACKed every type
      // from the new control plane (else they would still be the old process's, trivially equal).
      const ackedByEnvoy = async () => {
        const g = (await cp.status()).groups.find((x) => x.group === `${NS}/orders`);
        return g !== undefined && g.lastGood === g.latest;
      };
      await waitUntil(async () => (await envoy.stats('control_plane\\.connected_state')).get('control_plane.connected_state') === 1 && await ackedByEnvoy(), 30_000, 'Envoy reconnected and ACKed the new control plane');
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      running = false;
      await loop;
    }
    expect(failures).toEqual([]);
    expect(await versions()).toBe(before);
    expect(await modified()).toBe(changesBefore);
    // No false event or warning: the Secret-referencing configs (shop/pay, deploy/'s demo config)
    // are not reported invalid while their Secrets are being read, and each Accepted event names
    // the version served.
    expect(await eventsSince(restarted, 'Invalid', NS, 'pay')).toEqual([]);
    expect(await eventsSince(restarted, 'Invalid', 'demo', 'movies-ambassador')).toEqual([]);
    expect(await eventsSince(restarted, 'Invalid', NS, 'orders')).toEqual([]);
    expect(cp.proc.output().split('\n').filter((l) => l.includes('"level":40') || l.includes('"level":50'))).toEqual([]);
    const status = await cp.status();
    for (const [ns, name, group] of [[NS, 'orders', `${NS}/orders`], [NS, 'pay', `${NS}/pay`], ['demo', 'movies-ambassador', 'demo/movies']] as const) {
      const served = status.groups.find((g) => g.group === group)?.served;
      for (const note of await eventsSince(restarted, 'Accepted', ns, name)) expect(note).toMatch(new RegExp(`as version ${served}$`));
    }
  });

  it('removes the listener when the ConfigMap is deleted', async () => {
    const r = await kube.kubectl(['-n', NS, 'delete', 'configmap', 'orders']);
    expect(r.code).toBe(0);
    // A removed listener drains (Envoy keeps it in the dump as draining_state); it is no longer active.
    const active = async () => ((await envoy.configDump('dynamic_listeners')) as { configs?: { active_state?: unknown }[] }).configs?.filter((l) => l.active_state !== undefined).length ?? 0;
    await waitUntil(async () => (await active()) === 0, 2000, 'the listener removed');
    // Connections the app already holds finish on the draining listener; a new one is refused.
    const fresh = await new Promise<string>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 2000 }, (res) => resolve(`answered ${res.statusCode}`));
      req.on('timeout', () => req.destroy(new Error('no answer within 2 s')));
      req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    expect(fresh).toBe('ECONNREFUSED');
  });
});
