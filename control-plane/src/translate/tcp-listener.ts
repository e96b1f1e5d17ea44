// A TCP listener → a Listener whose tcp_proxy sends every connection to one upstream's cluster.
import type { TcpListenerConfig } from '../model/schema.ts';
import { duration } from './duration.ts';
import { scopedName, type GroupId } from './names.ts';
import { LISTENER } from '../xds/type-urls.ts';
import type { JsonObject, XdsResource } from './types.ts';

const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

export function translateTcpListener(g: GroupId, l: TcpListenerConfig): XdsResource {
  const name = scopedName(g, l.name);
  const cluster = scopedName(g, l.upstream);
  const proxy: JsonObject = { '@type': TCP_PROXY, stat_prefix: l.name, cluster };
  if (l.idleTimeout !== undefined) proxy.idle_timeout = duration(l.idleTimeout);
  return {
    type: LISTENER,
    name,
    body: {
      name,
      address: { socket_address: { address: l.address, port_value: l.port } },
      filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: proxy }] }],
    },
    refs: { clusters: [cluster], routes: [], secrets: [] },
  };
}
