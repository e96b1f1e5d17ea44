// Source state → one validated config per node group. A ConfigMap that fails validation keeps
// serving its last good version; its errors are reported, and no other ConfigMap is affected.
import type { ConfigMapObject, SourceState } from '../sources/types.ts';
import { groupKey, type GroupId } from '../translate/names.ts';
import type { ConfigError } from './errors.ts';
import { CONFIG_KEY, isAmbassadorConfigMap, parseConfigMap } from './parse-configmap.ts';
import type { AmbassadorConfig } from './schema.ts';

export interface AmbassadorModel {
  group: GroupId;
  /** "namespace/name" of the ConfigMap it comes from. */
  configMap: string;
  config: AmbassadorConfig;
  /** True when the ConfigMap's current content is invalid and this is its last good version. */
  stale: boolean;
}

export interface ModelResult {
  ambassadors: Map<string, AmbassadorModel>;
  errors: ConfigError[];
}

export class ModelBuilder {
  private readonly lastGood = new Map<string, { text: string; config: AmbassadorConfig }>();

  build(state: SourceState): ModelResult {
    const errors: ConfigError[] = [];
    const candidates: AmbassadorModel[] = [];
    const present = new Set<string>();

    const configMaps = [...state.objects.values()]
      .filter((o): o is ConfigMapObject => o.kind === 'ConfigMap' && isAmbassadorConfigMap(o))
      .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));

    for (const cm of configMaps) {
      const id = `${cm.namespace}/${cm.name}`;
      present.add(id);
      const text = cm.data[CONFIG_KEY] ?? '';
      const previous = this.lastGood.get(id);
      let config: AmbassadorConfig | undefined;
      let stale = false;
      if (previous?.text === text) {
        config = previous.config;
      } else {
        const parsed = parseConfigMap(cm);
        if (parsed.ok) {
          config = parsed.config;
          this.lastGood.set(id, { text, config });
        } else {
          errors.push(...parsed.errors);
          config = previous?.config;
          stale = true;
        }
      }
      if (config) candidates.push({ group: { namespace: cm.namespace, ambassador: config.ambassador }, configMap: id, config, stale });
    }
    for (const id of [...this.lastGood.keys()]) if (!present.has(id)) this.lastGood.delete(id);

    // One ConfigMap per ambassador: the first by name wins, a second one is an error.
    const ambassadors = new Map<string, AmbassadorModel>();
    for (const m of candidates) {
      const key = groupKey(m.group);
      const owner = ambassadors.get(key);
      if (owner) {
        errors.push({
          object: m.configMap,
          key: CONFIG_KEY,
          path: 'ambassador',
          message: `ambassador "${m.group.ambassador}" in namespace "${m.group.namespace}" is already configured by ConfigMap ${owner.configMap}; put all of an ambassador's listeners in one ConfigMap, or give this one another ambassador name`,
        });
        continue;
      }
      ambassadors.set(key, m);
    }
    return { ambassadors, errors };
  }
}
