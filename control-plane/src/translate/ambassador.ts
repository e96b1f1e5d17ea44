// One ambassador's config → every Envoy resource its sidecars need. Pure: no I/O, no clock.
import type { AmbassadorConfig } from '../model/schema.ts';
import { translateUpstream } from './cluster.ts';
import { translateHttpListener } from './listener.ts';
import type { SecretObject } from '../sources/types.ts';
import type { GroupId } from './names.ts';
import { SecretStatus } from './secret-status.ts';
import { credentialSecret } from './secrets.ts';
import { translateRoutes } from './route.ts';
import type { XdsResource } from './types.ts';

export function translateAmbassador(g: GroupId, config: AmbassadorConfig, secrets: ReadonlyMap<string, SecretObject> = new Map()): XdsResource[] {
  const status = new SecretStatus(g.namespace, config, secrets);
  const out: XdsResource[] = [];
  for (const [name, u] of Object.entries(config.upstreams).sort(([a], [b]) => a.localeCompare(b))) {
    // An upstream whose TLS needs a missing Secret is left out; its routes answer 503.
    if (status.upstream(name) === undefined) out.push(...translateUpstream(g, name, u, secrets));
  }
  const credentials = new Map<string, XdsResource>();
  config.listeners.forEach((l, li) => {
    out.push(translateHttpListener(g, li, l, status), translateRoutes(g, li, l, status));
    l.routes.forEach((r, ri) => {
      if (!r.inject || status.inject(li, ri) !== undefined) return;
      const c = credentialSecret(g, r.inject, secrets);
      if (c) credentials.set(c.name, c);
    });
  });
  return [...out, ...credentials.values()];
}
