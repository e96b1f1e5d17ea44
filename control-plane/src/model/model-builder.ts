// Source state → one validated config per node group. A ConfigMap that fails validation keeps
// serving its last good version; its errors are reported, and no other ConfigMap is affected.
import { createHash } from 'node:crypto';
import type { ConfigMapObject, SecretObject, SourceState } from '../sources/types.ts';
import { groupKey, type GroupId } from '../translate/names.ts';
import { formatPath, type ConfigError } from './errors.ts';
import { CONFIG_KEY, isAmbassadorConfigMap, parseConfigMap } from './parse-configmap.ts';
import type { AmbassadorConfig } from './schema.ts';
import { configForEnvironment } from './environments.ts';
import { secretProblem, secretUses } from './secret-refs.ts';

export interface AmbassadorModel {
  group: GroupId;
  /** "namespace/name" of the ConfigMap it comes from. */
  configMap: string;
  config: AmbassadorConfig;
  /** True when the ConfigMap's current content is invalid and this is its last good version. */
  stale: boolean;
  /** The Secrets of its namespace that the config references and that exist, by name. */
  secrets: ReadonlyMap<string, SecretObject>;
  /** A hash of those Secrets' contents: a changed Secret changes it. */
  secretsVersion: string;
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
      if (config) candidates.push({ group: { namespace: cm.namespace, ambassador: config.ambassador }, configMap: id, config, stale, secrets: new Map(), secretsVersion: '' });
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
      // Envoys that declare an environment with overrides get their own merged config.
      for (const environment of Object.keys(m.config.environments)) {
        const group = { ...m.group, environment };
        ambassadors.set(groupKey(group), { ...m, group, config: configForEnvironment(m.config, environment) });
      }
    }
    for (const m of ambassadors.values()) {
      const found = referencedSecrets(state, m);
      m.secrets = found;
      m.secretsVersion = hashSecrets(found);
      for (const site of secretUses(m.config)) {
        const problem = secretProblem(m.group.namespace, site, found);
        if (problem) errors.push({ object: m.configMap, key: CONFIG_KEY, path: formatPath(site.path), message: problem });
      }
    }
    // An environment's merged config repeats its ConfigMap's Secret errors: report each once.
    return { ambassadors, errors: [...new Map(errors.map((e) => [JSON.stringify(e), e])).values()] };
  }
}

function referencedSecrets(state: SourceState, m: AmbassadorModel): Map<string, SecretObject> {
  const found = new Map<string, SecretObject>();
  for (const site of secretUses(m.config)) {
    const o = state.objects.get(`Secret/${m.group.namespace}/${site.name}`);
    if (o?.kind === 'Secret') found.set(site.name, o);
  }
  return found;
}

function hashSecrets(secrets: ReadonlyMap<string, SecretObject>): string {
  const h = createHash('sha256');
  for (const name of [...secrets.keys()].sort()) {
    const s = secrets.get(name);
    if (!s) continue;
    h.update(`${name}\u0000${s.type}\u0000`);
    for (const key of Object.keys(s.data).sort()) h.update(key).update('\u0000').update(s.data[key] ?? new Uint8Array()).update('\u0000');
  }
  return h.digest('hex').slice(0, 16);
}
