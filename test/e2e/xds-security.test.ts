// Who gets what from the xDS port, tried as an attacker would on loopback, against the real CLI's
// `serve` with mutual TLS: a client proves a namespace and ServiceAccount with its certificate
// (spiffe://cluster.local/ns/NS/sa/SA); it receives only its namespace's groups, only configs that
// allow its ServiceAccount, and a refused client gets nothing and moves nothing.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialSecretName } from '../../control-plane/src/translate/secrets.ts';
import { CLUSTER, LISTENER, SECRET } from '../../control-plane/src/xds/type-urls.ts';
import type { XdsCredentials } from '../../control-plane/src/demo/xds-credentials.ts';
import { openAds, type AdsConnectOptions, type AdsNodeOptions, type AdsSession } from '../helpers/ads-client.ts';
import { startProcess, stopAll } from '../helpers/processes.ts';
import { CLI, configMap, secretManifest, startControlPlaneProcess, startServe, waitUntil, xdsCredentials, type ControlPlaneProcess } from '../helpers/scenario.ts';

let cp: ControlPlaneProcess;
let creds: XdsCredentials;
const sessions: AdsSession[] = [];

const config = (ambassador: string, extra = '') => `
ambassador: ${ambassador}${extra}
listeners:
  - name: api
    port: 8080
    routes:
      - match: {prefix: /}
        upstream: backend
        inject: {header: authorization, prefix: "Bearer ", secret: {name: api-token, key: token}}
upstreams:
  backend: {endpoints: ["127.0.0.1:9"]}`;

const TOKEN_VALUE = 'shop-secret-token-value';
const CREDENTIAL = credentialSecretName({ namespace: 'shop', ambassador: 'orders' }, { header: 'authorization', prefix: 'Bearer ', secret: { name: 'api-token', key: 'token' } });

beforeAll(async () => {
  creds = await xdsCredentials();
  cp = await startControlPlaneProcess({
    'orders.yaml': configMap({ name: 'orders', namespace: 'shop', config: config('orders') }),
    'payments.yaml': configMap({ name: 'payments', namespace: 'shop', config: config('payments', '\nserviceAccounts: [payments]') }),
    'invoices.yaml': configMap({ name: 'invoices', namespace: 'billing', config: config('invoices') }),
    'secrets.yaml': `${secretManifest({ name: 'api-token', namespace: 'shop', data: { token: TOKEN_VALUE } })}---\n${secretManifest({ name: 'api-token', namespace: 'billing', data: { token: 'billing-token' } })}`,
  });
});
afterAll(async () => {
  for (const s of sessions) s.close();
  await stopAll();
});

async function asIdentity(ns: string, sa: string): Promise<AdsConnectOptions> {
  const c = await creds.client(ns, sa);
  return { tls: { caFile: creds.caFile, certFile: c.certFile, keyFile: c.keyFile, serverName: 'localhost' } };
}

async function open(node: AdsNodeOptions, connect: AdsConnectOptions): Promise<AdsSession> {
  const s = await openAds(cp.xdsPort, node, connect);
  sessions.push(s);
  return s;
}

async function servedVersion(group: string): Promise<string | undefined> {
  return (await cp.status()).groups.find((g) => g.group === group)?.served;
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${cp.httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.slice(name.length + 1));
}

/** The stream ends with `code` and not a single response. */
async function refused(s: AdsSession, code: grpc.status): Promise<string> {
  const status = await s.ended(10_000);
  expect(grpc.status[status.code]).toBe(grpc.status[code]);
  expect(s.received).toEqual([]);
  return status.details;
}

describe('xDS with client certificates', () => {
  it("serves a namespace's identity its own ambassador, Secrets included", async () => {
    const s = await open({ nodeId: 'orders-1', cluster: 'orders', namespace: 'shop' }, await asIdentity('shop', 'default'));
    s.request({ typeUrl: CLUSTER });
    const cds = await s.next(CLUSTER, 10_000);
    expect(cds.resources.length).toBeGreaterThan(0);
    s.ack(cds);
    s.request({ typeUrl: SECRET, names: [CREDENTIAL] });
    const sds = await s.next(SECRET, 10_000);
    expect(sds.resources.map((r) => r.name)).toEqual([CREDENTIAL]);
    const secret = sds.resources[0]?.body as { generic_secret?: { secret?: { inline_bytes?: Uint8Array } } } | undefined;
    expect(Buffer.from(secret?.generic_secret?.secret?.inline_bytes ?? []).toString()).toBe(`Bearer ${TOKEN_VALUE}`);
    s.close();
  });

  it('refuses a node that claims another namespace (PERMISSION_DENIED, nothing sent), and its NACK moves nothing', async () => {
    const before = await servedVersion('billing/invoices');
    expect(before).toBeDefined();
    const s = await open({ nodeId: 'evil-1', cluster: 'invoices', namespace: 'billing' }, await asIdentity('shop', 'default'));
    s.request({ typeUrl: CLUSTER });
    // A NACK of what it might guess the served version is: it must never reach the cache.
    s.request({ typeUrl: CLUSTER, versionInfo: '', nonce: 'guess', errorDetail: 'rejected by an attacker' });
    const details = await refused(s, grpc.status.PERMISSION_DENIED);
    expect(details).toContain('shop/default may only receive config of namespace "shop"');
    expect(details).toContain('claims namespace "billing"');
    const status = await cp.status();
    const group = status.groups.find((g) => g.group === 'billing/invoices');
    expect(group?.served).toBe(before);
    expect(group?.rejected).toBeUndefined();
  });

  it("asks for another namespace's Secret by name: refused before any SDS answer", async () => {
    const s = await open({ nodeId: 'evil-2', cluster: 'orders', namespace: 'billing' }, await asIdentity('shop', 'default'));
    s.request({ typeUrl: SECRET, names: [CREDENTIAL.replace('shop/', 'billing/')] });
    await refused(s, grpc.status.PERMISSION_DENIED);
  });

  it('refuses a client without a certificate, with a certificate of another CA, or without a SPIFFE identity', async () => {
    const node = { nodeId: 'anon', cluster: 'orders', namespace: 'shop' };
    const none = await open(node, { tls: { caFile: creds.caFile, serverName: 'localhost' } });
    none.request({ typeUrl: CLUSTER });
    await refused(none, grpc.status.UNAVAILABLE); // the TLS handshake itself fails

    const foreign = await creds.pki.client('shop/default', { issuer: 'otherCa', uris: ['spiffe://cluster.local/ns/shop/sa/default'] });
    const other = await open(node, { tls: { caFile: creds.caFile, certFile: foreign.certPath, keyFile: foreign.keyPath, serverName: 'localhost' } });
    other.request({ typeUrl: CLUSTER });
    await refused(other, grpc.status.UNAVAILABLE);

    const plain = await creds.pki.client('shop/default');
    const noSan = await open(node, { tls: { caFile: creds.caFile, certFile: plain.certPath, keyFile: plain.keyPath, serverName: 'localhost' } });
    noSan.request({ typeUrl: CLUSTER });
    expect(await refused(noSan, grpc.status.UNAUTHENTICATED)).toContain('URI SAN spiffe://cluster.local/ns/NAMESPACE/sa/SERVICE_ACCOUNT');

    const stranger = await creds.pki.client('shop/default', { uris: ['spiffe://example.org/ns/shop/sa/default'] });
    const otherDomain = await open(node, { tls: { caFile: creds.caFile, certFile: stranger.certPath, keyFile: stranger.keyPath, serverName: 'localhost' } });
    otherDomain.request({ typeUrl: CLUSTER });
    expect(await refused(otherDomain, grpc.status.UNAUTHENTICATED)).toContain('trust domain "example.org", not "cluster.local"');

    const plaintext = await open(node, {});
    plaintext.request({ typeUrl: CLUSTER });
    await refused(plaintext, grpc.status.UNAVAILABLE);
  });

  it("serves an ambassador that lists serviceAccounts only to those, and drops one the config stops listing", async () => {
    const intruder = await open({ nodeId: 'p-1', cluster: 'payments', namespace: 'shop' }, await asIdentity('shop', 'default'));
    intruder.request({ typeUrl: CLUSTER });
    expect(await refused(intruder, grpc.status.PERMISSION_DENIED)).toContain('shop/default is not among the serviceAccounts allowed by the config of ambassador shop/payments (payments)');

    const member = await open({ nodeId: 'p-2', cluster: 'payments', namespace: 'shop' }, await asIdentity('shop', 'payments'));
    member.request({ typeUrl: CLUSTER });
    member.ack(await member.next(CLUSTER, 10_000));
    await cp.write('payments.yaml', configMap({ name: 'payments', namespace: 'shop', config: config('payments', '\nserviceAccounts: [payments-v2]') }));
    const status = await member.ended(10_000);
    expect(grpc.status[status.code]).toBe('PERMISSION_DENIED');
    expect(status.details).toContain('(payments-v2)');
  });

  it('counts refusals by reason and logs a repeated refusal of one client once', async () => {
    const before = await metric('xds_ambassador_stream_refusals_total{reason="namespace_mismatch"}');
    for (let i = 0; i < 3; i++) {
      const s = await open({ nodeId: `again-${i}`, cluster: 'invoices', namespace: 'billing' }, await asIdentity('shop', 'retrying'));
      s.request({ typeUrl: LISTENER });
      await refused(s, grpc.status.PERMISSION_DENIED);
    }
    await waitUntil(async () => (await metric('xds_ambassador_stream_refusals_total{reason="namespace_mismatch"}')) === before + 3, 5000, 'three refusals counted');
    // Every refusal here comes from 127.0.0.1: one log line per reason.
    expect(cp.proc.output().split('\n').filter((l) => l.includes('ADS stream refused') && l.includes('"reason":"namespace_mismatch"'))).toHaveLength(1);
    // Labels are a fixed set, whatever clients claim.
    const text = await (await fetch(`http://127.0.0.1:${cp.httpPort}/metrics`)).text();
    expect(text).not.toContain('again-');
  });

  it('never puts a Secret value anywhere but SDS: not in logs, status or metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${cp.httpPort}/metrics`)).text();
    expect(text).not.toContain(TOKEN_VALUE);
    expect(JSON.stringify(await cp.status())).not.toContain(TOKEN_VALUE);
    expect(cp.proc.output()).not.toContain(TOKEN_VALUE);
  });
});

describe('serve --insecure', () => {
  it('says loudly that it is plaintext and unauthenticated, and serves any node', async () => {
    const insecure = await startServe(['--config-dir', cp.dir], { securityArgs: ['--insecure'] });
    expect(insecure.proc.output()).toContain('--insecure: the xDS port is plaintext and unauthenticated');
    const s = await openAds(insecure.xdsPort, { nodeId: 'any', cluster: 'orders', namespace: 'shop' });
    sessions.push(s);
    s.request({ typeUrl: CLUSTER });
    expect((await s.next(CLUSTER, 10_000)).resources.length).toBeGreaterThan(0);
    await insecure.stop();
  });

  it('refuses to start without a certificate or a way to authenticate, naming the flags', async () => {
    const noTls = startProcess({ name: 'serve', cmd: process.execPath, args: [CLI, 'serve', '--config-dir', cp.dir, '--xds-port', '0', '--http-port', '0'] });
    expect((await noTls.waitForExit()).code).toBe(2);
    expect(noTls.output()).toContain('the xDS port needs a TLS certificate: pass --tls-cert FILE and --tls-key FILE');
    const noAuth = startProcess({ name: 'serve', cmd: process.execPath, args: [CLI, 'serve', '--config-dir', cp.dir, '--xds-port', '0', '--http-port', '0', '--tls-cert', creds.server.certFile, '--tls-key', creds.server.keyFile] });
    expect((await noAuth.waitForExit()).code).toBe(2);
    expect(noAuth.output()).toContain('Envoys must prove who they are: pass --client-ca FILE');
  });
});
