// Source state → one validated config per node group. A ConfigMap that fails validation keeps
// serving its last good version; its errors are reported, and no other ConfigMap is affected.
// Ownership is stable: the ConfigMap that configures an ambassador keeps it while it exists and
// claims it; another one claiming it is rejected. With no owner yet (a fresh start, or the owner
// gone), the oldest claimant (by creation time when the source knows it, then by name) gets it.
import { createHash } from 'node:crypto';
import type { ConfigMapObject, SecretObject, SourceObject, SourceState } from '../sources/types.ts';
import { groupKey, type GroupId } from '../translate/names.ts';
import { formatPath, withFileLine, type ConfigError } from './errors.ts';
import type { ConfigParser } from './config-parser.ts';
import { CONFIG_KEY, isAmbassadorConfigMap, parseConfigMap, type ParseResult } from './parse-configmap.ts';
import type { AmbassadorConfig } from './schema.ts';
import { claimedAmbassador } from './claimed-ambassador.ts';
import { configForEnvironment } from './environments.ts';
import { secretProblem, secretUses, type SecretUseSite } from './secret-refs.ts';
import type { DescriptorSets } from './transcode-descriptors.ts';

export interface AmbassadorModel {
  group: GroupId;
  /** "namespace/name" of the ConfigMap it comes from. */
  configMap: string;
  config: AmbassadorConfig;
  /** True when the ConfigMap's current content is invalid and this is its last good version. */
  stale: boolean;
  /** A Secret it references has not been read yet: it is not to be built (nor reported) until it is. */
  waiting: boolean;
  /** The Secrets of its namespace that the config references and that exist, by name. */
  secrets: ReadonlyMap<string, SecretObject>;
  /** A hash of those Secrets' contents: a changed Secret changes it. */
  secretsVersion: string;
  /** The descriptor sets its transcoding routes use, by ConfigMap key. */
  descriptorSets: DescriptorSets;
}

export interface ModelResult {
  ambassadors: Map<string, AmbassadorModel>;
  errors: ConfigError[];
  /** Every Secret ("namespace/name") the configs reference, found or not. */
  wantedSecrets: Set<string>;
  /** Groups ("namespace/ambassador") that no valid config configures, but that a ConfigMap with no
   * valid version since start claims (by its `ambassador:` line): group → that ConfigMap, and
   * whether its content is still being parsed (rather than invalid). */
  held: Map<string, { configMap: string; parsing: boolean }>;
  /** When set, the only groups whose model may differ from the previous result's (the others, the
   * held groups, the errors and the wanted Secrets are the previous result's); absent, anything may
   * have changed. */
  changed?: ReadonlySet<string>;
}

interface Candidate {
  configMap: string;
  cm: ConfigMapObject;
  accepted: Accepted;
  stale: boolean;
  /** The group its config is for (the base group; environments add their own). */
  group: GroupId;
  groupKey: string;
}

interface Claim {
  configMap: string;
  group: string;
  parsing: boolean;
}

interface Outcome {
  errors: ConfigError[];
  /** Its content is being parsed in the background. */
  parsing: boolean;
  candidate?: Candidate;
  /** No valid version: the group its `ambassador:` line claims. */
  claim?: Claim;
}

/** A group's model and what it was made of. */
interface GroupMemo {
  config: AmbassadorConfig;
  candidate: Candidate;
  /** The Secret objects its uses found, in order. */
  secrets: (SourceObject | undefined)[];
  /** The names of those not read yet. */
  unread: string;
  model: AmbassadorModel;
  errors: ConfigError[];
}

interface Accepted {
  text: string;
  /** A hash of the ConfigMap's binaryData: transcoding routes read descriptor sets from it. */
  binary: string;
  config: AmbassadorConfig;
  descriptorSets: DescriptorSets;
  /** Each environment's merged config, made once per content so snapshots are rebuilt only on change. */
  environments: Map<string, AmbassadorConfig>;
  /** The Secrets each of those configs uses. */
  uses: Map<AmbassadorConfig, SecretUseSite[]>;
}

/** Large configs parsed off the event loop: build() goes on without them (their last good version
 * stays) and `onParsed` asks for another build once a result is in. */
export interface BackgroundParsing {
  parser: ConfigParser;
  onParsed(): void;
}

export class ModelBuilder {
  private readonly background: BackgroundParsing | undefined;
  /** Results of background parses, by ConfigMap and content key, until a build uses them. */
  private readonly parsed = new Map<string, { key: string; result: ParseResult }>();
  /** The content key each ConfigMap is being parsed for in the background. */
  private readonly parsing = new Map<string, string>();
  private readonly lastGood = new Map<string, Accepted>();
  /** The errors of each ConfigMap's current content when it is invalid: parsed once, not per build. */
  private readonly failed = new Map<string, { key: string; errors: ConfigError[] }>();
  /** Base group key → the ConfigMap that configures it. */
  private owners = new Map<string, string>();
  /** Each ConfigMap's object as last examined, and the outcome, reused while the object is the same. */
  private readonly examined = new Map<string, { cm: ConfigMapObject; outcome: Outcome }>();
  /** The ambassador ConfigMaps' ids, sorted by name. */
  private order: string[] = [];
  /** Each group's model with what it was made of: kept (the same object) while those are the same. */
  private models = new Map<string, GroupMemo>();
  /** The last state built from, and its result. */
  private last: { objects: SourceState['objects']; secretsRead: SourceState['secretsRead']; result: ModelResult } | undefined;

  constructor(background?: BackgroundParsing) {
    this.background = background;
  }

  build(state: SourceState): ModelResult {
    const result = this.update(state) ?? this.buildAll(state);
    this.last = { objects: state.objects, secretsRead: state.secretsRead, result };
    return { ...result, errors: [...result.errors] }; // the caller adds its own errors to the list
  }

  /**
   * The last result with only the changed ConfigMaps looked at again, when that is all the change
   * can affect: each was and still is the valid owner of its group (same ambassador, same
   * environments), using no Secret, with no error. That is the usual edit; anything else (a
   * ConfigMap or Secret added, removed or changed otherwise, ownership, holds, errors) is left to
   * buildAll(), which gets the same answer, looking at everything.
   */
  private update(state: SourceState): ModelResult | undefined {
    const last = this.last;
    if (!last || state.objects.size !== last.objects.size || this.parsed.size > 0 || !sameSet(state.secretsRead, last.secretsRead)) return undefined;
    const changed: ConfigMapObject[] = [];
    for (const [key, o] of state.objects) {
      const before = last.objects.get(key);
      if (before === o) continue;
      if (before?.kind !== 'ConfigMap' || o.kind !== 'ConfigMap' || isAmbassadorConfigMap(before) !== isAmbassadorConfigMap(o)) return undefined;
      if (isAmbassadorConfigMap(o)) changed.push(o);
    }
    if (changed.length === 0) return { ...last.result, changed: new Set() };
    const ambassadors = new Map(last.result.ambassadors);
    const groups = new Set<string>();
    for (const cm of changed) {
      const id = `${cm.namespace}/${cm.name}`;
      const before = this.examined.get(id)?.outcome.candidate;
      if (!before || !this.isPlainOwner(before)) return undefined;
      const outcome = this.examine(id, cm);
      if (outcome.parsing) this.examined.delete(id);
      else this.examined.set(id, { cm, outcome });
      const c = outcome.candidate;
      if (!c || !this.isPlainOwner(c, before.groupKey) || !sameKeys(c.accepted.environments, before.accepted.environments)) return undefined;
      const wanted = new Set<string>();
      const errors: ConfigError[] = [];
      ambassadors.set(c.groupKey, this.model(state, c.group, c.groupKey, c, c.accepted.config, wanted, errors, this.models));
      groups.add(c.groupKey);
      for (const [environment, config] of c.accepted.environments) {
        const group = { ...c.group, environment };
        ambassadors.set(groupKey(group), this.model(state, group, groupKey(group), c, config, wanted, errors, this.models));
        groups.add(groupKey(group));
      }
      if (wanted.size > 0 || errors.length > 0) return undefined;
    }
    return { ...last.result, ambassadors, changed: groups };
  }

  /** A valid candidate that owns its group (`groupKey`, when given) and uses no Secret. */
  private isPlainOwner(c: Candidate, key = c.groupKey): boolean {
    return !c.stale && c.groupKey === key && this.owners.get(key) === c.configMap && [...c.accepted.uses.values()].every((u) => u.length === 0);
  }

  private buildAll(state: SourceState): ModelResult {
    const errors: ConfigError[] = [];
    const candidates: Candidate[] = [];
    const invalidClaims: Claim[] = [];
    const present = new Set<string>();

    const { configMaps, reordered } = this.sortedConfigMaps(state);
    for (const cm of configMaps) {
      const id = `${cm.namespace}/${cm.name}`;
      present.add(id);
      // The same object as last time (sources keep the objects that did not change): same outcome.
      const memo = this.examined.get(id);
      const outcome = memo?.cm === cm ? memo.outcome : this.examine(id, cm);
      if (outcome.parsing) this.examined.delete(id); // its result is picked up by a later build
      else this.examined.set(id, { cm, outcome });
      if (outcome.errors.length > 0) errors.push(...outcome.errors);
      if (outcome.candidate) candidates.push(outcome.candidate);
      if (outcome.claim) invalidClaims.push(outcome.claim);
    }
    if (reordered) { // a ConfigMap may be gone
      for (const memo of [this.lastGood, this.failed, this.parsed, this.parsing, this.examined]) {
        for (const id of [...memo.keys()]) if (!present.has(id)) memo.delete(id);
      }
    }

    // One ConfigMap per ambassador: the owner keeps it, any other claimant is an error.
    // The previous owner if it still claims the group, else the oldest claimant (the first by name
    // among equals: candidates come sorted by name).
    const owning = new Map<string, Candidate>();
    for (const c of candidates) {
      const best = owning.get(c.groupKey);
      if (!best || (best.configMap !== this.owners.get(c.groupKey) && (c.configMap === this.owners.get(c.groupKey) || olderFirst(c, best) < 0))) owning.set(c.groupKey, c);
    }
    const owners = new Map<string, string>();
    for (const [key, c] of owning) owners.set(key, c.configMap);
    this.owners = owners;

    const ambassadors = new Map<string, AmbassadorModel>();
    const wantedSecrets = new Set<string>();
    const models = new Map<string, GroupMemo>();
    const add = (group: GroupId, key: string, c: Candidate, config: AmbassadorConfig) => {
      ambassadors.set(key, this.model(state, group, key, c, config, wantedSecrets, errors, models));
    };
    for (const c of candidates) {
      const group = c.group;
      const owner = owners.get(c.groupKey);
      if (owner !== c.configMap) {
        errors.push(withFileLine(c.cm, {
          object: c.configMap,
          key: CONFIG_KEY,
          path: 'ambassador',
          message: `ambassador "${group.ambassador}" in namespace "${group.namespace}" is already configured by ConfigMap ${owner}; put all of an ambassador's listeners in one ConfigMap, or give this one another ambassador name`,
        }));
        continue;
      }
      add(group, c.groupKey, c, c.accepted.config);
      // Envoys that declare an environment with overrides get their own merged config.
      for (const [environment, config] of c.accepted.environments) add({ ...group, environment }, groupKey({ ...group, environment }), c, config);
    }
    this.models = models;
    const held = new Map<string, { configMap: string; parsing: boolean }>();
    for (const claim of invalidClaims) if (!owners.has(claim.group) && !held.has(claim.group)) held.set(claim.group, { configMap: claim.configMap, parsing: claim.parsing });
    // An environment's merged config repeats its ConfigMap's Secret errors: report each once.
    return { ambassadors, errors: [...new Map(errors.map((e) => [JSON.stringify(e), e])).values()], wantedSecrets, held };
  }

  /** A group's model (the one it had when made of the same things), recorded in `models`; the
   * Secrets it references are added to `wanted`, its errors to `errors`. */
  private model(state: SourceState, group: GroupId, key: string, c: Candidate, config: AmbassadorConfig, wanted: Set<string>, errors: ConfigError[], models: Map<string, GroupMemo>): AmbassadorModel {
    const uses = c.accepted.uses.get(config) ?? [];
    const memo = this.models.get(key);
    // A config that uses no Secret, from the same ConfigMap object as last time: the same model.
    if (uses.length === 0 && memo?.candidate === c && memo.config === config) {
      models.set(key, memo);
      return memo.model;
    }
    const found: (SourceObject | undefined)[] = [];
    const unread = new Set<string>();
    for (const site of uses) {
      const secret = `${group.namespace}/${site.name}`;
      wanted.add(secret);
      if (state.secretsRead && !state.secretsRead.has(secret)) unread.add(site.name);
      found.push(state.objects.get(`Secret/${secret}`));
    }
    const unreadKey = [...unread].join('\u0000');
    // Made of the same config and the same Secret objects as last time: the same model.
    if (memo && memo.config === config && memo.candidate.cm === c.cm && memo.candidate.accepted === c.accepted && memo.candidate.stale === c.stale && memo.unread === unreadKey && memo.secrets.length === found.length && memo.secrets.every((o, i) => o === found[i])) {
      models.set(key, memo);
      if (memo.errors.length > 0) errors.push(...memo.errors);
      return memo.model;
    }
    const secrets = new Map<string, SecretObject>();
    for (const o of found) if (o?.kind === 'Secret') secrets.set(o.name, o);
    const groupErrors: ConfigError[] = [];
    for (const site of uses) {
      const problem = unread.has(site.name) ? undefined : secretProblem(group.namespace, site, secrets);
      if (problem) groupErrors.push(withFileLine(c.cm, { object: c.configMap, key: CONFIG_KEY, path: formatPath(site.path), message: problem }));
    }
    const model: AmbassadorModel = { group, configMap: c.configMap, config, stale: c.stale, waiting: unread.size > 0, secrets, secretsVersion: hashSecrets(secrets), descriptorSets: c.accepted.descriptorSets };
    models.set(key, { config, candidate: c, secrets: found, unread: unreadKey, model, errors: groupErrors });
    errors.push(...groupErrors);
    return model;
  }

  /** One ConfigMap's current content: its config (or last good one), errors, or claim. */
  private examine(id: string, cm: ConfigMapObject): Outcome {
    const errors: ConfigError[] = [];
    const text = cm.data[CONFIG_KEY] ?? '';
    const binary = binaryDataHash(cm);
    const previous = this.lastGood.get(id);
    let accepted = previous;
    let stale = false;
    let parsing = false;
    if (previous?.text !== text || previous.binary !== binary) {
      // The file lines are part of the key: they are in the errors.
      const key = `${text}\u0000${binary}\u0000${JSON.stringify(cm.file ?? null)}`;
      const known = this.failed.get(id);
      const result = known?.key === key ? { ok: false as const, errors: known.errors } : this.parse(id, key, cm);
      const parsed = result && accept(cm, result);
      if (!parsed) parsing = true; // meanwhile the last good version (if any) stays
      else if (parsed.ok) {
        accepted = { text, binary, ...parsed.accepted };
        this.lastGood.set(id, accepted);
        this.failed.delete(id);
      } else {
        this.failed.set(id, { key, errors: parsed.errors });
        errors.push(...parsed.errors);
        stale = true;
      }
    }
    if (accepted) {
      const group = { namespace: cm.namespace, ambassador: accepted.config.ambassador };
      return { errors, parsing, candidate: { configMap: id, cm, accepted, stale, group, groupKey: groupKey(group) } };
    }
    const claimed = claimedAmbassador(text);
    return { errors, parsing, ...(claimed === undefined ? {} : { claim: { configMap: id, group: groupKey({ namespace: cm.namespace, ambassador: claimed }), parsing } }) };
  }

  /** The state's ambassador ConfigMaps, by name; sorted again (`reordered`) only when one comes or goes. */
  private sortedConfigMaps(state: SourceState): { configMaps: ConfigMapObject[]; reordered: boolean } {
    const byId = new Map<string, ConfigMapObject>();
    for (const o of state.objects.values()) if (o.kind === 'ConfigMap' && isAmbassadorConfigMap(o)) byId.set(`${o.namespace}/${o.name}`, o);
    const reordered = byId.size !== this.order.length || this.order.some((id) => !byId.has(id));
    if (reordered) this.order = [...byId.keys()].sort((a, b) => a.localeCompare(b));
    return { configMaps: this.order.map((id) => byId.get(id) as ConfigMapObject), reordered };
  }

  /** The parse of this content: at once, or (a large one, in the background) once it is done;
   * undefined while it runs. */
  private parse(id: string, key: string, cm: ConfigMapObject): ParseResult | undefined {
    const bg = this.background;
    if (!bg || bg.parser.isInline(cm)) return parseConfigMap(cm);
    const done = this.parsed.get(id);
    if (done?.key === key) {
      this.parsed.delete(id);
      return done.result;
    }
    if (this.parsing.get(id) !== key) {
      this.parsing.set(id, key);
      void bg.parser.parse(cm).then((result) => {
        if (this.parsing.get(id) !== key) return; // deleted or changed meanwhile
        this.parsing.delete(id);
        this.parsed.set(id, { key, result });
        bg.onParsed();
      });
    }
    return undefined;
  }
}

function sameSet(a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.size === b.size && [...a].every((x) => b.has(x)));
}

function sameKeys(a: ReadonlyMap<string, unknown>, b: ReadonlyMap<string, unknown>): boolean {
  return a.size === b.size && [...a.keys()].every((k) => b.has(k));
}

/** The older first, when creation times are known; then by name (the candidates come sorted by name). */
function olderFirst(a: Candidate, b: Candidate): number {
  return a.cm.created !== undefined && b.cm.created !== undefined ? a.cm.created - b.cm.created : 0;
}

/**
 * A valid ConfigMap's config, merged environments and Secret uses, or its errors. Never throws:
 * everything derived from the content is made here, so a bug on some content makes that content
 * invalid (its last good version stays) instead of failing the whole build.
 */
function accept(cm: ConfigMapObject, parsed: ParseResult): { ok: true; accepted: Omit<Accepted, 'text' | 'binary'> } | { ok: false; errors: ConfigError[] } {
  if (!parsed.ok) return parsed;
  try {
    const config = parsed.config;
    const environments = new Map(Object.keys(config.environments).map((env) => [env, configForEnvironment(config, env)] as const));
    const uses = new Map([config, ...environments.values()].map((c) => [c, secretUses(c)] as const));
    return { ok: true, accepted: { config, environments, uses, descriptorSets: parsed.descriptorSets } };
  } catch (err) {
    return { ok: false, errors: [internalError(cm, err)] };
  }
}

function internalError(cm: ConfigMapObject, err: unknown): ConfigError {
  const message = `could not be built (an internal error, please report it: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}) — the last good version stays served`;
  return withFileLine(cm, { object: `${cm.namespace}/${cm.name}`, key: CONFIG_KEY, path: '', message });
}

function binaryDataHash(cm: ConfigMapObject): string {
  if (!cm.binaryData) return '';
  const h = createHash('sha256');
  for (const key of Object.keys(cm.binaryData).sort()) h.update(`${key}\u0000`).update(cm.binaryData[key] ?? new Uint8Array()).update('\u0000');
  return h.digest('hex');
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
