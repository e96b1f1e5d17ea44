// The pipeline, wired: source → model → translate → cache → server, plus observe.
import os from 'node:os';
import { consistencyProblems } from './cache/consistency.ts';
import { encodeResource } from './cache/encode.ts';
import { SnapshotCache } from './cache/snapshot-cache.ts';
import { buildSnapshot, EMPTY_SNAPSHOT, type Snapshot } from './cache/snapshot.ts';
import { formatConfigError, type ConfigError } from './model/errors.ts';
import { ModelBuilder, type AmbassadorModel } from './model/model-builder.ts';
import { CONFIG_KEY } from './model/parse-configmap.ts';
import type { AmbassadorConfig } from './model/schema.ts';
import type { ConfigStatusSink } from './observe/config-status.ts';
import { startHttpServer } from './observe/http.ts';
import type { Logger } from './observe/log.ts';
import { Metrics } from './observe/metrics.ts';
import { xdsObserver } from './observe/xds-observer.ts';
import type { AuthMode } from './server/auth/authenticator.ts';
import { startXdsServer, type XdsLimits, type XdsServer } from './server/grpc-server.ts';
import type { CertificateFiles } from './tls/certificate-files.ts';
import type { Source, SourceState } from './sources/types.ts';
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
}

export interface RunningControlPlane {
  xdsPort: number;
  httpPort: number;
  cache: SnapshotCache;
  /** The ConfigMap ("namespace/name") serving this ambassador now, if any (for the admission webhook). */
  ownerOf(namespace: string, ambassador: string): string | undefined;
  stop(): Promise<void>;
}

export async function startControlPlane(o: ControlPlaneOptions): Promise<RunningControlPlane> {
  const log = o.logger;
  const metrics = new Metrics();
  const cache = new SnapshotCache();
  const root = await xdsRoot();
  const builder = new ModelBuilder();
  const built = new Map<string, { config: AmbassadorConfig; secretsVersion: string; snapshot: Snapshot }>();
  let reported = new Set<string>();
  let status: { errors: string[]; sourceProblems: string[] } = { errors: [], sourceProblems: [] };
  let buildFailure: string | undefined;
  let xds: XdsServer | undefined;
  let owners = new Map<string, string>();

  // Nothing a source delivers may stop the next delivery from being built: an exception here (a
  // bug; per-ConfigMap problems are errors on that ConfigMap) leaves every group as it was.
  const onChange = (state: SourceState) => {
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
    owners = new Map([...model.ambassadors].map(([key, m]) => [key, m.configMap]));
    for (const [key, m] of model.ambassadors) {
      const snapshot = snapshotFor(key, m, model.errors);
      if (snapshot) cache.set(key, snapshot);
    }
    for (const key of cache.groupNames()) {
      if (!model.ambassadors.has(key)) {
        built.delete(key);
        // A removed environment falls back to its ambassador's config; a removed ambassador gets none.
        if (key !== baseGroupKey(key)) cache.remove(key);
        else if (cache.served(key) !== EMPTY_SNAPSHOT) {
          cache.set(key, EMPTY_SNAPSHOT);
          log.info({ group: key }, 'no ConfigMap configures this ambassador any more: its Envoys get an empty configuration');
        }
      }
    }
    const formatted = model.errors.map((e) => ({ object: e.object, text: formatConfigError(e) }));
    const errors = formatted.map((f) => f.text);
    for (const e of errors) if (!reported.has(e)) log.warn(`config rejected, its last good version stays served: ${e}`);
    for (const [configMap, list] of Map.groupBy(formatted, (f) => f.object)) {
      if (list.some((f) => !reported.has(f.text))) o.status?.rejected(configMap, list.map((f) => f.text));
    }
    reported = new Set(errors);
    status = { errors, sourceProblems: state.problems.map((p) => p.message) }; // each message starts with its origin
    metrics.configErrors.set(errors.length + state.problems.length);
    metrics.groups.set(model.ambassadors.size);
    metrics.buildSeconds.observe((performance.now() - started) / 1000);
    // A source that fetches Secrets on demand learns which ones the configs reference.
    const secretsRead = o.source.want?.(model.wantedSecrets) ?? true;
    if (!cache.isSynced() && state.complete !== false && secretsRead) {
      cache.markSynced();
      xds?.setServing(true);
      log.info({ groups: [...model.ambassadors.keys()] }, 'sources synced; serving');
    }
  };

  /** The group's snapshot; a failure to make one is an error on its ConfigMap, added to `errors`. */
  const snapshotFor = (key: string, m: AmbassadorModel, errors: ConfigError[]): Snapshot | undefined => {
    const previous = built.get(key);
    if (previous?.config === m.config && previous.secretsVersion === m.secretsVersion) return previous.snapshot;
    let snapshot: Snapshot;
    let problems: string[];
    try {
      snapshot = buildSnapshot(translateAmbassador(m.group, m.config, m.secrets).map((r) => encodeResource(root, r)), [`ConfigMap ${m.configMap}`], m.config.serviceAccounts);
      problems = consistencyProblems(snapshot);
    } catch (e) {
      log.error({ group: key, err: (e as Error).message }, 'translation failed (a bug): the group keeps its previous snapshot');
      const message = `could not be translated for ${key} (an internal error, please report it: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}) — its Envoys keep their previous configuration`;
      errors.push({ object: m.configMap, key: CONFIG_KEY, path: '', message });
      return undefined;
    }
    if (problems.length > 0) {
      log.error({ group: key, problems }, 'inconsistent snapshot (a bug): the group keeps its previous snapshot');
      return undefined;
    }
    built.set(key, { config: m.config, secretsVersion: m.secretsVersion, snapshot });
    metrics.snapshots.inc();
    log.info({ group: key, version: snapshot.version, from: snapshot.origins }, 'snapshot built');
    if (m.group.environment === undefined && !m.stale) o.status?.accepted(m.configMap, m.group.ambassador, snapshot.version);
    return snapshot;
  };

  xds = await startXdsServer({
    root,
    cache,
    observer: xdsObserver(log, metrics, (g) => cache.groupNames().includes(g), o.status),
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
      status: () => ({ ready: cache.isSynced(), groups: cache.status(), ...status, errors: buildFailure ? [...status.errors, buildFailure] : status.errors }),
    },
  });
  log.info({ xds_port: xds.port, http_port: http.port }, 'listening');
  await o.source.start(onChange);

  return {
    xdsPort: xds.port,
    httpPort: http.port,
    cache,
    ownerOf: (namespace, ambassador) => owners.get(groupKey({ namespace, ambassador })),
    async stop() {
      await o.source.stop();
      await Promise.all([xds?.stop(), http.close()]);
    },
  };
}
