// Who is on the other end of an xDS stream, as proven by its credentials (never by what its
// DiscoveryRequest claims). The stream state machine only ever sees an identity made here.

export interface Identity {
  /** The namespace the client belongs to: it may only receive that namespace's config. */
  namespace: string;
  /** The workload within the namespace (in Kubernetes: the ServiceAccount); ambassador configs
   * may restrict themselves to some of them. */
  serviceAccount: string;
  /** The only node.id this client may use (in Kubernetes: the Pod its token is bound to), when the
   * credential names one. */
  nodeId?: string;
  /** How it was proven, for logs and status. */
  method: 'token' | 'certificate' | 'insecure';
  /** When the credential stops being valid, when known. */
  expiresAt?: Date;
}

/** Why a client was refused: a small fixed set, so that it can be a metric label. */
export type RefusalReason =
  | 'no_credentials'
  | 'invalid_credentials'
  | 'authenticator_unavailable'
  | 'namespace_mismatch'
  | 'node_id_mismatch'
  | 'not_allowed'
  | 'bad_node';

export const REFUSAL_REASONS: readonly RefusalReason[] = [
  'no_credentials', 'invalid_credentials', 'authenticator_unavailable', 'namespace_mismatch', 'node_id_mismatch', 'not_allowed', 'bad_node',
];

export type AuthResult =
  | { ok: true; identity: Identity }
  | { ok: false; reason: RefusalReason; message: string };

/** Checks a bearer token (e.g. a Kubernetes ServiceAccount token) and says whose it is. The
 * implementation caches as it sees fit; a refusal's message says why without echoing the token. */
export interface BearerTokenVerifier {
  verify(token: string): Promise<AuthResult>;
}
