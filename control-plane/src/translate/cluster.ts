// An upstream → a Cluster: EDS when every endpoint is an IP address (endpoints then change without
// touching the cluster), STRICT_DNS when any endpoint is a DNS name (Envoy resolves and re-resolves
// it). With `tls`, a TLS transport socket and the SDS secrets it uses.
import type { UpstreamConfig } from '../model/schema.ts';
import { isIpAddress } from '../model/schema.ts';
import type { SecretObject } from '../sources/types.ts';
import { ADS_SOURCE } from './config-source.ts';
import { duration } from './duration.ts';
import { scopedName, type GroupId } from './names.ts';
import { tlsSecrets } from './secrets.ts';
import { upstreamTransportSocket } from './tls.ts';
import { CLUSTER, ENDPOINT } from '../xds/type-urls.ts';
import type { JsonObject, XdsResource } from './types.ts';

const NO_REFS = { clusters: [], routes: [], secrets: [] };

export function translateUpstream(g: GroupId, name: string, u: UpstreamConfig, secrets: ReadonlyMap<string, SecretObject>): XdsResource[] {
  const clusterName = scopedName(g, name);
  const assignment = loadAssignment(clusterName, u);
  const body: JsonObject = { name: clusterName, connect_timeout: duration(u.connectTimeout) };
  const out: XdsResource[] = [];
  const refs = { clusters: [], routes: [], secrets: [] as string[] };
  if (u.tls) {
    const t = upstreamTransportSocket(g, u.tls, u.endpoints);
    body.transport_socket = t.socket;
    refs.secrets = t.secrets;
    out.push(...tlsSecrets(g, u.tls, secrets));
  }
  if (u.endpoints.every((e) => isIpAddress(e.host))) {
    out.push(
      { type: CLUSTER, name: clusterName, body: { ...body, type: 'EDS', eds_cluster_config: { eds_config: ADS_SOURCE } }, refs, edsName: clusterName },
      { type: ENDPOINT, name: clusterName, body: assignment, refs: NO_REFS },
    );
  } else {
    out.push({ type: CLUSTER, name: clusterName, body: { ...body, type: 'STRICT_DNS', dns_lookup_family: 'V4_PREFERRED', load_assignment: assignment }, refs });
  }
  return out;
}

function loadAssignment(clusterName: string, u: UpstreamConfig): JsonObject {
  return {
    cluster_name: clusterName,
    endpoints: [{
      lb_endpoints: u.endpoints.map((e) => ({ endpoint: { address: { socket_address: { address: e.host, port_value: e.port } } } })),
    }],
  };
}
