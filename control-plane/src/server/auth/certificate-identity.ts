// The identity in a client certificate: a SPIFFE-style URI SAN
//   spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT
// (the form Istio and SPIRE use). The TLS layer has already verified the chain against the
// configured client CA; this only reads who the certificate names.
import type { PeerCertificate } from 'node:tls';
import type { AuthResult } from './identity.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SA_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function certificateIdentity(cert: PeerCertificate | undefined, trustDomain: string): AuthResult {
  if (!cert || Object.keys(cert).length === 0) {
    return { ok: false, reason: 'no_credentials', message: 'no client certificate was presented' };
  }
  const uris = (cert.subjectaltname ?? '').split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
  const spiffe = uris.filter((u) => u.startsWith('spiffe://'));
  if (spiffe.length !== 1) {
    return {
      ok: false, reason: 'invalid_credentials',
      message: `the client certificate must carry exactly one URI SAN spiffe://${trustDomain}/ns/NAMESPACE/sa/SERVICE_ACCOUNT, found ${spiffe.length === 0 ? 'none' : spiffe.length}`,
    };
  }
  const uri = spiffe[0] ?? '';
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  if (!m) return { ok: false, reason: 'invalid_credentials', message: `the client certificate's SAN ${uri} is not of the form spiffe://${trustDomain}/ns/NAMESPACE/sa/SERVICE_ACCOUNT` };
  const [, domain = '', namespace = '', serviceAccount = ''] = m;
  if (domain !== trustDomain) {
    return { ok: false, reason: 'invalid_credentials', message: `the client certificate belongs to trust domain "${domain}", not "${trustDomain}"` };
  }
  if (!DNS_LABEL.test(namespace) || !SA_NAME.test(serviceAccount)) {
    return { ok: false, reason: 'invalid_credentials', message: `the client certificate's SAN ${uri} does not name a valid namespace and service account` };
  }
  return { ok: true, identity: { namespace, serviceAccount, method: 'certificate', expiresAt: new Date(cert.valid_to) } };
}
