// The pipeline, wired: source → model → translate → cache → server, plus observe.
import os from 'node:os';
import { adminService } from './admin/admin-service.ts';
import { listAmbassadors } from './admin/ambassadors.ts';
import { DryRunner } from './admin/dry-runner.ts';
import { consistencyProblems } from './cache/consistency.ts';
import { ResourceEncoder } from './cache/resource-encoder.ts';
import { SnapshotCache, type HeldGroup } from './cache/snapshot-cache.ts';
import { buildSnapshot, EMPTY_SNAPSHOT, type Snapshot } from './cache/snapshot.ts';
import { formatConfigError, type ConfigError } from './model/errors.ts';
import { ConfigParser } from './model/config-parser.ts';
import type { ParseResult } from './model/parse-configmap.ts';
import { ModelBuilder, type AmbassadorModel, type ModelResult } from './model/model-builder.ts';
import { CONFIG_KEY } from './model/parse-configmap.ts';
import type { ConfigStatusSink } from './observe/config-status.ts';
import { startHttpServer } from './observe/http.ts';
import type { Logger } from './observe/log.ts';
import { Metrics } from './observe/metrics.ts';
import { convergenceObserver } from './observe/convergence.ts';
import { xdsObserver } from './observe/xds-observer.ts';
import type { AuthMode } from './server/auth/authenticator.ts';
import { startXdsServer, type XdsLimits, type XdsServer } from './server/grpc-server.ts';
import { fanOut } from './server/observer-fanout.ts';
import type { CertificateFiles } from './tls/certificate-files.ts';
import { objectKey, type ConfigMapObject, type Source, type SourceState } from './sources/types.ts';
import { translateAmbassador } from './translate/ambassador.ts';
import { baseGroupKey, groupKey } from './translate/names.ts';
import { xdsRoot } from './xds/protos.ts';

export interface ControlPlaneOptions {
  source: Source;
  logger: Logger;
  xdsAddress: string;
  xdsPort: number;
  /** The xDS port's certificate; absent with auth "insecure" (plaintext). */
  tls?: CertificateFiles;
  auth: AuthMode;
  xdsLimits?: Partial<XdsLimits>;
  httpAddress: string;
  httpPort: number;
  /** Serve /debug/ on a non-loopback HTTP address too. */
  exposeDebug?: boolean;
  /** Where config status also goes (Kubernetes Events); logs and /debug/status always have it. */
  status?: ConfigStatusSink;
  /** Identities ("namespace/serviceAccount") that may call CSDS and the admin API. */
  operators?: readonly string[];
}

export interface RunningControlPlane {
  xdsPort: number;
  httpPort: number;
  cache: SnapshotCache;
  /** The ConfigMap ("namespace/name") serving this ambassador now, if any (for the admission webhook). */
  ownerOf(namespace: string, ambassador: string): string | undefined;
  /** Validates one ConfigMap as the pipeline does, without blocking the process (for the admission webhook). */
  parse(cm: ConfigMapObject): Promise<ParseResult>;
  stop(): Promise<void>;
}

export async function startControlPlane(o: ControlPlaneOptions): Promise<RunningControlPlane> {
  const log = o.logger;
  const metrics = new Metrics();
  let heldBefore = new Map<string, HeldGroup>();
  const cache: SnapshotCache = new SnapshotCache({
    onHeldChange: (held) => {
      const now = new Map(held.map((h) => [h.group, h]));
      for (const h of held) {
        const before = heldBefore.get(h.group);
        const nodes = before?.reason === h.reason ? h.nodes.filter((n) => !before.nodes.includes(n)) : h.nodes;
        if (before?.reason !== h.reason || nodes.length > 0) log.warn({ group: h.group, nodes }, `ambassador ${h.group} is held (no response to ${nodes.length ? `Envoy ${nodes.join(', ')}` : 'its Envoys'}): ${h.reason}`);
      }
      for (const group of heldBefore.keys()) {
        if (now.has(group)) continue;
        const latest = cache.latest(group);
        log.info({ group }, latest ? `ambassador ${group} is no longer held: its Envoys are served version ${latest.version}` : `ambassador ${group} is no longer held: no held Envoy of it is connected`);
      }
      heldBefore = now;
      metrics.heldGroups.set(held.length);
    },
  });
  const root = await xdsRoot();
  const encoder = new ResourceEncoder(root);
  const parser = new ConfigParser();
  let latestState: SourceState | undefined;
  // A large config parsed off the event loop is built in once its parse is done.
  const builder = new ModelBuilder({ parser, onParsed: () => { if (latestState) onChange(latestState); } });
  /** Each group's model as last built, and its snapshot (or the error that kept it from having one). */
  const built = new Map<string, { model: AmbassadorModel; snapshot?: Snapshot; error?: ConfigError }>();
  /** The groups whose last model could not be translated (their entries in `built` have the error). */
  const untranslatable = new Set<string>();
  /** The latest model's groups: a group whose model is the same object as before has not changed. */
  let ambassadors: ReadonlyMap<string, AmbassadorModel> = new Map();
  let held: ReadonlyMap<string, { configMap: string }> = new Map();
  /** Base group → the version last reported as Accepted. */
  const announced = new Map<string, string>();
  let reported = new Set<string>();
  let status: { errors: string[]; sourceProblems: string[] } = { errors: [], sourceProblems: [] };
  let buildFailure: string | undefined;
  let xds: XdsServer | undefined;
  let errorsByConfigMap = new Map<string, string[]>();

  // Nothing a source delivers may stop the next delivery from being built: an exception here (a
  // bug; per-ConfigMap problems are errors on that ConfigMap) leaves every group as it was.
  const onChange = (state: SourceState) => {
    latestState = state;
    try {
      build(state);
      buildFailure = undefined;
    } catch (err) {
      buildFailure = `building the configuration failed (an internal error, please report it: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}); Envoys keep what they have`;
      log.error({ err }, buildFailure);
    }
  };

  const build = (state: SourceState) => {
    const started = performance.now();
    const model = builder.build(state);
    const before = ambassadors;
    ambassadors = model.ambassadors;
    held = model.held;
    // A source that reads Secrets on demand learns which ones the configs reference; a config that
    // references one not read yet keeps what its group has until it is (the source emits again).
    o.source.want?.(model.wantedSecrets);
    /** The groups whose model changed: only they are translated, encoded and announced. */
    const changed: string[] = [];
    for (const key of model.changed ?? model.ambassadors.keys()) {
      const m = model.ambassadors.get(key);
      if (!m) continue;
      if (before.get(key) !== m) changed.push(key);
      if (m.waiting) continue;
      const snapshot = snapshotFor(key, m);
      if (snapshot && cache.latest(key) !== snapshot) cache.set(key, snapshot);
    }
    if (!model.changed) updateGroupSet(model); // groups may have come or gone
    // A failure to translate is an error on the group's ConfigMap while the group has that model.
    for (const key of untranslatable) {
      const b = built.get(key);
      if (b?.error && model.ambassadors.get(key) === b.model) model.errors.push(b.error);
    }
    const formatted = model.errors.map((e) => ({ object: e.object, text: formatConfigError(e) }));
    const errors = formatted.map((f) => f.text);
    for (const e of errors) if (!reported.has(e)) log.warn(`config rejected, its last good version stays served: ${e}`);
    for (const [configMap, list] of Map.groupBy(formatted, (f) => f.object)) {
      if (list.some((f) => !reported.has(f.text))) o.status?.rejected(configMap, list.map((f) => f.text), uidOf(state, configMap));
    }
    reported = new Set(errors);
    errorsByConfigMap = new Map([...Map.groupBy(formatted, (f) => f.object)].map(([cm, list]) => [cm, list.map((f) => f.text)]));
    status = { errors, sourceProblems: state.problems.map((p) => p.message) }; // each message starts with its origin
    metrics.configErrors.set(errors.length + state.problems.length);
    metrics.groups.set(model.ambassadors.size);
    metrics.buildSeconds.observe((performance.now() - started) / 1000);
    if (!cache.isSynced() && state.complete !== false && ![...model.ambassadors.values()].some((m) => m.waiting)) {
      cache.markSynced();
      xds?.setServing(true);
      log.info({ groups: [...model.ambassadors.keys()] }, 'sources synced; serving');
      changed.splice(0, changed.length, ...model.ambassadors.keys()); // nothing was announced before
    }
    announce(model.ambassadors, changed, model.changed === undefined);
  };

  /** Holds the groups only an invalid ConfigMap claims; empties or forgets the groups gone. */
  const updateGroupSet = (model: ModelResult) => {
    for (const [key, { configMap, parsing }] of model.held) {
      built.delete(key);
      untranslatable.delete(key);
      encoder.forget(key);
      cache.hold(key, parsing
        ? `ConfigMap ${configMap} claims it and is being parsed (a large config): its Envoys are not answered until it is, and keep the config they have`
        : `ConfigMap ${configMap} claims it but has had no valid version since this control plane started: its Envoys are not answered and keep the config they have`);
    }
    for (const key of cache.groupNames()) {
      if (model.ambassadors.has(key) || model.held.has(key)) continue;
      built.delete(key);
      untranslatable.delete(key);
      encoder.forget(key);
      // A removed environment falls back to its ambassador's config; a removed ambassador (a
      // deletion this process saw) gets none.
      if (key !== baseGroupKey(key)) cache.remove(key);
      else if (cache.latest(key) !== EMPTY_SNAPSHOT) {
        cache.set(key, EMPTY_SNAPSHOT);
        log.info({ group: key }, 'no ConfigMap configures this ambassador any more: its Envoys get an empty configuration');
      }
    }
  };

  /** Accepted goes out for a ConfigMap's current content once its snapshot is what its Envoys are
   * served: never for a version built before the sources synced, or one superseded unserved. */
  const announce = (ambassadors: ReadonlyMap<string, AmbassadorModel>, changed: readonly string[], groupsMayBeGone: boolean) => {
    if (groupsMayBeGone) for (const key of announced.keys()) if (!ambassadors.has(key)) announced.delete(key);
    if (!cache.isSynced()) return;
    for (const key of changed) {
      const m = ambassadors.get(key);
      if (!m || m.group.environment !== undefined || m.waiting) continue;
      if (m.stale) {
        announced.delete(key); // its fix is announced, even back to the same version
        continue;
      }
      const latest = cache.latest(key);
      if (!latest || cache.served(key) !== latest || announced.get(key) === latest.version) continue;
      announced.set(key, latest.version);
      o.status?.accepted(m.configMap, m.group.ambassador, latest.version, uidOf(latestState, m.configMap));
    }
  };

  /** The group's snapshot; a failure to make one is recorded as the error of this model.
   * Made again only when the group's model changed, and then translated and encoded again only when
   * its config or Secrets did; resources whose content is unchanged keep their encoding. */
  const snapshotFor = (key: string, m: AmbassadorModel): Snapshot | undefined => {
    const previous = built.get(key);
    if (previous?.model === m) return previous.snapshot;
    untranslatable.delete(key);
    const same = previous?.snapshot && previous.model.config === m.config && previous.model.secretsVersion === m.secretsVersion && previous.model.descriptorSets === m.descriptorSets;
    if (same) {
      built.set(key, { model: m, snapshot: previous.snapshot });
      return previous.snapshot;
    }
    let snapshot: Snapshot;
    let problems: string[];
    try {
      snapshot = buildSnapshot(encoder.encode(key, translateAmbassador(m.group, m.config, m.secrets, m.descriptorSets)), [`ConfigMap ${m.configMap}`], m.config.serviceAccounts);
      problems = consistencyProblems(snapshot);
    } catch (e) {
      log.error({ group: key, err: (e as Error).message }, 'translation failed (a bug): the group keeps its previous snapshot');
      const message = `could not be translated for ${key} (an internal error, please report it: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}) — its Envoys keep their previous configuration`;
      built.set(key, { model: m, error: { object: m.configMap, key: CONFIG_KEY, path: '', message } });
      untranslatable.add(key);
      return undefined;
    }
    if (problems.length > 0) {
      log.error({ group: key, problems }, 'inconsistent snapshot (a bug): the group keeps its previous snapshot');
      built.set(key, { model: m });
      return undefined;
    }
    built.set(key, { model: m, snapshot });
    metrics.snapshots.inc();
    log.info({ group: key, version: snapshot.version, from: snapshot.origins }, 'snapshot built');
    return snapshot;
  };

  const dryRunner = new DryRunner();
  const admin = adminService({
    ambassadors: () => listAmbassadors({
      groups: cache.status(),
      held: cache.held(),
      // Group → the ConfigMap configuring it, or claiming it while invalid.
      configMaps: new Map([...[...held].map(([key, h]) => [key, h.configMap] as const), ...[...ambassadors].map(([key, m]) => [key, m.configMap] as const)]),
      errors: errorsByConfigMap,
      clients: xds?.clientStatus.clients() ?? [],
    }),
  }, dryRunner);
  xds = await startXdsServer({
    root,
    cache,
    observer: fanOut(xdsObserver(log, metrics, (g) => cache.groupNames().includes(g), o.status), convergenceObserver(cache, metrics.convergence)),
    operators: o.operators ?? [],
    operatorServices: [admin],
    controlPlaneId: `xds-ambassador@${os.hostname()}`,
    address: o.xdsAddress,
    port: o.xdsPort,
    ...(o.tls ? { tls: o.tls } : {}),
    auth: o.auth,
    ...(o.xdsLimits ? { limits: o.xdsLimits } : {}),
  });
  const http = await startHttpServer({
    address: o.httpAddress,
    port: o.httpPort,
    exposeDebug: o.exposeDebug ?? false,
    metrics,
    endpoints: {
      ready: () => cache.isSynced(),
      status: () => ({ ready: cache.isSynced(), groups: cache.status(), held: cache.held(), ...status, errors: buildFailure ? [...status.errors, buildFailure] : status.errors }),
    },
  });
  log.info({ xds_port: xds.port, http_port: http.port }, 'listening');
  await o.source.start(onChange);

  return {
    xdsPort: xds.port,
    httpPort: http.port,
    cache,
    ownerOf: (namespace, ambassador) => ambassadors.get(groupKey({ namespace, ambassador }))?.configMap,
    parse: (cm) => parser.parse(cm),
    async stop() {
      await o.source.stop();
      await Promise.all([xds?.stop(), http.close(), parser.close(), dryRunner.close()]);
    },
  };
}

/** The uid of ConfigMap `namespace/name` in the source's state, where the source has one. */
function uidOf(state: SourceState | undefined, configMap: string): string | undefined {
  const [namespace = '', name = ''] = configMap.split('/');
  return state?.objects.get(objectKey({ kind: 'ConfigMap', namespace, name }))?.uid;
}
