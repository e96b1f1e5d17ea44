// Which Secrets a config uses, and whether each use can be served. A missing Secret or key is an
// error that names the ConfigMap path, but it only disables what uses it: the rest keeps working.
import type { SecretObject } from '../sources/types.ts';
import { formatPath } from './errors.ts';
import type { AmbassadorConfig } from './schema.ts';

export type SecretUse = 'ca' | 'client-cert' | 'credential';

export interface SecretUseSite {
  use: SecretUse;
  name: string;
  /** The data keys it needs. */
  keys: string[];
  /** YAML path of the reference, for errors. */
  path: (string | number)[];
}

export function secretUses(config: AmbassadorConfig): SecretUseSite[] {
  const uses: SecretUseSite[] = [];
  for (const [name, u] of Object.entries(config.upstreams)) {
    const ca = u.tls?.ca;
    if (ca && 'secret' in ca) uses.push({ use: 'ca', name: ca.secret.name, keys: [ca.secret.key], path: ['upstreams', name, 'tls', 'ca', 'secret'] });
    const cert = u.tls?.clientCert;
    if (cert) uses.push({ use: 'client-cert', name: cert.secret.name, keys: ['tls.crt', 'tls.key'], path: ['upstreams', name, 'tls', 'clientCert', 'secret'] });
  }
  config.listeners.forEach((l, li) => l.protocol === 'http' && l.routes.forEach((r, ri) => {
    if (r.inject) uses.push({ use: 'credential', name: r.inject.secret.name, keys: [r.inject.secret.key], path: ['listeners', li, 'routes', ri, 'inject', 'secret'] });
    const cs = r.oauth2?.clientSecret;
    if (cs) uses.push({ use: 'credential', name: cs.name, keys: [cs.key], path: ['listeners', li, 'routes', ri, 'oauth2', 'clientSecret'] });
  }));
  return uses;
}

/** Why a use of a Secret cannot be served, or undefined when it can. Never includes a value. */
export function secretProblem(namespace: string, site: SecretUseSite, secrets: ReadonlyMap<string, SecretObject>): string | undefined {
  const s = secrets.get(site.name);
  if (!s) return `Secret ${namespace}/${site.name} not found; create it in namespace "${namespace}", or fix the name at ${formatPath(site.path)}`;
  const missing = site.keys.filter((k) => s.data[k] === undefined);
  if (missing.length > 0) {
    const found = Object.keys(s.data);
    return `Secret ${namespace}/${site.name} has no key ${missing.map((k) => `"${k}"`).join(' or ')} (it has ${found.length ? found.map((k) => `"${k}"`).join(', ') : 'no keys'})${site.use === 'client-cert' ? '; a client certificate Secret needs tls.crt and tls.key (type kubernetes.io/tls)' : ''}`;
  }
  return undefined;
}
