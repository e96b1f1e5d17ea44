// The pieces of the secure xDS port on their own: identities read from client certificates, what an
// identity may be served, certificate files that reload only as a matching pair, and the
// one-response-in-flight writer.
import { copyFile, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePki, type CertFiles, type Pki } from '../../control-plane/src/demo/pki.ts';
import { authorizeClients, authorizeNode } from '../../control-plane/src/server/auth/authorize.ts';
import { authenticator } from '../../control-plane/src/server/auth/authenticator.ts';
import { certificateIdentity } from '../../control-plane/src/server/auth/certificate-identity.ts';
import type { Identity } from '../../control-plane/src/server/auth/identity.ts';
import type { NodeInfo } from '../../control-plane/src/server/node.ts';
import { ResponseWriter } from '../../control-plane/src/server/response-writer.ts';
import { CertificateFiles } from '../../control-plane/src/tls/certificate-files.ts';
import { waitUntil } from '../helpers/scenario.ts';

const cert = (san: string | undefined): PeerCertificate => ({ subjectaltname: san, valid_to: 'Jan  1 00:00:00 2030 GMT' }) as PeerCertificate;
const node = (id: string): NodeInfo => ({ id, cluster: 'orders', metadata: {}, userAgent: '' });
const shopA: Identity = { namespace: 'shop', serviceAccount: 'a', method: 'token', nodeId: 'orders-1' };

describe('identity from a client certificate', () => {
  it('reads namespace and ServiceAccount from the SPIFFE URI SAN of the trust domain', () => {
    expect(certificateIdentity(cert('DNS:x.test, URI:spiffe://cluster.local/ns/shop/sa/orders'), 'cluster.local'))
      .toEqual({ ok: true, identity: { namespace: 'shop', serviceAccount: 'orders', method: 'certificate', expiresAt: new Date('2030-01-01T00:00:00Z') } });
  });

  it('refuses no certificate, no or two SPIFFE SANs, another trust domain and malformed names', () => {
    const refusal = (c: PeerCertificate | undefined) => {
      const r = certificateIdentity(c, 'cluster.local');
      return r.ok ? undefined : `${r.reason}: ${r.message}`;
    };
    expect(refusal(undefined)).toBe('no_credentials: no client certificate was presented');
    expect(refusal(cert('DNS:x.test'))).toMatch(/^invalid_credentials: .* found none$/);
    expect(refusal(cert('URI:spiffe://cluster.local/ns/a/sa/b, URI:spiffe://cluster.local/ns/c/sa/d'))).toMatch(/found 2$/);
    expect(refusal(cert('URI:spiffe://evil.example/ns/shop/sa/orders'))).toContain('trust domain "evil.example", not "cluster.local"');
    expect(refusal(cert('URI:spiffe://cluster.local/ns/Shop/sa/orders'))).toContain('does not name a valid namespace');
    expect(refusal(cert('URI:spiffe://cluster.local/ns/shop/sa/orders/extra'))).toContain('is not of the form');
  });

  it('takes a bearer token only as "Bearer TOKEN", and never a huge one', async () => {
    let seen: string | undefined;
    const auth = authenticator({ kind: 'token', verifier: { verify: async (t) => { seen = t; return { ok: true, identity: shopA }; } } });
    expect((await auth({})).ok).toBe(false);
    expect(await auth({ authorization: 'Basic abc' })).toMatchObject({ ok: false, reason: 'no_credentials' });
    expect(await auth({ authorization: `Bearer ${'x'.repeat(20_000)}` })).toMatchObject({ ok: false, reason: 'invalid_credentials' });
    expect(seen).toBeUndefined();
    expect(await auth({ authorization: 'Bearer abc.def.ghi' })).toEqual({ ok: true, identity: shopA });
    expect(seen).toBe('abc.def.ghi');
  });
});

describe('what an identity may be served', () => {
  it('only its own namespace, and only its own Pod as node id', () => {
    expect(authorizeNode(shopA, node('orders-1'), 'shop')).toEqual({ ok: true });
    expect(authorizeNode(shopA, node('orders-1'), 'billing')).toMatchObject({ ok: false, reason: 'namespace_mismatch' });
    expect(authorizeNode(shopA, node('orders-2'), 'shop')).toMatchObject({ ok: false, reason: 'node_id_mismatch' });
    const { nodeId: _unbound, ...unbound } = shopA;
    expect(authorizeNode(unbound, node('anything'), 'shop')).toEqual({ ok: true });
  });

  it("only configs that list its ServiceAccount, when they list any; --insecure believes everyone", () => {
    expect(authorizeClients(shopA, undefined, 'shop/orders')).toEqual({ ok: true });
    expect(authorizeClients(shopA, ['a', 'b'], 'shop/orders')).toEqual({ ok: true });
    expect(authorizeClients(shopA, ['b'], 'shop/orders')).toMatchObject({ ok: false, reason: 'not_allowed' });
    const insecure: Identity = { namespace: '', serviceAccount: '', method: 'insecure' };
    expect(authorizeNode(insecure, node('x'), 'billing')).toEqual({ ok: true });
    expect(authorizeClients(insecure, ['b'], 'shop/orders')).toEqual({ ok: true });
  });
});

describe('certificate files', () => {
  let pki: Pki;
  let dir: string;
  let first: CertFiles;
  let second: CertFiles;
  const log = pino({ level: 'silent' });
  beforeAll(async () => {
    pki = await makePki();
    dir = await mkdtemp(join(tmpdir(), 'xds-certfiles-'));
    [first, second] = await Promise.all([pki.server(['localhost']), pki.server(['localhost'])]) as [CertFiles, CertFiles];
  });
  afterAll(async () => {
    await pki.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to start on a key that is not the certificate\'s, naming the files', async () => {
    await copyFile(first.certPath, join(dir, 'bad.crt'));
    await copyFile(second.keyPath, join(dir, 'bad.key'));
    await expect(CertificateFiles.open({ certFile: join(dir, 'bad.crt'), keyFile: join(dir, 'bad.key') }, log))
      .rejects.toThrow(`${join(dir, 'bad.key')} is not the private key of ${join(dir, 'bad.crt')}`);
    await expect(CertificateFiles.open({ certFile: join(dir, 'missing.crt'), keyFile: join(dir, 'bad.key') }, log))
      .rejects.toThrow(`cannot read the TLS certificate ${join(dir, 'missing.crt')} (ENOENT)`);
  });

  it('publishes a rotation only once certificate and key match again', async () => {
    const crt = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    await copyFile(first.certPath, crt);
    await copyFile(first.keyPath, key);
    const files = await CertificateFiles.open({ certFile: crt, keyFile: key }, log);
    try {
      const seen: string[] = [];
      files.onChange((c) => seen.push(c.cert.toString()));
      // The key first: for a moment the pair does not match, and nothing is published.
      await copyFile(second.keyPath, `${key}.new`);
      await rename(`${key}.new`, key);
      await new Promise((r) => setTimeout(r, 500));
      expect(seen).toEqual([]);
      expect(files.current().cert.toString()).toBe(first.cert);
      await copyFile(second.certPath, `${crt}.new`);
      await rename(`${crt}.new`, crt);
      await waitUntil(async () => seen.length === 1, 5000, 'the new pair published');
      expect(seen).toEqual([second.cert]);
      expect(files.current().key.toString()).toBe(second.key);
    } finally {
      files.close();
    }
  });
});

describe('one response in flight', () => {
  it('waits for the previous write to drain, and reports a client that does not read', async () => {
    const callbacks: (() => void)[] = [];
    const drained: number[] = [];
    let stalled = '';
    const w = new ResponseWriter({
      write: (_bytes, done) => { callbacks.push(done); },
      onDrain: () => drained.push(1),
      onStalled: (m) => { stalled = m; },
      sendTimeoutMs: 50,
    });
    expect(w.ready()).toBe(true);
    w.write(new Uint8Array(10));
    expect(w.ready()).toBe(false);
    expect(w.buffered).toBe(10);
    expect(() => w.write(new Uint8Array(1))).toThrow('while a response is in flight');
    callbacks.shift()?.();
    expect(w.ready()).toBe(true);
    expect(drained).toEqual([1]);
    w.write(new Uint8Array(1234));
    await new Promise((r) => setTimeout(r, 100));
    expect(stalled).toBe('the client has not read a 1234-byte response for 0.05 s');
    w.close();
    expect(w.ready()).toBe(false);
  });
});
