// An upstream → a Cluster: EDS when every endpoint is an IP address (endpoints then change without
// touching the cluster), STRICT_DNS when any endpoint is a DNS name (Envoy resolves and re-resolves it).
import type { UpstreamConfig } from '../model/schema.ts';
import { isIpAddress } from '../model/schema.ts';
import { ADS_SOURCE } from './config-source.ts';
import { duration } from './duration.ts';
import { scopedName, type GroupId } from './names.ts';
import { CLUSTER, ENDPOINT } from '../xds/type-urls.ts';
import type { JsonObject, XdsResource } from './types.ts';

export function translateUpstream(g: GroupId, name: string, u: UpstreamConfig): XdsResource[] {
  const clusterName = scopedName(g, name);
  const assignment = loadAssignment(clusterName, u);
  const common: JsonObject = { name: clusterName, connect_timeout: duration(u.connectTimeout) };
  if (u.endpoints.every((e) => isIpAddress(e.host))) {
    return [
      { type: CLUSTER, name: clusterName, body: { ...common, type: 'EDS', eds_cluster_config: { eds_config: ADS_SOURCE } }, refs: { clusters: [], routes: [] }, edsName: clusterName },
      { type: ENDPOINT, name: clusterName, body: assignment, refs: { clusters: [], routes: [] } },
    ];
  }
  return [{
    type: CLUSTER,
    name: clusterName,
    body: { ...common, type: 'STRICT_DNS', dns_lookup_family: 'V4_PREFERRED', load_assignment: assignment },
    refs: { clusters: [], routes: [] },
  }];
}

function loadAssignment(clusterName: string, u: UpstreamConfig): JsonObject {
  return {
    cluster_name: clusterName,
    endpoints: [{
      lb_endpoints: u.endpoints.map((e) => ({ endpoint: { address: { socket_address: { address: e.host, port_value: e.port } } } })),
    }],
  };
}
