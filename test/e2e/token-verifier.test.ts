// The ServiceAccount token verifier against a real kube-apiserver (test/kube/), running as the
// deploy/ RBAC's ServiceAccount: Pod-bound tokens of the dedicated audience name their namespace,
// ServiceAccount and Pod; everything else is refused, garbage without costing an API call (counted
// in the API server's own request metrics); answers are cached only as long as the token lives.
import { createSign } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../control-plane/src/cli/kubeconfig.ts';
import { TokenReviewVerifier } from '../../control-plane/src/kubernetes/token-verifier.ts';
import type { AuthResult } from '../../control-plane/src/server/auth/identity.ts';
import { readFile } from 'node:fs/promises';
import { freePort } from '../helpers/ports.ts';
import { waitUntil } from '../helpers/scenario.ts';
import { startKubeApiServer, type KubeApiServer } from '../kube/apiserver.ts';
import { deployRbacKubeconfig } from '../kube/deploy-rbac.ts';
import { kubeJson, kubeRequest } from '../kube/rest.ts';

const AUDIENCE = 'xds-ambassador';
const quiet = pino({ level: 'silent' });
let kube: KubeApiServer;
let verifier: TokenReviewVerifier;
let controlPlaneKubeconfig: string;
let signingKey: string;
let podUid: string;

async function create(path: string, body: unknown): Promise<{ metadata: { uid: string } }> {
  return kubeJson(kube, { path, method: 'POST', token: kube.adminToken, body });
}

/** A token from the TokenRequest API, bound to Pod "p" unless `pod` is false. */
async function tokenRequest(o: { audiences: string[]; pod?: boolean; serviceAccount?: string }): Promise<string> {
  const spec = {
    audiences: o.audiences,
    expirationSeconds: 3600,
    ...(o.pod === false ? {} : { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'p', uid: podUid } }),
  };
  const r = await create(`/api/v1/namespaces/shop/serviceaccounts/${o.serviceAccount ?? 'a'}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec });
  return (r as unknown as { status: { token: string } }).status.token;
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** The token with its claims changed, signed again with the API server's own ServiceAccount key:
 * what TokenRequest would issue if it allowed lifetimes under 10 minutes. */
function resign(token: string, change: Record<string, unknown>): string {
  const [header] = token.split('.');
  const payload = Buffer.from(JSON.stringify({ ...claimsOf(token), ...change })).toString('base64url');
  const signature = createSign('RSA-SHA256').update(`${header}.${payload}`).sign(signingKey).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

/** TokenReviews the API server has answered so far (its own apiserver_request_total). */
async function tokenReviews(): Promise<number> {
  const r = await kubeRequest(kube, { path: '/metrics', token: kube.adminToken });
  let n = 0;
  for (const line of r.text.split('\n')) {
    if (line.startsWith('apiserver_request_total{') && line.includes('resource="tokenreviews"') && line.includes('verb="POST"')) n += Number(line.split(' ').pop());
  }
  return n;
}

/** Runs `fn`, then proves it cost exactly `expected` TokenReviews: one more review (of a fresh
 * token) is made afterwards and the count must land exactly on expected + 1. The API server counts a
 * request just after answering it, so the count is waited for, never read once. */
async function costs(expected: number, fn: () => Promise<void>): Promise<void> {
  const before = await tokenReviews();
  await fn();
  const marker = await tokenRequest({ audiences: [AUDIENCE], pod: false });
  expect((await verifier.verify(marker)).ok).toBe(true);
  await waitUntil(async () => (await tokenReviews()) >= before + expected + 1, 5000, 'the API server to count the reviews');
  expect(await tokenReviews()).toBe(before + expected + 1);
}

function refusal(r: AuthResult): { reason: string; message: string } {
  if (r.ok) throw new Error(`expected a refusal, got ${JSON.stringify(r.identity)}`);
  return { reason: r.reason, message: r.message };
}

beforeAll(async () => {
  kube = await startKubeApiServer();
  // The control plane's identity is exactly deploy/'s ServiceAccount with deploy/'s RBAC.
  controlPlaneKubeconfig = (await deployRbacKubeconfig(kube)).kubeconfig;
  verifier = new TokenReviewVerifier({ kubeConfig: loadKubeConfig(controlPlaneKubeconfig), audience: AUDIENCE, logger: quiet });
  signingKey = await readFile(kube.serviceAccountSigningKeyPath, 'utf8');
  await create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  for (const name of ['a', 'b']) await create('/api/v1/namespaces/shop/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } });
  // No kubelet runs it: the Pod object only has to exist for a token bound to it.
  const pod = await create('/api/v1/namespaces/shop/pods', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' },
    spec: { serviceAccountName: 'a', containers: [{ name: 'envoy', image: 'envoy.invalid/envoy:1' }] },
  });
  podUid = pod.metadata.uid;
}, 30 * 60_000);

afterAll(async () => {
  await kube?.stop();
});

describe('TokenReview verifier', () => {
  it('names the namespace, ServiceAccount and Pod of a Pod-bound token of its audience, and asks once', async () => {
    const token = await tokenRequest({ audiences: [AUDIENCE] });
    const exp = claimsOf(token).exp as number;
    await costs(1, async () => {
      const results = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token)));
      for (const r of results) {
        expect(r).toEqual({ ok: true, identity: { namespace: 'shop', serviceAccount: 'a', nodeId: 'p', method: 'token', expiresAt: new Date(exp * 1000) } });
      }
      expect((await verifier.verify(token)).ok).toBe(true); // cached
    });
  });

  it('names no node for a token bound to no Pod', async () => {
    const r = await verifier.verify(await tokenRequest({ audiences: [AUDIENCE], pod: false, serviceAccount: 'b' }));
    expect(r.ok && r.identity).toMatchObject({ namespace: 'shop', serviceAccount: 'b', method: 'token' });
    expect(r.ok && r.identity.nodeId).toBeUndefined();
  });

  it('refuses a token for another audience, and garbage, without an API call', async () => {
    const otherAudience = await tokenRequest({ audiences: ['https://kubernetes.default.svc'] });
    const jwt = (header: unknown, claims: unknown) => `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
    const future = Math.floor(Date.now() / 1000) + 3600;
    await costs(0, async () => {
      expect(refusal(await verifier.verify(otherAudience))).toEqual({
        reason: 'invalid_credentials',
        message: `the token is for audience "https://kubernetes.default.svc", not "${AUDIENCE}": mount a projected ServiceAccount token with audience "${AUDIENCE}"`,
      });
      expect(refusal(await verifier.verify(''))).toEqual({ reason: 'no_credentials', message: 'the bearer token is empty' });
      const garbage = [
        'hunter2',
        'a.b',
        'a.b.c',
        '!!.??.**',
        'x'.repeat(1_000_000),
        jwt({ alg: 'none' }, { aud: AUDIENCE, exp: future }),
        jwt({ alg: 'RS256' }, { aud: AUDIENCE }),
        jwt({ alg: 'RS256' }, { exp: future }),
        jwt({ alg: 'RS256' }, [AUDIENCE, future]),
      ];
      for (const token of garbage) {
        const r = refusal(await verifier.verify(token));
        expect(r.reason).toBe('invalid_credentials');
        expect(r.message).not.toContain(token.slice(0, 40)); // never echoed
      }
    });
  });

  it('refuses a token whose signature is not the API server\'s, asking once, then from the cache', async () => {
    const real = await tokenRequest({ audiences: [AUDIENCE] });
    const [header, payload] = real.split('.');
    const tampered = `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`;
    await costs(1, async () => {
      for (let i = 0; i < 5; i++) {
        const r = refusal(await verifier.verify(tampered));
        expect(r.reason).toBe('invalid_credentials');
        expect(r.message).toMatch(/^the API server does not accept the token/);
      }
    });
  });

  it('refuses an expired token without an API call', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = resign(await tokenRequest({ audiences: [AUDIENCE] }), { iat: now - 7200, nbf: now - 7200, exp: now - 3600 });
    await costs(0, async () => {
      expect(refusal(await verifier.verify(expired))).toEqual({ reason: 'invalid_credentials', message: `the token expired at ${new Date((now - 3600) * 1000).toISOString()}` });
    });
  });

  it('accepts a token that expires in 3 s, and refuses it from the moment it has expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + 3;
    const short = resign(await tokenRequest({ audiences: [AUDIENCE] }), { iat: now - 1, nbf: now - 1, exp });
    const first = await verifier.verify(short);
    expect(first).toEqual({ ok: true, identity: { namespace: 'shop', serviceAccount: 'a', nodeId: 'p', method: 'token', expiresAt: new Date(exp * 1000) } });
    expect((await verifier.verify(short)).ok).toBe(true); // from the cache
    await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 10));
    expect(refusal(await verifier.verify(short))).toEqual({ reason: 'invalid_credentials', message: `the token expired at ${new Date(exp * 1000).toISOString()}` });
  });

  it('says authenticator_unavailable, not invalid, when it may not or cannot ask the API server', async () => {
    const token = await tokenRequest({ audiences: [AUDIENCE] });
    // Without the deploy/ grant (ServiceAccount "a" may not create TokenReviews): 403.
    const unprivileged = new TokenReviewVerifier({ kubeConfig: loadKubeConfig(await kube.writeKubeconfig(await kube.tokenFor('a', 'shop'))), audience: AUDIENCE, logger: quiet });
    expect(refusal(await unprivileged.verify(token))).toEqual({
      reason: 'authenticator_unavailable',
      message: 'TokenReview failed: HTTP 403: grant the control plane\'s ServiceAccount "create" on tokenreviews.authentication.k8s.io (deploy/control-plane/rbac.yaml)',
    });
    // Nothing listening where the API server should be.
    const kc = loadKubeConfig(controlPlaneKubeconfig);
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('no cluster');
    kc.loadFromOptions({
      clusters: [{ ...cluster, server: `https://127.0.0.1:${await freePort()}` }],
      users: kc.getUsers(), contexts: kc.getContexts(), currentContext: kc.getCurrentContext(),
    });
    const unreachable = new TokenReviewVerifier({ kubeConfig: kc, audience: AUDIENCE, logger: quiet });
    const r = refusal(await unreachable.verify(token));
    expect(r.reason).toBe('authenticator_unavailable');
    expect(r.message).toMatch(/^TokenReview failed: .*ECONNREFUSED/);
    // Not cached as a refusal: the same token is accepted by a verifier that can ask.
    expect((await verifier.verify(token)).ok).toBe(true);
  });
});
