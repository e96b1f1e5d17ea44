// The shape every listener of ours has: an address and one filter chain with one network filter.
import type { ListenerConfig } from '../model/schema.ts';
import { scopedName, type GroupId } from './names.ts';
import { LISTENER } from '../xds/type-urls.ts';
import type { JsonObject, XdsResource } from './types.ts';

export function singleFilterListener(
  g: GroupId,
  l: ListenerConfig,
  filter: (name: string) => { name: string; typed_config: JsonObject },
  refs: (name: string) => { clusters: string[]; routes: string[] },
): XdsResource {
  const name = scopedName(g, l.name);
  return {
    type: LISTENER,
    name,
    body: {
      name,
      address: { socket_address: { address: l.address, port_value: l.port } },
      filter_chains: [{ filters: [filter(name)] }],
    },
    refs: { ...refs(name), secrets: [] },
  };
}
