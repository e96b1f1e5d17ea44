// What a proven identity may receive. An identity belongs to one namespace and may only be served
// node groups of that namespace; a credential bound to a Pod may only use that Pod's name as its
// node.id; an ambassador config that lists serviceAccounts is served to those only.
import type { NodeInfo } from '../node.ts';
import type { AuthResult, Identity } from './identity.ts';

export type Verdict = { ok: true } | Extract<AuthResult, { ok: false }>;

const who = (i: Identity) => `${i.namespace}/${i.serviceAccount}`;

export function authorizeNode(identity: Identity, node: NodeInfo, namespace: string): Verdict {
  if (identity.method === 'insecure') return { ok: true };
  if (namespace !== identity.namespace) {
    return { ok: false, reason: 'namespace_mismatch', message: `${who(identity)} may only receive config of namespace "${identity.namespace}", but node "${node.id}" claims namespace "${namespace}"` };
  }
  if (identity.nodeId !== undefined && node.id !== identity.nodeId) {
    return { ok: false, reason: 'node_id_mismatch', message: `the credential of ${who(identity)} is bound to Pod "${identity.nodeId}", but the node claims id "${node.id}" (set node.id to the Pod name)` };
  }
  return { ok: true };
}

/** An ambassador config's `serviceAccounts` (undefined: every identity of its namespace). */
export function authorizeClients(identity: Identity, allowed: readonly string[] | undefined, group: string): Verdict {
  if (identity.method === 'insecure' || allowed === undefined || allowed.includes(identity.serviceAccount)) return { ok: true };
  return { ok: false, reason: 'not_allowed', message: `${who(identity)} is not among the serviceAccounts allowed by the config of ambassador ${group} (${allowed.join(', ')})` };
}
