// Turns a connection's credentials into an Identity before any stream state exists. One mode per
// server: client certificates (mutual TLS), bearer tokens (e.g. Kubernetes ServiceAccount tokens
// checked by a BearerTokenVerifier), or none (--insecure: the node's own claims are believed).
import type { PeerCertificate } from 'node:tls';
import { certificateIdentity } from './certificate-identity.ts';
import type { AuthResult, BearerTokenVerifier } from './identity.ts';

export interface ClientCredentials {
  /** The `authorization` metadata of the call, if any. */
  authorization?: string;
  /** The verified client certificate of the connection, if any. */
  peerCertificate?: PeerCertificate;
}

export type AuthMode =
  | { kind: 'certificate'; trustDomain: string }
  | { kind: 'token'; verifier: BearerTokenVerifier }
  | { kind: 'insecure' };

export type Authenticate = (c: ClientCredentials) => Promise<AuthResult>;

/** The longest bearer token read; a Kubernetes token is about 1 kB. */
const MAX_TOKEN_BYTES = 16 * 1024;

export function authenticator(mode: AuthMode): Authenticate {
  switch (mode.kind) {
    case 'insecure':
      return async () => ({ ok: true, identity: { namespace: '', serviceAccount: '', method: 'insecure' } });
    case 'certificate':
      return async (c) => certificateIdentity(c.peerCertificate, mode.trustDomain);
    case 'token':
      return async (c) => {
        const m = /^Bearer ([^\s]+)$/i.exec(c.authorization ?? '');
        if (!m?.[1]) {
          return { ok: false, reason: 'no_credentials', message: c.authorization ? 'the authorization metadata is not "Bearer TOKEN"' : 'no bearer token (authorization metadata) was presented' };
        }
        if (m[1].length > MAX_TOKEN_BYTES) return { ok: false, reason: 'invalid_credentials', message: 'the bearer token is too long' };
        return mode.verifier.verify(m[1]);
      };
  }
}
