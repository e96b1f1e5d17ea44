// TLS origination over SDS with a real Envoy and real TLS upstreams: SNI, CA from a Secret, SAN
// verification, client certificates, certificate rotation with no restart, missing Secrets.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTlsUpstream, type TlsUpstream } from '../../control-plane/src/demo/tls-upstream.ts';
import { makePki, type Pki } from '../../control-plane/src/demo/pki.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePort } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, secretManifest, startAmbassador, startControlPlaneProcess, waitUntil, type ControlPlaneProcess } from '../helpers/scenario.ts';

let pki: Pki;
let plain: TlsUpstream;
let mutual: TlsUpstream;
let cp: ControlPlaneProcess;
let envoy: EnvoyHandle;
let port: number;
/** Every client private key the test gives the control plane (the first one, then the rotated one). */
const clientKeyPems: string[] = [];

const NS = 'tls';
const route = (prefix: string, upstream: string) => `      - match: {prefix: ${prefix}}\n        upstream: ${upstream}`;

function ambassador(): string {
  return configMap({
    name: 'secure',
    namespace: NS,
    config: `
ambassador: secure
listeners:
  - name: api
    port: ${port}
    routes:
${[route('/plain', 'api'), route('/mutual', 'mtls'), route('/wrong-ca', 'wrong-ca'), route('/wrong-name', 'wrong-name'), route('/ghost', 'ghost'), route('/', 'api')].join('\n')}
upstreams:
  api:
    endpoints: ["127.0.0.1:${plain.port}"]
    tls: {sni: api.test, ca: {secret: {name: api-ca}}}
  mtls:
    endpoints: ["127.0.0.1:${mutual.port}"]
    tls: {sni: api.test, ca: {secret: {name: api-ca}}, clientCert: {secret: {name: api-client}}}
  wrong-ca:
    endpoints: ["127.0.0.1:${plain.port}"]
    tls: {sni: api.test, ca: {secret: {name: other-ca}}}
  wrong-name:
    endpoints: ["127.0.0.1:${plain.port}"]
    tls: {sni: api.test, subjectAltNames: [billing.test], ca: {secret: {name: api-ca}}}
  ghost:
    endpoints: ["127.0.0.1:${plain.port}"]
    tls: {sni: api.test, ca: {secret: {name: nope}}}`,
  });
}

beforeAll(async () => {
  pki = await makePki();
  const server = await pki.server(['api.test']);
  const client = await pki.client('ambassador-1');
  clientKeyPems.push(client.key);
  plain = await startTlsUpstream({ name: 'plain', cert: server.cert, key: server.key });
  mutual = await startTlsUpstream({ name: 'mutual', cert: server.cert, key: server.key, ca: pki.ca.cert });
  port = await freePort();
  cp = await startControlPlaneProcess({
    'secrets.yaml': [
      secretManifest({ name: 'api-ca', namespace: NS, data: { 'ca.crt': pki.ca.cert } }),
      secretManifest({ name: 'other-ca', namespace: NS, data: { 'ca.crt': pki.otherCa.cert } }),
      secretManifest({ name: 'api-client', namespace: NS, type: 'kubernetes.io/tls', data: { 'tls.crt': client.cert, 'tls.key': client.key } }),
    ].join('---\n'),
    'secure.yaml': ambassador(),
  });
  envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'secure', namespace: NS });
  await waitUntil(async () => (await get(port, '/plain')).status === 200, 10_000, 'the TLS route to serve');
});

afterAll(async () => {
  await stopAll();
  await Promise.all([plain?.close(), mutual?.close()]);
  await pki?.cleanup();
});

describe('upstream TLS', () => {
  it('sends the configured SNI and verifies the server against the CA from the Secret', async () => {
    plain.reset();
    const r = await get(port, '/plain');
    expect(r.status).toBe(200);
    expect(r.upstream).toBe('plain');
    expect(plain.requests.at(-1)?.tls.servername).toBe('api.test');
  });

  it('presents the client certificate from a kubernetes.io/tls Secret to an upstream that requires one', async () => {
    const r = await get(port, '/mutual');
    expect(r.status).toBe(200);
    expect(mutual.requests.at(-1)?.tls).toMatchObject({ clientCert: true, clientCn: 'ambassador-1' });
  });

  it('fails the request when the upstream certificate is not signed by the trusted CA, visibly in Envoy stats', async () => {
    const r = await get(port, '/wrong-ca');
    expect(r.status).toBe(503);
    const stats = await envoy.stats('cluster\\.tls/secure/wrong-ca\\.ssl\\.fail_verify_error');
    expect(stats.get('cluster.tls/secure/wrong-ca.ssl.fail_verify_error')).toBeGreaterThanOrEqual(1);
  });

  it('fails the request when the certificate does not carry the expected name', async () => {
    expect((await get(port, '/wrong-name')).status).toBe(503);
    const stats = await envoy.stats('cluster\\.tls/secure/wrong-name\\.ssl\\.fail_verify_san');
    expect(stats.get('cluster.tls/secure/wrong-name.ssl.fail_verify_san')).toBeGreaterThanOrEqual(1);
  });

  it('reports a missing Secret precisely and disables only the routes that need it', async () => {
    const r = await get(port, '/ghost');
    expect(r.status).toBe(503);
    expect(r.body).toContain('Secret tls/nope not found');
    expect((await get(port, '/plain')).status).toBe(200);
    expect((await cp.status()).errors).toContain(
      `${join(cp.dir, 'secure.yaml')}:10: ConfigMap tls/secure: ambassador.yaml: upstreams.ghost.tls.ca.secret: Secret tls/nope not found; create it in namespace "tls", or fix the name at upstreams.ghost.tls.ca.secret`,
    );
    // Creating the Secret brings the route up, with no restart.
    await cp.write('late.yaml', secretManifest({ name: 'nope', namespace: NS, data: { 'ca.crt': pki.ca.cert } }));
    await waitUntil(async () => (await get(port, '/ghost')).status === 200, 1000, 'the route once its Secret exists');
    expect((await cp.status()).errors).toEqual([]);
  });

  it('rotates the client certificate when the Secret changes, with no Envoy restart', async () => {
    const pid = envoy.pid;
    const next = await pki.client('ambassador-2');
    clientKeyPems.push(next.key);
    await cp.write('secrets.yaml', [
      secretManifest({ name: 'api-ca', namespace: NS, data: { 'ca.crt': pki.ca.cert } }),
      secretManifest({ name: 'other-ca', namespace: NS, data: { 'ca.crt': pki.otherCa.cert } }),
      secretManifest({ name: 'api-client', namespace: NS, type: 'kubernetes.io/tls', data: { 'tls.crt': next.cert, 'tls.key': next.key } }),
    ].join('---\n'));
    // Envoy's SDS secret now holds the new certificate (its key is redacted in the dump).
    const nextB64 = Buffer.from(next.cert.trim()).toString('base64');
    await waitUntil(async () => JSON.stringify(await envoy.configDump('dynamic_active_secrets')).includes(nextB64), 1000, 'the new client certificate in Envoy');
    // New connections present it (restart the upstream to drop the pooled connection).
    await mutual.close();
    const server = await pki.server(['api.test']);
    mutual = await startTlsUpstream({ name: 'mutual', cert: server.cert, key: server.key, ca: pki.ca.cert, port: mutual.port });
    await waitUntil(async () => (await get(port, '/mutual')).status === 200 && mutual.requests.at(-1)?.tls.clientCn === 'ambassador-2', 2000, 'a connection with the new certificate');
    expect(envoy.pid).toBe(pid);
  });

  it('keeps private keys out of every non-SDS resource, redacts them in config_dump, and never logs them', async () => {
    // Both keys: the one Envoy holds now (after the rotation test) and the one it held before.
    expect(clientKeyPems.length).toBeGreaterThanOrEqual(1);
    const dump = JSON.stringify(await envoy.configDump());
    const output = cp.proc.output();
    const status = JSON.stringify(await cp.status());
    expect(dump).not.toContain('PRIVATE KEY');
    for (const pem of clientKeyPems) {
      const keyBody = pem.split('\n')[1] ?? '';
      expect(keyBody.length).toBeGreaterThan(20);
      expect(dump).not.toContain(keyBody);
      expect(dump).not.toContain(Buffer.from(pem).toString('base64').slice(0, 40));
      expect(output).not.toContain(keyBody);
      expect(status).not.toContain(keyBody);
    }
    // Envoy shows a redacted key as the bytes "[redacted]", base64-encoded.
    expect(dump).toContain(`"private_key":{"inline_bytes":"${Buffer.from('[redacted]').toString('base64')}"}`);
  });
});
