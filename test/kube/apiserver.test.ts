// The test API server itself: a real kube-apiserver + etcd on loopback (test/kube/apiserver.ts).
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runningProcesses, stopAll } from '../helpers/processes.ts';
import { startKubeApiServer } from './apiserver.ts';
import type { KubeApiServer } from './apiserver.ts';
import { kubeJson, kubeRequest } from './rest.ts';

interface ConfigMap {
  metadata: { name: string; namespace: string; resourceVersion: string };
  data?: Record<string, string>;
}

const ns = 'kube-harness';

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('test Kubernetes API server', () => {
  let kube: KubeApiServer;

  // On a cold machine startKubeApiServer first builds kube-apiserver, kubectl and etcd from the Go
  // module proxy (test/kube/build.sh): 15-25 minutes on two cores, hence the 30 minute timeout.
  // With the binaries cached it takes a few seconds.
  beforeAll(async () => {
    kube = await startKubeApiServer();
  }, 30 * 60_000);

  afterAll(async () => {
    await kube?.stop();
    await stopAll();
  }, 60_000);

  it('serves the API over TLS with the admin token: create a namespace and a ConfigMap, read it back', async () => {
    expect(kube.url).toBe(`https://127.0.0.1:${kube.port}`);
    const admin = { token: kube.adminToken };

    await kubeJson(kube, { ...admin, path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
    const created = await kubeJson<ConfigMap>(kube, {
      ...admin,
      path: `/api/v1/namespaces/${ns}/configmaps`,
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hello', labels: { 'xds-ambassador.io/config': 'true' } }, data: { greeting: 'hi' } },
    });
    expect(created.metadata.resourceVersion).toMatch(/^\d+$/);

    const read = await kubeJson<ConfigMap>(kube, { ...admin, path: `/api/v1/namespaces/${ns}/configmaps/hello` });
    expect(read.data).toEqual({ greeting: 'hi' });

    const listed = await kubeJson<{ items: ConfigMap[] }>(kube, {
      ...admin,
      path: `/api/v1/configmaps?labelSelector=${encodeURIComponent('xds-ambassador.io/config=true')}`,
    });
    expect(listed.items.map((cm) => `${cm.metadata.namespace}/${cm.metadata.name}`)).toEqual([`${ns}/hello`]);

    // Without a token: authenticated as system:anonymous, which RBAC gives nothing.
    expect((await kubeRequest(kube, { path: `/api/v1/namespaces/${ns}/configmaps` })).status).toBe(403);
  });

  it('enforces RBAC: a ServiceAccount token is refused Secrets it was not granted, allowed what it was', async () => {
    const admin = { token: kube.adminToken };
    await kubeJson(kube, {
      ...admin,
      path: `/api/v1/namespaces/${ns}/serviceaccounts`,
      body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader' } },
    });
    await kubeJson(kube, {
      ...admin,
      path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`,
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'configmap-reader' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }],
      },
    });
    await kubeJson(kube, {
      ...admin,
      path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`,
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'reader-reads-configmaps' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
      },
    });

    const token = await kube.tokenFor('reader', ns);
    const review = await kubeJson<{ status: { userInfo: { username: string } } }>(kube, {
      token,
      path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    expect(review.status.userInfo.username).toBe(`system:serviceaccount:${ns}:reader`);

    const secrets = await kubeRequest(kube, { token, path: `/api/v1/namespaces/${ns}/secrets` });
    expect(secrets.status).toBe(403);
    expect(secrets.json<{ reason: string }>().reason).toBe('Forbidden');
    expect((await kubeRequest(kube, { token, path: `/api/v1/namespaces/${ns}/configmaps` })).status).toBe(200);
    expect((await kubeRequest(kube, { token, path: '/api/v1/namespaces/default/configmaps' })).status).toBe(403);
    // A made-up token is not authenticated at all.
    expect((await kubeRequest(kube, { token: 'not-a-token', path: `/api/v1/namespaces/${ns}/configmaps` })).status).toBe(401);
  });

  it('has a kubectl of the same version that uses the kubeconfig, and kubeconfigs for other tokens', async () => {
    const version = await kube.kubectl(['version', '-o', 'json']);
    expect(version.code, version.stderr).toBe(0);
    const parsed = JSON.parse(version.stdout) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string } };
    expect(parsed.serverVersion.gitVersion).toMatch(/^v1\.3[45]\.\d+$/);
    expect(parsed.clientVersion.gitVersion).toBe(parsed.serverVersion.gitVersion);

    const get = await kube.kubectl(['get', 'configmap', 'hello', '-n', ns, '-o', 'jsonpath={.data.greeting}']);
    expect(get).toMatchObject({ code: 0, stdout: 'hi' });

    const apply = await kube.kubectl(['apply', '--dry-run=server', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dry', namespace: ns }, data: { a: 'b' } }),
    });
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout).toContain('configmap/dry created (server dry run)');

    const readerConfig = await kube.writeKubeconfig(await kube.tokenFor('reader', ns), ns);
    const denied = await kube.kubectl(['get', 'secrets'], { kubeconfig: readerConfig });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('forbidden');
    const allowed = await kube.kubectl(['get', 'configmaps', '-o', 'name'], { kubeconfig: readerConfig });
    expect(allowed).toMatchObject({ code: 0, stdout: 'configmap/hello\n' });
  });

  it('restart() brings kube-apiserver back on the same port with the same data', async () => {
    const before = await kubeJson<ConfigMap>(kube, { token: kube.adminToken, path: `/api/v1/namespaces/${ns}/configmaps/hello` });
    const pidBefore = runningProcesses().find((proc) => proc.name === 'kube-apiserver')?.pid;
    expect(pidBefore).toBeDefined(); // else "pidAfter differs" below would hold trivially
    await kube.restart();
    const pidAfter = runningProcesses().find((proc) => proc.name === 'kube-apiserver')?.pid;
    expect(pidAfter).toBeDefined();
    expect(pidAfter).not.toBe(pidBefore);

    const after = await kubeJson<ConfigMap>(kube, { token: kube.adminToken, path: `/api/v1/namespaces/${ns}/configmaps/hello` });
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.data).toEqual({ greeting: 'hi' });
    // Tokens issued before the restart stay valid (same signing key).
    const token = await kube.tokenFor('reader', ns);
    await kube.restart();
    expect((await kubeRequest(kube, { token, path: `/api/v1/namespaces/${ns}/configmaps` })).status).toBe(200);
  }, 120_000);

  it('stop() leaves no process, no listening port and no temporary files', async () => {
    const procs = runningProcesses().filter((proc) => proc.name === 'kube-apiserver' || proc.name === 'etcd');
    expect(procs.map((proc) => proc.name).sort()).toEqual(['etcd', 'kube-apiserver']);
    const etcdPort = Number(new URL(kube.etcdUrl).port);
    await kube.stop();

    expect(runningProcesses().filter((proc) => proc.name === 'kube-apiserver' || proc.name === 'etcd')).toEqual([]);
    for (const proc of procs) expect(pidAlive(proc.pid), `${proc.name} pid ${proc.pid}`).toBe(false);
    expect(await portAccepts(kube.port)).toBe(false);
    expect(await portAccepts(etcdPort)).toBe(false);
    expect(existsSync(kube.kubeconfigPath)).toBe(false);
    await kube.stop(); // twice is fine
  }, 60_000);
});
