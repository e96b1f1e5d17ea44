// One ambassador's config → every Envoy resource its sidecars need. Pure: no I/O, no clock.
import type { AmbassadorConfig } from '../model/schema.ts';
import { translateUpstream } from './cluster.ts';
import { credentialSecrets, credentialVariant, type CredentialVariant } from './credential.ts';
import { translateHttpListener } from './listener.ts';
import type { SecretObject } from '../sources/types.ts';
import type { GroupId } from './names.ts';
import { SecretStatus } from './secret-status.ts';
import { tlsSecrets } from './secrets.ts';
import { translateRedisListener } from './redis-listener.ts';
import { translateRoutes } from './route.ts';
import type { GrpcRouteContext } from './grpc-route.ts';
import type { DescriptorSets } from '../model/transcode-descriptors.ts';
import { translateTcpListener } from './tcp-listener.ts';
import { tracingCluster } from './tracing.ts';
import type { XdsResource } from './types.ts';

export function translateAmbassador(g: GroupId, config: AmbassadorConfig, secrets: ReadonlyMap<string, SecretObject> = new Map(), descriptorSets: DescriptorSets = new Map()): XdsResource[] {
  const status = new SecretStatus(g.namespace, config, secrets);
  // The credential variants of each upstream, and their SDS secrets, by the routes that can be served.
  const variants = new Map<string, Map<string, CredentialVariant>>();
  const credentialSds: XdsResource[] = [];
  config.listeners.forEach((l, li) => l.protocol === 'http' && l.routes.forEach((r, ri) => {
    if (status.credential(li, ri) !== undefined) return;
    for (const u of r.split ? r.split.map((s) => s.upstream) : [r.upstream ?? '']) {
      const v = credentialVariant(g, u, config.upstreams, r);
      if (v) variants.set(u, (variants.get(u) ?? new Map<string, CredentialVariant>()).set(v.name, v));
    }
    credentialSds.push(...credentialSecrets(g, r, secrets));
  }));
  // Redis keys are spread over an upstream's endpoints by consistent hashing.
  const redisUpstreams = new Set(config.listeners.flatMap((l) => (l.protocol === 'redis' ? [l.upstream, ...(l.routes ?? []).map((r) => r.upstream)] : [])));
  const out: XdsResource[] = [];
  for (const [name, u] of Object.entries(config.upstreams).sort(([a], [b]) => a.localeCompare(b))) {
    // An upstream whose TLS needs a missing Secret is left out; its routes answer 503.
    if (status.upstream(name) === undefined) out.push(...translateUpstream(g, name, u, [...(variants.get(name)?.values() ?? [])], redisUpstreams.has(name)));
  }
  if (config.tracing && config.listeners.some((l) => l.protocol === 'http')) out.push(tracingCluster(g, config.tracing));
  // Each SDS secret once, however many upstreams share a CA, a client certificate or a credential.
  const sds = new Map<string, XdsResource>();
  for (const [name, u] of Object.entries(config.upstreams)) {
    if (u.tls && status.upstream(name) === undefined) for (const s of tlsSecrets(g, u.tls, secrets)) sds.set(s.name, s);
  }
  for (const s of credentialSds) sds.set(s.name, s);
  const grpc: GrpcRouteContext = { protocolOf: (u) => config.upstreams[u]?.protocol ?? 'http1', descriptorSets };
  config.listeners.forEach((l, li) => {
    if (l.protocol === 'http') out.push(translateHttpListener(g, l, config.tracing), translateRoutes(g, li, l, status, grpc, config.tracing !== undefined));
    else if (l.protocol === 'tcp') out.push(translateTcpListener(g, l));
    else out.push(translateRedisListener(g, l));
  });
  return [...out, ...[...sds.values()].sort((a, b) => (a.name < b.name ? -1 : 1))];
}
