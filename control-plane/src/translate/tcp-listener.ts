// A TCP listener → a Listener whose tcp_proxy sends every connection to one upstream's cluster.
import type { TcpListenerConfig } from '../model/schema.ts';
import { tcpAccessLog } from './access-log.ts';
import { duration } from './duration.ts';
import { scopedName, type GroupId } from './names.ts';
import { singleFilterListener } from './single-filter-listener.ts';
import type { JsonObject, XdsResource } from './types.ts';

const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

export function translateTcpListener(g: GroupId, l: TcpListenerConfig): XdsResource {
  const cluster = scopedName(g, l.upstream);
  const proxy: JsonObject = { '@type': TCP_PROXY, stat_prefix: l.name, cluster };
  if (l.idleTimeout !== undefined) proxy.idle_timeout = duration(l.idleTimeout);
  if (l.accessLog) proxy.access_log = tcpAccessLog(l);
  return singleFilterListener(g, l, () => ({ name: 'envoy.filters.network.tcp_proxy', typed_config: proxy }), () => ({ clusters: [cluster], routes: [] }));
}
