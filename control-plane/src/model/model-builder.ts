// Source state → one validated config per node group. A ConfigMap that fails validation keeps
// serving its last good version; its errors are reported, and no other ConfigMap is affected.
import { createHash } from 'node:crypto';
import type { ConfigMapObject, SecretObject, SourceState } from '../sources/types.ts';
import { groupKey, type GroupId } from '../translate/names.ts';
import { formatPath, withFileLine, type ConfigError } from './errors.ts';
import { CONFIG_KEY, isAmbassadorConfigMap, parseConfigMap } from './parse-configmap.ts';
import type { AmbassadorConfig } from './schema.ts';
import { configForEnvironment } from './environments.ts';
import { secretProblem, secretUses, type SecretUseSite } from './secret-refs.ts';

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
  /** Every Secret ("namespace/name") the configs reference, found or not. */
  wantedSecrets: Set<string>;
}

interface Accepted {
  text: string;
  config: AmbassadorConfig;
  /** Each environment's merged config, made once per content so snapshots are rebuilt only on change. */
  environments: Map<string, AmbassadorConfig>;
  /** The Secrets each of those configs uses. */
  uses: Map<AmbassadorConfig, SecretUseSite[]>;
}

export class ModelBuilder {
  private readonly lastGood = new Map<string, Accepted>();
  /** The errors of each ConfigMap's current content when it is invalid: parsed once, not per build. */
  private readonly failed = new Map<string, { key: string; errors: ConfigError[] }>();

  build(state: SourceState): ModelResult {
    const errors: ConfigError[] = [];
    const candidates: { configMap: string; cm: ConfigMapObject; accepted: Accepted; stale: boolean }[] = [];
    const present = new Set<string>();

    const configMaps = [...state.objects.values()]
      .filter((o): o is ConfigMapObject => o.kind === 'ConfigMap' && isAmbassadorConfigMap(o))
      .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));

    for (const cm of configMaps) {
      const id = `${cm.namespace}/${cm.name}`;
      present.add(id);
      const text = cm.data[CONFIG_KEY] ?? '';
      const previous = this.lastGood.get(id);
      let accepted = previous;
      let stale = false;
      if (previous?.text !== text) {
        // The file lines are part of the key: they are in the errors.
        const key = `${text}\u0000${JSON.stringify(cm.file ?? null)}`;
        const known = this.failed.get(id);
        const parsed = known?.key === key ? { ok: false as const, errors: known.errors } : accept(cm);
        if (parsed.ok) {
          accepted = { text, ...parsed.accepted };
          this.lastGood.set(id, accepted);
          this.failed.delete(id);
        } else {
          this.failed.set(id, { key, errors: parsed.errors });
          errors.push(...parsed.errors);
          stale = true;
        }
      }
      if (accepted) candidates.push({ configMap: id, cm, accepted, stale });
    }
    for (const id of [...this.lastGood.keys()]) if (!present.has(id)) this.lastGood.delete(id);
    for (const id of [...this.failed.keys()]) if (!present.has(id)) this.failed.delete(id);

    // One ConfigMap per ambassador: the first by name wins, a second one is an error.
    const ambassadors = new Map<string, AmbassadorModel>();
    const wantedSecrets = new Set<string>();
    const add = (group: GroupId, c: (typeof candidates)[number], config: AmbassadorConfig) => {
      const uses = c.accepted.uses.get(config) ?? [];
      const secrets = new Map<string, SecretObject>();
      for (const site of uses) {
        wantedSecrets.add(`${group.namespace}/${site.name}`);
        const o = state.objects.get(`Secret/${group.namespace}/${site.name}`);
        if (o?.kind === 'Secret') secrets.set(site.name, o);
      }
      for (const site of uses) {
        const problem = secretProblem(group.namespace, site, secrets);
        if (problem) errors.push(withFileLine(c.cm, { object: c.configMap, key: CONFIG_KEY, path: formatPath(site.path), message: problem }));
      }
      ambassadors.set(groupKey(group), { group, configMap: c.configMap, config, stale: c.stale, secrets, secretsVersion: hashSecrets(secrets) });
    };
    for (const c of candidates) {
      const group = { namespace: c.cm.namespace, ambassador: c.accepted.config.ambassador };
      const owner = ambassadors.get(groupKey(group));
      if (owner) {
        errors.push(withFileLine(c.cm, {
          object: c.configMap,
          key: CONFIG_KEY,
          path: 'ambassador',
          message: `ambassador "${group.ambassador}" in namespace "${group.namespace}" is already configured by ConfigMap ${owner.configMap}; put all of an ambassador's listeners in one ConfigMap, or give this one another ambassador name`,
        }));
        continue;
      }
      add(group, c, c.accepted.config);
      // Envoys that declare an environment with overrides get their own merged config.
      for (const [environment, config] of c.accepted.environments) add({ ...group, environment }, c, config);
    }
    // An environment's merged config repeats its ConfigMap's Secret errors: report each once.
    return { ambassadors, errors: [...new Map(errors.map((e) => [JSON.stringify(e), e])).values()], wantedSecrets };
  }
}

/**
 * A valid ConfigMap's config, merged environments and Secret uses, or its errors. Never throws:
 * everything derived from the content is made here, so a bug on some content makes that content
 * invalid (its last good version stays) instead of failing the whole build.
 */
function accept(cm: ConfigMapObject): { ok: true; accepted: Omit<Accepted, 'text'> } | { ok: false; errors: ConfigError[] } {
  const parsed = parseConfigMap(cm);
  if (!parsed.ok) return parsed;
  try {
    const config = parsed.config;
    const environments = new Map(Object.keys(config.environments).map((env) => [env, configForEnvironment(config, env)] as const));
    const uses = new Map([config, ...environments.values()].map((c) => [c, secretUses(c)] as const));
    return { ok: true, accepted: { config, environments, uses } };
  } catch (err) {
    return { ok: false, errors: [internalError(cm, err)] };
  }
}

function internalError(cm: ConfigMapObject, err: unknown): ConfigError {
  const message = `could not be built (an internal error, please report it: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}) — the last good version stays served`;
  return withFileLine(cm, { object: `${cm.namespace}/${cm.name}`, key: CONFIG_KEY, path: '', message });
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
