// Who may call CSDS and the admin API: the operator check over each way a caller can present
// itself (client certificate, bearer token, --insecure's loopback rule).
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { authenticator } from '../../control-plane/src/server/auth/authenticator.ts';
import type { BearerTokenVerifier } from '../../control-plane/src/server/auth/identity.ts';
import { operatorCheck, operatorIdentityProblem, type OperatorCall } from '../../control-plane/src/server/auth/operator.ts';

function call(o: { peer?: string; authorization?: string; spiffe?: string }): OperatorCall {
  const metadata = new grpc.Metadata();
  if (o.authorization) metadata.set('authorization', o.authorization);
  const cert = o.spiffe ? { subjectaltname: `URI:${o.spiffe}`, valid_to: 'Jan  1 00:00:00 2100 GMT' } as PeerCertificate : undefined;
  return { metadata, getPeer: () => o.peer ?? '10.1.2.3:40000', getAuthContext: () => (cert ? { sslPeerCertificate: cert } : {}) };
}

const OPERATORS = ['xds-system/operator', 'ops/oncall'];

describe('operator check', () => {
  it('with client certificates: an operator identity passes; an Envoy identity, or none, does not', async () => {
    const check = operatorCheck(authenticator({ kind: 'certificate', trustDomain: 'cluster.local' }), false, OPERATORS);
    expect(await check(call({ spiffe: 'spiffe://cluster.local/ns/xds-system/sa/operator' }))).toEqual({ ok: true, who: 'xds-system/operator (certificate)' });
    expect(await check(call({ spiffe: 'spiffe://cluster.local/ns/ops/sa/oncall' }))).toMatchObject({ ok: true });
    expect(await check(call({ spiffe: 'spiffe://cluster.local/ns/shop/sa/orders' }))).toEqual({
      ok: false, code: grpc.status.PERMISSION_DENIED,
      details: 'shop/orders is not an operator: CSDS and the admin API answer the identities of serve --operator only (xds-system/operator, ops/oncall)',
    });
    // Another trust domain's "operator" is not ours.
    expect(await check(call({ spiffe: 'spiffe://evil.example/ns/xds-system/sa/operator' }))).toMatchObject({ ok: false, code: grpc.status.UNAUTHENTICATED });
    expect(await check(call({}))).toMatchObject({ ok: false, code: grpc.status.UNAUTHENTICATED, details: 'no client certificate was presented' });
    // A loopback peer proves nothing when there are identities.
    expect(await check(call({ peer: '127.0.0.1:5000' }))).toMatchObject({ ok: false, code: grpc.status.UNAUTHENTICATED });
  });

  it('with bearer tokens: whose token it is decides; a verifier failure is UNAVAILABLE', async () => {
    const verifier: BearerTokenVerifier = {
      async verify(token) {
        if (token === 'operator-token') return { ok: true, identity: { namespace: 'xds-system', serviceAccount: 'operator', method: 'token' } };
        if (token === 'envoy-token') return { ok: true, identity: { namespace: 'shop', serviceAccount: 'orders', nodeId: 'orders-1', method: 'token' } };
        if (token === 'down') throw new Error('TokenReview unreachable');
        return { ok: false, reason: 'invalid_credentials', message: 'the token is not valid' };
      },
    };
    const check = operatorCheck(authenticator({ kind: 'token', verifier }), false, OPERATORS);
    expect(await check(call({ authorization: 'Bearer operator-token' }))).toEqual({ ok: true, who: 'xds-system/operator (token)' });
    expect(await check(call({ authorization: 'Bearer envoy-token' }))).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED });
    expect(await check(call({ authorization: 'Bearer forged' }))).toMatchObject({ ok: false, code: grpc.status.UNAUTHENTICATED, details: 'the token is not valid' });
    expect(await check(call({}))).toMatchObject({ ok: false, code: grpc.status.UNAUTHENTICATED });
    expect(await check(call({ authorization: 'Bearer down' }))).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE, details: 'authentication failed: TokenReview unreachable' });
  });

  it('with --insecure: loopback callers only, whatever they claim', async () => {
    const check = operatorCheck(authenticator({ kind: 'insecure' }), true, []);
    for (const peer of ['127.0.0.1:5000', '::1:5000', '::ffff:127.0.0.1:5000', '127.8.9.10:1']) expect(await check(call({ peer }))).toMatchObject({ ok: true });
    for (const peer of ['10.1.2.3:5000', '::ffff:10.0.0.1:5000', '2001:db8::1:5000', 'unknown']) {
      expect(await check(call({ peer, spiffe: 'spiffe://cluster.local/ns/xds-system/sa/operator' }))).toEqual({
        ok: false, code: grpc.status.PERMISSION_DENIED, details: 'with --insecure, CSDS and the admin API answer callers on this machine (loopback) only',
      });
    }
  });

  it('--operator takes NAMESPACE/SERVICE_ACCOUNT', () => {
    expect(operatorIdentityProblem('xds-system/operator')).toBeUndefined();
    for (const bad of ['operator', 'a/b/c', 'Xds/operator', '/operator', 'ns/']) expect(operatorIdentityProblem(bad)).toContain('expected NAMESPACE/SERVICE_ACCOUNT');
  });
});
