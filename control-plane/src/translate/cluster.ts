// An upstream → a Cluster: EDS when every endpoint is an IP address (endpoints then change without
// touching the cluster), STRICT_DNS when any endpoint is a DNS name (Envoy resolves and re-resolves
// it). With `tls`, a TLS transport socket referring to its SDS secrets; `protocol` sets its HTTP
// version (upstream-protocol.ts). Routes that add a credential get a variant of the cluster per
// credential (see credential.ts).
import type { UpstreamConfig } from '../model/schema.ts';
import { isIpAddress } from '../model/schema.ts';
import { ADS_SOURCE } from './config-source.ts';
import type { CredentialVariant } from './credential.ts';
import { duration } from './duration.ts';
import { scopedName, type GroupId } from './names.ts';
import { resilience } from './resilience.ts';
import { upstreamTransportSocket } from './tls.ts';
import { withUpstreamProtocol } from './upstream-protocol.ts';
import { CLUSTER, ENDPOINT } from '../xds/type-urls.ts';
import type { JsonObject, XdsResource } from './types.ts';

const NO_REFS = { clusters: [], routes: [], secrets: [] };

export function translateUpstream(g: GroupId, name: string, u: UpstreamConfig, variants: readonly CredentialVariant[], consistentHashing: boolean): XdsResource[] {
  const base = scopedName(g, name);
  const common: JsonObject = { connect_timeout: duration(u.connectTimeout), ...resilience(u) };
  if (consistentHashing) common.lb_policy = 'MAGLEV';
  const tlsRefs: string[] = [];
  const out: XdsResource[] = [];
  if (u.tls) {
    const t = upstreamTransportSocket(g, u.tls, u.endpoints);
    common.transport_socket = t.socket;
    tlsRefs.push(...t.secrets);
  }
  const eds = u.endpoints.every((e) => isIpAddress(e.host));
  const cluster = (clusterName: string, extra: JsonObject, secretRefs: string[], clusterRefs: string[] = []): XdsResource => eds
    ? {
      type: CLUSTER, name: clusterName, edsName: base, refs: { clusters: clusterRefs, routes: [], secrets: secretRefs },
      body: { name: clusterName, ...common, ...withUpstreamProtocol(extra, u.protocol), type: 'EDS', eds_cluster_config: { eds_config: ADS_SOURCE, ...(clusterName === base ? {} : { service_name: base }) } },
    }
    : {
      type: CLUSTER, name: clusterName, refs: { clusters: clusterRefs, routes: [], secrets: secretRefs },
      body: { name: clusterName, ...common, ...withUpstreamProtocol(extra, u.protocol), type: 'STRICT_DNS', dns_lookup_family: 'V4_PREFERRED', load_assignment: loadAssignment(clusterName, u) },
    };

  out.push(cluster(base, {}, tlsRefs));
  if (eds) out.push({ type: ENDPOINT, name: base, body: loadAssignment(base, u), refs: NO_REFS });
  for (const v of [...variants].sort((a, b) => a.name.localeCompare(b.name))) {
    out.push(cluster(v.name, { typed_extension_protocol_options: v.protocolOptions }, [...tlsRefs, ...v.secrets], v.clusters));
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
