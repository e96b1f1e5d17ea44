// One ambassador's config → every Envoy resource its sidecars need. Pure: no I/O, no clock.
import type { AmbassadorConfig } from '../model/schema.ts';
import { translateUpstream } from './cluster.ts';
import { translateHttpListener } from './listener.ts';
import type { GroupId } from './names.ts';
import { translateRoutes } from './route.ts';
import type { XdsResource } from './types.ts';

export function translateAmbassador(g: GroupId, config: AmbassadorConfig): XdsResource[] {
  const out: XdsResource[] = [];
  for (const [name, u] of Object.entries(config.upstreams).sort(([a], [b]) => a.localeCompare(b))) {
    out.push(...translateUpstream(g, name, u));
  }
  for (const l of config.listeners) {
    out.push(translateHttpListener(g, l), translateRoutes(g, l));
  }
  return out;
}
