// HTTP routes of one listener → a RouteConfiguration with one catch-all virtual host.
import type { HeaderMatchConfig, HttpListenerConfig, RetryConfig, RouteConfig } from '../model/schema.ts';
import { credentialClusterName } from './credential.ts';
import { duration } from './duration.ts';
import { withGrpc, type GrpcRouteContext } from './grpc-route.ts';
import { routeFeatures } from './route-features.ts';
import type { SecretStatus } from './secret-status.ts';
import { scopedName, type GroupId } from './names.ts';
import { ROUTE } from '../xds/type-urls.ts';
import type { Json, JsonObject, XdsResource } from './types.ts';

export function translateRoutes(g: GroupId, index: number, l: HttpListenerConfig, status: SecretStatus, grpc: GrpcRouteContext, tracing = false): XdsResource {
  const clusters = new Set<string>();
  const routes = l.routes.map((r, ri): JsonObject => {
    const targets = r.split ? r.split.map((s) => s.upstream) : [r.upstream ?? ''];
    const missing = [status.credential(index, ri), ...targets.map((t) => status.upstream(t))].find((p) => p !== undefined);
    // A route that would need a missing Secret answers 503 and says why; the others are unaffected.
    if (missing !== undefined) return { ...routeFeatures(l, r, ri, tracing, false), match: routeMatch(r), direct_response: { status: 503, body: { inline_string: `xds-ambassador: this route is unavailable: ${missing}\n` } } };
    // A route that adds a credential sends to the upstreams' variants that add it.
    const cluster = (upstream: string) => credentialClusterName(g, upstream, r) ?? scopedName(g, upstream);
    for (const name of targets) clusters.add(cluster(name));
    return withGrpc({ ...routeFeatures(l, r, ri, tracing, true), match: routeMatch(r), route: routeAction(r, cluster) }, r, targets, grpc);
  });
  return {
    type: ROUTE,
    name: scopedName(g, l.name),
    body: { name: scopedName(g, l.name), virtual_hosts: [{ name: l.name, domains: ['*'], routes }] },
    refs: { clusters: [...clusters].sort(), routes: [], secrets: [] },
  };
}

function routeMatch(r: RouteConfig): JsonObject {
  const m: JsonObject = r.match.path !== undefined ? { path: r.match.path } : { prefix: r.match.prefix ?? '/' };
  const headers = Object.entries(r.match.headers ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (headers.length > 0) m.headers = headers.map(([name, v]) => headerMatcher(name, v));
  return m;
}

function headerMatcher(name: string, v: HeaderMatchConfig): JsonObject {
  if (typeof v === 'string') return { name, string_match: { exact: v } };
  if ('exact' in v) return { name, string_match: { exact: v.exact } };
  if ('prefix' in v) return { name, string_match: { prefix: v.prefix } };
  return v.present ? { name, present_match: true } : { name, present_match: true, invert_match: true };
}

function routeAction(r: RouteConfig, cluster: (upstream: string) => string): JsonObject {
  const a: JsonObject = r.split
    ? { weighted_clusters: { clusters: r.split.map((s) => ({ name: cluster(s.upstream), weight: { value: s.weight } })) } }
    : { cluster: cluster(r.upstream ?? '') };
  if (r.timeout !== undefined) a.timeout = duration(r.timeout);
  if (r.retries) a.retry_policy = retryPolicy(r.retries);
  return a;
}

const PREVIOUS_HOSTS = 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate';

function retryPolicy(r: RetryConfig): JsonObject {
  const on = new Set<string>(r.on);
  // Status codes only take effect with this condition; asking for them implies it.
  if (r.statusCodes) on.add('retriable-status-codes');
  const p: JsonObject = {
    retry_on: [...on].join(','),
    num_retries: { value: r.attempts },
    // A retry goes to another endpoint than the one that just failed, when there is one.
    retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': PREVIOUS_HOSTS } }],
    host_selection_retry_max_attempts: 3,
  };
  if (r.perTryTimeout !== undefined) p.per_try_timeout = duration(r.perTryTimeout);
  if (r.backoff) {
    const b: JsonObject = { base_interval: duration(r.backoff.base) };
    if (r.backoff.max !== undefined) b.max_interval = duration(r.backoff.max);
    p.retry_back_off = b;
  }
  if (r.statusCodes) p.retriable_status_codes = r.statusCodes as Json[];
  return p;
}
