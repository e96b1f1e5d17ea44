// One ambassador's config → every Envoy resource its sidecars need. Pure: no I/O, no clock.
import type { AmbassadorConfig, InjectConfig } from '../model/schema.ts';
import { translateUpstream } from './cluster.ts';
import { translateHttpListener } from './listener.ts';
import type { SecretObject } from '../sources/types.ts';
import type { GroupId } from './names.ts';
import { SecretStatus } from './secret-status.ts';
import { translateRedisListener } from './redis-listener.ts';
import { translateRoutes } from './route.ts';
import { translateTcpListener } from './tcp-listener.ts';
import type { XdsResource } from './types.ts';

export function translateAmbassador(g: GroupId, config: AmbassadorConfig, secrets: ReadonlyMap<string, SecretObject> = new Map()): XdsResource[] {
  const status = new SecretStatus(g.namespace, config, secrets);
  // The credentials each upstream is sent with, by the routes that can be served.
  const injects = new Map<string, InjectConfig[]>();
  config.listeners.forEach((l, li) => l.protocol === 'http' && l.routes.forEach((r, ri) => {
    if (!r.inject || status.inject(li, ri) !== undefined) return;
    for (const u of r.split ? r.split.map((s) => s.upstream) : [r.upstream ?? '']) injects.set(u, [...(injects.get(u) ?? []), r.inject]);
  }));
  // Redis keys are spread over an upstream's endpoints by consistent hashing.
  const redisUpstreams = new Set(config.listeners.flatMap((l) => (l.protocol === 'redis' ? [l.upstream, ...(l.routes ?? []).map((r) => r.upstream)] : [])));
  const out: XdsResource[] = [];
  for (const [name, u] of Object.entries(config.upstreams).sort(([a], [b]) => a.localeCompare(b))) {
    // An upstream whose TLS needs a missing Secret is left out; its routes answer 503.
    if (status.upstream(name) === undefined) out.push(...translateUpstream(g, name, u, secrets, injects.get(name) ?? [], redisUpstreams.has(name)));
  }
  config.listeners.forEach((l, li) => {
    if (l.protocol === 'http') out.push(translateHttpListener(g, l), translateRoutes(g, li, l, status));
    else if (l.protocol === 'tcp') out.push(translateTcpListener(g, l));
    else out.push(translateRedisListener(g, l));
  });
  // The same credential used towards several upstreams is one SDS secret.
  return [...new Map(out.map((r) => [`${r.type} ${r.name}`, r])).values()];
}
