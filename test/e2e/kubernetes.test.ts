// The Kubernetes source against a real kube-apiserver and etcd (test/kube/): the control plane runs
// with exactly the deploy/ RBAC (a token of its ServiceAccount), and a real Envoy serves what
// ConfigMaps and Secrets in the API say — created, edited, broken, deleted, across an API server
// restart and a control plane restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePort } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, secretManifest, startAmbassador, startServe, waitUntil, type ServeProcess } from '../helpers/scenario.ts';
import { startKubeApiServer, type KubeApiServer } from '../kube/apiserver.ts';
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

async function events(reason: string): Promise<string[]> {
  const r = await kubeRequest(kube, { method: 'GET', path: `/apis/events.k8s.io/v1/namespaces/${NS}/events`, token: kube.adminToken });
  const list = r.json<{ items: { reason?: string; note?: string; regarding?: { name?: string } }[] }>();
  return list.items.filter((e) => e.reason === reason && e.regarding?.name === 'orders').map((e) => e.note ?? '');
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
  for (const file of ['deploy/control-plane/namespace.yaml', 'deploy/control-plane/rbac.yaml']) {
    const r = await kube.kubectl(['apply', '-f', file]);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  await apply(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n`);
  saToken = await kube.tokenFor('xds-ambassador', 'xds-system');
  saKubeconfig = await kube.writeKubeconfig(saToken);
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

  it('has only the grant deploy/ gives it', async () => {
    const as = (method: string, path: string, body?: unknown) => kubeRequest(kube, { method, path, token: saToken, ...(body ? { body } : {}) });
    expect((await as('GET', `/api/v1/namespaces/${NS}/configmaps`)).status).toBe(200);
    expect((await as('GET', `/api/v1/namespaces/${NS}/secrets`)).status).toBe(200);
    expect((await as('POST', `/api/v1/namespaces/${NS}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } })).status).toBe(403);
    expect((await as('DELETE', `/api/v1/namespaces/${NS}/configmaps/orders`)).status).toBe(403);
    expect((await as('GET', `/api/v1/namespaces/${NS}/pods`)).status).toBe(403);
  });

  it('serves a created ConfigMap within 1 s and records an Accepted event', async () => {
    const second = await freePort();
    const started = performance.now();
    await apply(configMap({ name: 'billing', namespace: NS, config: `
ambassador: billing
listeners:
  - {name: api, port: ${second}, routes: [{match: {prefix: /}, upstream: v2}]}
upstreams:
  v2: {endpoints: ["127.0.0.1:${v2.port}"]}` }));
    const billing = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'billing', namespace: NS });
    await waitUntil(async () => (await get(second)).upstream === 'v2', 2000, 'the new ambassador');
    expect(performance.now() - started).toBeLessThan(5000); // includes starting that Envoy
    await waitUntil(async () => (await events('Accepted')).length > 0, 2000, 'an Accepted event on orders');
    await billing.stop();
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

  it('delivers a Secret edit to Envoy (a credential header) with no restart', async () => {
    await apply(secretManifest({ name: 'api', namespace: NS, data: { token: 'first-token' } }));
    await apply(ambassador('v1', '\n        inject: {header: x-api-key, secret: {name: api, key: token}}'));
    await waitUntil(async () => JSON.parse((await get(port)).body).headers['x-api-key'] === 'first-token', 3000, 'the first token');
    await apply(secretManifest({ name: 'api', namespace: NS, data: { token: 'second-token' } }));
    await waitUntil(async () => JSON.parse((await get(port)).body).headers['x-api-key'] === 'second-token', 1000, 'the second token');
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
    try {
      const xdsPort = cp.xdsPort;
      await cp.stop();
      cp = await startServe(['--kubernetes', '--kubeconfig', saKubeconfig], { xdsPort, readyTimeoutMs: 20_000 });
      await waitUntil(async () => (await cp.status()).groups.length > 0 && (await envoy.stats('control_plane\\.connected_state')).get('control_plane.connected_state') === 1, 30_000, 'Envoy reconnected');
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      running = false;
      await loop;
    }
    expect(failures).toEqual([]);
    expect(await versions()).toBe(before);
    expect(await modified()).toBe(changesBefore);
  });

  it('removes the listener when the ConfigMap is deleted', async () => {
    const r = await kube.kubectl(['-n', NS, 'delete', 'configmap', 'orders']);
    expect(r.code).toBe(0);
    // A removed listener drains (Envoy keeps it in the dump as draining_state); it is no longer active.
    const active = async () => ((await envoy.configDump('dynamic_listeners')) as { configs?: { active_state?: unknown }[] }).configs?.filter((l) => l.active_state !== undefined).length ?? 0;
    await waitUntil(async () => (await active()) === 0, 2000, 'the listener removed');
    // While it drains, the old listener may still accept a connection, but nothing routes anywhere.
    const after = await get(port, '/', {}, 1000).catch(() => undefined);
    expect(after?.upstream).toBeUndefined();
  });
});
