// A Redis listener → a Listener whose redis_proxy routes commands by key prefix to upstream clusters.
// Within a cluster, keys are spread over the endpoints by consistent hashing (the cluster uses
// Maglev), with {hash tags}: keys that share a tag land on the same server.
import type { RedisListenerConfig } from '../model/schema.ts';
import { duration } from './duration.ts';
import { scopedName, type GroupId } from './names.ts';
import { singleFilterListener } from './single-filter-listener.ts';
import type { XdsResource } from './types.ts';

const REDIS_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy';

export function translateRedisListener(g: GroupId, l: RedisListenerConfig): XdsResource {
  const catchAll = scopedName(g, l.upstream);
  const routes = (l.routes ?? []).map((r) => ({ prefix: r.prefix, cluster: scopedName(g, r.upstream) }));
  return singleFilterListener(g, l, () => ({
    name: 'envoy.filters.network.redis_proxy',
    typed_config: {
      '@type': REDIS_PROXY,
      stat_prefix: l.name,
      settings: { op_timeout: duration(l.opTimeout), enable_hashtagging: true },
      prefix_routes: { ...(routes.length ? { routes } : {}), catch_all_route: { cluster: catchAll } },
    },
  }), () => ({ clusters: [...new Set([catchAll, ...routes.map((r) => r.cluster)])].sort(), routes: [] }));
}
