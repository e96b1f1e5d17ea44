// The admin API's ListAmbassadors: every group the cache serves or holds, and every group a
// connected Envoy belongs to, with versions, errors, hold and the Envoys (from the client status
// registry). Pure: the control plane hands in what it knows.
import type { GroupStatus, HeldGroup } from '../cache/snapshot-cache.ts';
import type { ClientView } from '../server/status/client-status.ts';
import { baseGroupKey } from '../translate/names.ts';

export interface AmbassadorInputs {
  groups: readonly GroupStatus[];
  held: readonly HeldGroup[];
  /** Group key → the ConfigMap ("namespace/name") that configures (or, invalid, claims) it. */
  configMaps: ReadonlyMap<string, string>;
  /** ConfigMap → its current errors. */
  errors: ReadonlyMap<string, readonly string[]>;
  clients: readonly ClientView[];
}

export interface AmbassadorEntry {
  group: string;
  namespace: string;
  ambassador: string;
  environment: string;
  config_map: string;
  latest_version: string;
  served_version: string;
  last_good_version: string;
  rejected?: { node_id: string; type_url: string; message: string; snapshot_version: string };
  errors: string[];
  held?: { reason: string; node_ids: string[] };
  envoys: EnvoyEntry[];
}

export interface EnvoyEntry {
  node_id: string;
  client: string;
  user_agent: string;
  connected_at: Date;
  types: { type_url: string; sent_version: string; acked_version: string; rejected_version: string; rejected_message: string }[];
  requested_group: string;
}

export function listAmbassadors(i: AmbassadorInputs): AmbassadorEntry[] {
  const entries = new Map<string, AmbassadorEntry>();
  const entry = (group: string): AmbassadorEntry => {
    let e = entries.get(group);
    if (!e) {
      const [namespace = '', rest = ''] = group.split('/');
      const [ambassador = '', environment = ''] = rest.split('@');
      const configMap = i.configMaps.get(group) ?? '';
      e = {
        group, namespace, ambassador, environment, config_map: configMap,
        latest_version: '', served_version: '', last_good_version: '',
        errors: [...(i.errors.get(configMap) ?? [])], envoys: [],
      };
      entries.set(group, e);
    }
    return e;
  };
  for (const g of i.groups) {
    const e = entry(g.group);
    e.latest_version = g.latest;
    e.served_version = g.served;
    e.last_good_version = g.lastGood ?? '';
    if (g.rejected) e.rejected = { node_id: g.rejected.nodeId, type_url: g.rejected.type, message: g.rejected.message, snapshot_version: g.rejected.snapshotVersion };
  }
  for (const h of i.held) entry(h.group).held = { reason: h.reason, node_ids: [...h.nodes] };
  for (const c of i.clients) {
    // An environment without a config of its own is served (and held) as its ambassador.
    const group = entries.has(c.group) ? c.group : entries.has(baseGroupKey(c.group)) ? baseGroupKey(c.group) : c.group;
    entry(group).envoys.push({
      node_id: c.node.id,
      client: c.client,
      user_agent: c.node.userAgent,
      connected_at: c.connectedAt,
      types: c.types.map((t) => ({
        type_url: t.typeUrl,
        sent_version: t.sent,
        acked_version: t.acked ?? '',
        rejected_version: t.rejected?.version ?? '',
        rejected_message: t.rejected?.message ?? '',
      })),
      requested_group: group === c.group ? '' : c.group,
    });
  }
  return [...entries.values()].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
}
