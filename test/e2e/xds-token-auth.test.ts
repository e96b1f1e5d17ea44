// ServiceAccount-token authentication end to end, against the real kube-apiserver of test/kube and
// a real Envoy: the control plane runs `serve --kubernetes` with deploy/'s RBAC and a TLS port; the
// Envoy presents a Pod-bound token of the xds-ambassador audience from a file (as the kubelet
// projects it) and gets its namespace's config; a token replaced in the file is used by the next
// stream without restarting Envoy. Tried as an attacker: another namespace, another Pod's node id,
// another audience, an expired token and no token are refused before any resource is sent, and a
// refused client's NACK changes nothing. The operator tools (CSDS) answer an operator's token and
// refuse the Envoy's.
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { createSign } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import type { XdsCredentials } from '../../control-plane/src/demo/xds-credentials.ts';
import { CLUSTER } from '../../control-plane/src/xds/type-urls.ts';
import { openAds, type AdsNodeOptions, type AdsSession } from '../helpers/ads-client.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePort } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { REPO_ROOT, configMap, get, requestLoop, startAmbassador, startServe, waitUntil, xdsCredentials, type ServeProcess } from '../helpers/scenario.ts';
import { startKubeApiServer, type KubeApiServer } from '../kube/apiserver.ts';
import { deployRbacKubeconfig } from '../kube/deploy-rbac.ts';
import { kubeJson } from '../kube/rest.ts';

const AUDIENCE = 'xds-ambassador';
const run = promisify(execFile);
const GRPCURL = join(REPO_ROOT, '.tools', 'bin', 'grpcurl');
let kube: KubeApiServer;
let creds: XdsCredentials;
let cp: ServeProcess;
let envoy: EnvoyHandle;
let v1: Upstream;
let v2: Upstream;
let port: number;
let dir: string;
let tokenFile: string;
let cpKubeconfig: string;
let podUid: string;
let signingKey: string;
const sessions: AdsSession[] = [];

const ordersConfig = (upstream: string) => configMap({ name: 'orders', namespace: 'shop', config: `
ambassador: orders
listeners:
  - name: api
    port: ${port}
    routes: [{match: {prefix: /}, upstream: ${upstream}}]
upstreams:
  v1: {endpoints: ["127.0.0.1:${v1.port}"]}
  v2: {endpoints: ["127.0.0.1:${v2.port}"]}` });

const invoicesConfig = configMap({ name: 'invoices', namespace: 'billing', config: `
ambassador: invoices
listeners:
  - name: api
    port: 8080
    routes: [{match: {prefix: /}, upstream: backend}]
upstreams:
  backend: {endpoints: ["backend.billing.svc:80"]}` });

async function apply(yaml: string): Promise<void> {
  const r = await kube.kubectl(['apply', '-f', '-'], { input: yaml });
  if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
}

async function create(path: string, body: unknown): Promise<{ metadata: { uid: string } }> {
  return kubeJson(kube, { path, method: 'POST', token: kube.adminToken, body });
}

/** A token from the TokenRequest API for shop's ServiceAccount `a`, bound to Pod orders-1. */
async function podToken(audiences = [AUDIENCE]): Promise<string> {
  const spec = { audiences, expirationSeconds: 3600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'orders-1', uid: podUid } };
  const r = await create('/api/v1/namespaces/shop/serviceaccounts/a/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec });
  return (r as unknown as { status: { token: string } }).status.token;
}

/** The token with its expiry in the past, signed again with the API server's own key. */
function expired(token: string): string {
  const [header, body] = token.split('.');
  const claims = JSON.parse(Buffer.from(body ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  const now = Math.floor(Date.now() / 1000);
  const payload = Buffer.from(JSON.stringify({ ...claims, iat: now - 7200, nbf: now - 7200, exp: now - 3600 })).toString('base64url');
  const signature = createSign('RSA-SHA256').update(`${header}.${payload}`).sign(signingKey).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

/** Replaces the token file atomically, as the kubelet does (no trailing newline, like a projected token). */
async function writeToken(token: string): Promise<void> {
  await writeFile(`${tokenFile}.new`, token);
  await rename(`${tokenFile}.new`, tokenFile);
}

async function startControlPlane(xdsPort = 0): Promise<ServeProcess> {
  // TLS without a client CA: Envoys authenticate with ServiceAccount tokens (TokenReview).
  return startServe(['--kubernetes', '--kubeconfig', cpKubeconfig], {
    xdsPort, readyTimeoutMs: 20_000, securityArgs: ['--tls-cert', creds.server.certFile, '--tls-key', creds.server.keyFile],
  });
}

async function open(node: AdsNodeOptions, token?: string): Promise<AdsSession> {
  const s = await openAds(cp.xdsPort, node, { tls: { caFile: creds.caFile, serverName: 'localhost' }, ...(token === undefined ? {} : { token }) });
  sessions.push(s);
  return s;
}

async function refused(s: AdsSession, code: grpc.status): Promise<string> {
  const status = await s.ended(10_000);
  expect(grpc.status[status.code]).toBe(grpc.status[code]);
  expect(s.received).toEqual([]);
  return status.details;
}


const connected = async () => (await envoy.stats('control_plane.connected_state')).get('control_plane.connected_state');

beforeAll(async () => {
  kube = await startKubeApiServer();
  creds = await xdsCredentials();
  [v1, v2] = await Promise.all([startUpstream({ name: 'v1' }), startUpstream({ name: 'v2' })]) as [Upstream, Upstream];
  port = await freePort();
  dir = await mkdtemp(join(tmpdir(), 'xds-token-'));
  tokenFile = join(dir, 'token');
  signingKey = await readFile(kube.serviceAccountSigningKeyPath, 'utf8');
  cpKubeconfig = (await deployRbacKubeconfig(kube)).kubeconfig;
  for (const ns of ['shop', 'billing']) await apply(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}}\n`);
  await apply('apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: shop}\n');
  // No kubelet runs it: the Pod object only has to exist for a token bound to it.
  const pod = await create('/api/v1/namespaces/shop/pods', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'orders-1' },
    spec: { serviceAccountName: 'a', containers: [{ name: 'envoy', image: 'envoy.invalid/envoy:1' }] },
  });
  podUid = pod.metadata.uid;
  await apply(ordersConfig('v1'));
  await apply(invoicesConfig);
  cp = await startControlPlane();
  await writeToken(await podToken());
  envoy = await startAmbassador({
    xdsPort: cp.xdsPort, ambassador: 'orders', namespace: 'shop', nodeId: 'orders-1',
    auth: { kind: 'token', tokenFile },
  });
  await waitUntil(async () => (await get(port)).upstream === 'v1', 10_000, 'the ambassador serving v1');
}, 30 * 60_000);

afterAll(async () => {
  for (const s of sessions) s.close();
  await stopAll();
  await kube?.stop();
  await Promise.all([v1?.close(), v2?.close()]);
  await rm(dir, { recursive: true, force: true });
});

describe('xDS with ServiceAccount tokens', () => {
  it("gives a Pod's Envoy its namespace's config, and logs who it is", async () => {
    expect(cp.proc.output()).toContain('"client":"shop/a (token)"');
    expect(cp.proc.output()).toContain('"node":"orders-1"');
  });

  it('uses a token replaced in the file for the next stream, with no Envoy restart and no failed request', async () => {
    const loop = requestLoop(port);
    try {
      // An unusable token, then a control plane restart: the new stream is refused, Envoy keeps its config.
      await writeToken('not-a-token');
      await cp.stop();
      cp = await startControlPlane(cp.xdsPort);
      await cp.proc.waitForOutput(/"reason":"invalid_credentials".*ADS stream refused/, 10_000);
      expect((await get(port)).upstream).toBe('v1');
      // The kubelet's next rotation: Envoy reads the file again on its next attempt, which the
      // bootstrap's retry back-off (at most 1 s) brings soon.
      await writeToken(await podToken());
      const rotated = performance.now();
      await waitUntil(async () => (await connected()) === 1, 10_000, 'Envoy reconnected with the new token');
      const reconnectMs = performance.now() - rotated;
      process.stderr.write(`xds-token-auth: Envoy reconnected ${reconnectMs.toFixed(0)} ms after the token file was replaced\n`);
      expect(reconnectMs).toBeLessThan(3000);
      await apply(ordersConfig('v2'));
      await waitUntil(async () => (await get(port)).upstream === 'v2', 10_000, 'an edit over the new stream');
    } finally {
      await loop.stop();
      expect(loop.failures).toEqual([]);
      expect(loop.requests).toBeGreaterThan(50);
    }
  }, 60_000);

  it('refuses a token claiming another namespace (PERMISSION_DENIED, nothing sent), and its NACK moves nothing', async () => {
    const before = (await cp.status()).groups.find((g) => g.group === 'billing/invoices');
    expect(before).toBeDefined();
    const s = await open({ nodeId: 'orders-1', cluster: 'invoices', namespace: 'billing' }, await podToken());
    s.request({ typeUrl: CLUSTER });
    s.request({ typeUrl: CLUSTER, versionInfo: '', nonce: 'guess', errorDetail: 'rejected by an attacker' });
    expect(await refused(s, grpc.status.PERMISSION_DENIED)).toContain('shop/a may only receive config of namespace "shop", but node "orders-1" claims namespace "billing"');
    const after = (await cp.status()).groups.find((g) => g.group === 'billing/invoices');
    expect(after?.served).toBe(before?.served);
    expect(after?.rejected).toBeUndefined();
  });

  it("refuses a node id other than the token's Pod", async () => {
    const s = await open({ nodeId: 'orders-2', cluster: 'orders', namespace: 'shop' }, await podToken());
    s.request({ typeUrl: CLUSTER });
    expect(await refused(s, grpc.status.PERMISSION_DENIED)).toContain('is bound to Pod "orders-1", but the node claims id "orders-2"');
  });

  it('refuses a token for another audience, an expired token, garbage and no token (UNAUTHENTICATED)', async () => {
    const node = { nodeId: 'orders-1', cluster: 'orders', namespace: 'shop' };
    for (const token of [await podToken(['another-service']), expired(await podToken()), 'garbage', undefined]) {
      const s = await open(node, token);
      s.request({ typeUrl: CLUSTER });
      await refused(s, grpc.status.UNAUTHENTICATED);
    }
    // And a token that works, to show the refusals were about the tokens.
    const ok = await open(node, await podToken());
    ok.request({ typeUrl: CLUSTER });
    expect((await ok.next(CLUSTER, 10_000)).resources.length).toBeGreaterThan(0);
  });

  it("opens CSDS to the operator's ServiceAccount token (serve's default --operator), not to the Envoy's Pod token", async () => {
    await apply('apiVersion: v1\nkind: Namespace\nmetadata: {name: xds-system}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: operator, namespace: xds-system}\n');
    // As `kubectl -n xds-system create token operator --audience xds-ambassador` makes it: bound to nothing.
    const r = await create('/api/v1/namespaces/xds-system/serviceaccounts/operator/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [AUDIENCE], expirationSeconds: 600 } });
    const operatorToken = (r as unknown as { status: { token: string } }).status.token;
    const csds = (token: string) => run(GRPCURL, ['-cacert', creds.caFile, '-servername', 'localhost', '-H', `authorization: Bearer ${token}`, '-d', '{}', `127.0.0.1:${cp.xdsPort}`, 'envoy.service.status.v3.ClientStatusDiscoveryService/FetchClientStatus'])
      .then((x) => ({ code: 0, stdout: x.stdout, stderr: x.stderr }), (e: { code: number; stdout: string; stderr: string }) => e);
    await waitUntil(async () => (await connected()) === 1, 10_000, 'the Envoy connected');
    // The earlier tests' raw clients go: the Envoy's is then the only stream.
    for (const s of sessions.splice(0)) s.close();
    type Status = { config: { node: { id: string; userAgentName: string }; genericXdsConfigs: { clientStatus: string }[] }[] };
    let status: Status = { config: [] };
    await waitUntil(async () => {
      const ok = await csds(operatorToken);
      expect(ok.stderr).toBe('');
      status = JSON.parse(ok.stdout) as Status;
      return status.config.length === 1;
    }, 10_000, 'CSDS to list the Envoy alone');
    expect(status.config[0]?.node).toMatchObject({ id: 'orders-1', userAgentName: 'envoy' });
    const statuses = status.config[0]?.genericXdsConfigs.map((c) => c.clientStatus) ?? [];
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.filter((x) => x !== 'ACKED')).toEqual([]);
    const envoyToken = await csds(await podToken());
    expect(envoyToken.code).toBe(64 + grpc.status.PERMISSION_DENIED);
    expect(envoyToken.stderr).toContain('shop/a is not an operator');
    const none = await run(GRPCURL, ['-cacert', creds.caFile, '-servername', 'localhost', '-d', '{}', `127.0.0.1:${cp.xdsPort}`, 'envoy.service.status.v3.ClientStatusDiscoveryService/FetchClientStatus'])
      .then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(none?.code).toBe(64 + grpc.status.UNAUTHENTICATED);
  });
});
