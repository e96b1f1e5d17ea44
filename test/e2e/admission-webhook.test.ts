// The validating admission webhook with the real kube-apiserver (test/kube/) calling the real
// `serve --kubernetes --webhook-port` (deploy/'s RBAC), registered by deploy/'s own
// ValidatingWebhookConfiguration with only its clientConfig pointed at 127.0.0.1: kubectl apply of
// an invalid ambassador ConfigMap is refused with what `validate` prints, a valid one goes through,
// an unlabelled one never reaches the webhook, the certificate rotates under a stream of calls, and
// with the control plane down ConfigMaps can still be applied (failurePolicy Ignore).
import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { makePki, type Pki } from '../../control-plane/src/demo/pki.ts';
import { freePort } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { CLI, configMap, startServe, waitUntil, type ServeProcess } from '../helpers/scenario.ts';
import { startKubeApiServer, type KubeApiServer } from '../kube/apiserver.ts';
import { deployRbacKubeconfig } from '../kube/deploy-rbac.ts';

const NS = 'shop';
const DENIED = 'admission webhook "configmaps.xds-ambassador.io" denied the request: ';
let kube: KubeApiServer;
let pki: Pki;
let dir: string;
let certFile: string;
let keyFile: string;
let webhookPort: number;
let saKubeconfig: string;
let cp: ServeProcess | undefined;

const config = (name: string, o: { ambassador?: string; timeout?: string; labelled?: boolean } = {}) => {
  const manifest = configMap({ name, namespace: NS, config: `
ambassador: ${o.ambassador ?? name}
listeners:
  - name: api
    port: 8000
    routes:
      - match: {prefix: /}
        upstream: v1
        timeout: ${o.timeout ?? '5s'}
upstreams:
  v1: {endpoints: ["127.0.0.1:9001"]}` });
  return o.labelled === false ? manifest.replace('    xds-ambassador.io/config: "true"\n', '    app: not-an-ambassador\n') : manifest;
};

function apply(yaml: string, ...flags: string[]) {
  return kube.kubectl(['apply', ...flags, '-f', '-'], { input: yaml });
}

/** What `xds-ambassador validate` prints for this manifest, without the `FILE:LINE: ` it starts
 * with (an admission request has no file). */
async function validateOutput(yaml: string): Promise<string[]> {
  const file = join(dir, `validate-${randomBytes(4).toString('hex')}.yaml`);
  await writeFile(file, yaml);
  const out = await new Promise<string>((resolve) => execFile(process.execPath, [CLI, 'validate', file], (_e, stdout) => resolve(stdout)));
  return out.split('\n').filter((l) => l.startsWith('error: ')).map((l) => l.slice('error: '.length).replace(/^\S+:\d+: /, ''));
}

async function startControlPlane(): Promise<ServeProcess> {
  // The webhook serves the xDS port's certificate (Envoys of this test would present ServiceAccount tokens).
  const serve = await startServe(['--kubernetes', '--kubeconfig', saKubeconfig, '--log-level', 'debug', '--webhook-port', String(webhookPort)],
    { readyTimeoutMs: 20_000, securityArgs: ['--tls-cert', certFile, '--tls-key', keyFile] });
  await serve.proc.waitForOutput(/"webhook_port":\d+/, 5000);
  return serve;
}

/** The admission reviews the control plane logged, as {name, allowed}. */
function reviews(serve: ServeProcess): { name?: string; allowed: boolean; operation: string }[] {
  return serve.proc.output().split('\n').filter((l) => l.includes('"msg":"admission review')).map((l) => JSON.parse(l) as { name?: string; allowed: boolean; operation: string });
}

/** The serial number of the certificate the webhook presents to a new connection. */
function servedSerial(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: webhookPort, ca: pki.ca.cert, servername: 'localhost' }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.on('error', reject);
  });
}

beforeAll(async () => {
  kube = await startKubeApiServer();
  pki = await makePki();
  dir = await mkdtemp(join(tmpdir(), 'xds-webhook-e2e-'));
  const server = await pki.server(['localhost', '127.0.0.1']);
  certFile = join(dir, 'tls.crt');
  keyFile = join(dir, 'tls.key');
  await Promise.all([copyFile(server.certPath, certFile), copyFile(server.keyPath, keyFile)]);
  webhookPort = await freePort();
  saKubeconfig = (await deployRbacKubeconfig(kube)).kubeconfig;
  const ns = await apply(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n`);
  if (ns.code !== 0) throw new Error(ns.stderr);
  cp = await startControlPlane();

  // deploy/'s webhook registration, with the Service swapped for this test's address and CA.
  const registration = parse(await readFile('deploy/control-plane/webhook.yaml', 'utf8')) as { webhooks: { clientConfig: unknown }[] };
  for (const w of registration.webhooks) w.clientConfig = { url: `https://127.0.0.1:${webhookPort}/validate-configmap`, caBundle: Buffer.from(pki.ca.cert).toString('base64') };
  const r = await apply(JSON.stringify(registration));
  if (r.code !== 0) throw new Error(r.stderr);
  // The API server picks registrations up from its own watch: wait until it calls the webhook.
  await waitUntil(async () => (await apply(config('probe', { timeout: 'soon' }), '--dry-run=server')).stderr.includes(DENIED), 10_000, 'the API server to call the webhook', 200);
}, 30 * 60_000);

afterAll(async () => {
  await stopAll();
  await kube?.stop();
  await pki?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('admission webhook with the real API server', () => {
  it('refuses `kubectl apply` of an invalid ConfigMap with exactly what `validate` prints', async () => {
    const broken = config('orders', { timeout: 'soon' });
    const expected = await validateOutput(broken);
    expect(expected).toEqual(['ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].timeout (line 8): expected a duration such as "250ms", "5s", "1.5s" or "2m", found "soon"']);
    const r = await apply(broken);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${DENIED}${expected[0]}`);
    expect((await kube.kubectl(['-n', NS, 'get', 'configmap', 'orders'])).stderr).toContain('NotFound');
  });

  it('accepts a valid one, which the control plane then serves', async () => {
    const r = await apply(config('orders'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await waitUntil(async () => (await cp!.status()).groups.some((g) => g.group === 'shop/orders'), 3000, 'the control plane to serve shop/orders');
    expect((await cp!.status()).errors).toEqual([]);
  });

  it('refuses an invalid edit and keeps what is stored', async () => {
    const r = await apply(config('orders', { timeout: '2 seconds' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${DENIED}ConfigMap shop/orders: ambassador.yaml: listeners[0].routes[0].timeout (line 8): expected a duration`);
    const stored = await kube.kubectl(['-n', NS, 'get', 'configmap', 'orders', '-o', 'jsonpath={.data.ambassador\\.yaml}']);
    expect(stored.stdout).toContain('timeout: 5s');
  });

  it('refuses a second ConfigMap claiming an ambassador that is served, naming the one serving it', async () => {
    const r = await apply(config('orders-copy', { ambassador: 'orders' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${DENIED}ConfigMap shop/orders-copy: ambassador.yaml: ambassador: ambassador "orders" in namespace "shop" is already configured by ConfigMap shop/orders;`);
  });

  it('never sees an unlabelled ConfigMap', async () => {
    const before = reviews(cp!).length;
    const r = await apply(config('notes', { timeout: 'soon', labelled: false }));
    expect(r.code).toBe(0);
    // A labelled one sent after it is logged: the log is where the unlabelled one would be.
    expect((await apply(config('marker'))).code).toBe(0);
    await waitUntil(async () => reviews(cp!).some((v) => v.name === 'marker'), 3000, 'the marker review in the log');
    const seen = reviews(cp!).slice(before);
    expect(seen.map((v) => v.name)).toEqual(['marker']);
    expect(seen[0]).toMatchObject({ operation: 'CREATE', allowed: true });
  });

  it('keeps answering the API server while its certificate rotates', async () => {
    const oldSerial = await servedSerial();
    const next = await pki.server(['localhost', '127.0.0.1']);
    const results: string[] = [];
    let running = true;
    const loop = (async () => {
      while (running) {
        const r = await apply(config('orders', { timeout: 'soon' }), '--dry-run=server');
        results.push(r.stderr.includes(`${DENIED}ConfigMap shop/orders:`) ? 'refused' : `not refused: code ${r.code} ${r.stdout}${r.stderr}`);
      }
    })();
    try {
      await waitUntil(async () => results.length >= 3, 10_000, 'calls before the rotation');
      // As a Secret volume update does: new files renamed into place (key, then certificate).
      await writeFile(`${keyFile}.new`, next.key);
      await writeFile(`${certFile}.new`, next.cert);
      await rename(`${keyFile}.new`, keyFile);
      await rename(`${certFile}.new`, certFile);
      await waitUntil(async () => (await servedSerial()) !== oldSerial, 5000, 'the new certificate to be served');
      const rotatedAt = results.length;
      await waitUntil(async () => results.length >= rotatedAt + 5, 15_000, 'calls after the rotation');
    } finally {
      running = false;
      await loop;
    }
    expect(await servedSerial()).toBe(new X509Certificate(next.cert).serialNumber);
    expect(results.filter((x) => x !== 'refused')).toEqual([]);
    expect(results.length).toBeGreaterThanOrEqual(8);
  });

  it('with the control plane down, lets ConfigMaps through (failurePolicy Ignore) and the control plane still refuses a broken one', async () => {
    await cp!.stop();
    cp = undefined;
    // A refused connection fails at once: each apply is far under the 5 s webhook timeout.
    const timed = async (yaml: string) => {
      const started = performance.now();
      const r = await apply(yaml);
      return { ...r, ms: performance.now() - started };
    };
    const broken = await timed(config('broken', { timeout: 'soon' }));
    const rollback = await timed(config('orders', { timeout: '7s' }));
    expect(broken.code).toBe(0);
    expect(rollback.code).toBe(0);
    console.log(`kubectl apply with the webhook down: ${Math.round(broken.ms)} ms and ${Math.round(rollback.ms)} ms`);
    expect(Math.max(broken.ms, rollback.ms)).toBeLessThan(5000);
    expect(kube.apiServerOutput()).toContain('Failed calling webhook, failing open configmaps.xds-ambassador.io'); // what README tells operators to look for

    cp = await startControlPlane();
    const status = await cp.status();
    expect(status.errors).toEqual(['ConfigMap shop/broken: ambassador.yaml: listeners[0].routes[0].timeout (line 8): expected a duration such as "250ms", "5s", "1.5s" or "2m", found "soon"']);
    expect(status.groups.map((g) => g.group)).toContain('shop/orders');
    // And refusing again as soon as it is back.
    const r = await apply(config('broken-2', { timeout: 'soon' }));
    expect(r.stderr).toContain(`${DENIED}ConfigMap shop/broken-2:`);
  });
});
