// The Kubernetes source: informers (list + watch) on a real API server.
// - ConfigMaps labelled xds-ambassador.io/config=true, in every namespace or the ones given.
// - Secrets by name: only those the configs reference (want()), one field-selected watch each, so
//   the control plane never caches the cluster's other Secrets (RBAC still grants list/watch on
//   secrets; see deploy/).
// client-node's ListWatch relists on 410 Gone and reconnects after a quiet watch (its 30 s
// inactivity timeout doubles as the watchdog for half-open connections); after any other error it
// stops, and this source restarts it with capped, jittered back-off. During an outage the last
// known objects stay, so the last snapshot keeps being served.
import { CoreV1Api, KubeConfig, ListWatch, Watch, type KubernetesObject, type V1ConfigMap, type V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { CONFIG_LABEL } from '../model/parse-configmap.ts';
import { fromConfigMap, fromSecret } from './kubernetes-objects.ts';
import { objectKey, type Source, type SourceObject, type SourceState } from './types.ts';

export interface KubernetesSourceOptions {
  kubeConfig: KubeConfig;
  /** Namespaces to read; empty means all. */
  namespaces: readonly string[];
  logger: Logger;
}

const BACKOFF_MIN_MS = 200;
const BACKOFF_MAX_MS = 5000;

interface Watched {
  informer: ListWatch<KubernetesObject>;
  listed: boolean;
  stopped: boolean;
  failures: number;
  timer?: NodeJS.Timeout;
  /** Keys of the objects this informer contributed. */
  keys: Set<string>;
}

export class KubernetesSource implements Source {
  readonly #o: KubernetesSourceOptions;
  readonly #api: CoreV1Api;
  readonly #watch: Watch;
  readonly #objects = new Map<string, SourceObject>();
  readonly #configMapWatches = new Map<string, Watched>();
  readonly #secretWatches = new Map<string, Watched>();
  #onChange: ((s: SourceState) => void) | undefined;
  #emitNext: NodeJS.Immediate | undefined;
  #stopped = false;

  constructor(o: KubernetesSourceOptions) {
    this.#o = o;
    this.#api = o.kubeConfig.makeApiClient(CoreV1Api);
    this.#watch = new Watch(o.kubeConfig);
  }

  async start(onChange: (state: SourceState) => void): Promise<void> {
    this.#onChange = onChange;
    const selector = `${CONFIG_LABEL}=true`;
    const scopes = this.#o.namespaces.length ? this.#o.namespaces : [''];
    await Promise.all(scopes.map((ns) => {
      const path = ns ? `/api/v1/namespaces/${ns}/configmaps` : '/api/v1/configmaps';
      const list = () => (ns
        ? this.#api.listNamespacedConfigMap({ namespace: ns, labelSelector: selector })
        : this.#api.listConfigMapForAllNamespaces({ labelSelector: selector }));
      return this.#startWatch(this.#configMapWatches, ns || '*', path, list, selector, undefined, (o) => fromConfigMap(o as V1ConfigMap));
    }));
    this.#emit();
  }

  /** The Secrets ("namespace/name") the configs reference: watched from now on, the others dropped.
   * Each is reported read (SourceState.secretsRead) once its watch has listed. */
  want(secrets: ReadonlySet<string>): void {
    if (this.#stopped) return;
    for (const [key, w] of this.#secretWatches) {
      if (secrets.has(key)) continue;
      void this.#stopWatch(w);
      this.#secretWatches.delete(key);
      for (const k of w.keys) this.#objects.delete(k);
      this.#scheduleEmit();
    }
    for (const key of secrets) {
      if (this.#secretWatches.has(key)) continue;
      const [namespace = '', name = ''] = key.split('/');
      if (this.#o.namespaces.length && !this.#o.namespaces.includes(namespace)) continue;
      void this.#startWatch(this.#secretWatches, key, `/api/v1/namespaces/${namespace}/secrets`,
        () => this.#api.listNamespacedSecret({ namespace, fieldSelector: `metadata.name=${name}` }),
        undefined, `metadata.name=${name}`, (o) => fromSecret(o as V1Secret));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearImmediate(this.#emitNext);
    await Promise.all([...this.#configMapWatches.values(), ...this.#secretWatches.values()].map((w) => this.#stopWatch(w)));
  }

  /** Every ConfigMap informer has listed at least once. */
  #complete(): boolean {
    return [...this.#configMapWatches.values()].every((w) => w.listed);
  }

  /** The Secrets whose watch has listed: what the state says of them (found or not) is true. */
  #secretsRead(): Set<string> {
    return new Set([...this.#secretWatches].filter(([, w]) => w.listed).map(([key]) => key));
  }

  async #startWatch(
    into: Map<string, Watched>, key: string, path: string,
    list: () => Promise<{ items: KubernetesObject[]; metadata?: { resourceVersion?: string } }>,
    labelSelector: string | undefined, fieldSelector: string | undefined,
    convert: (o: KubernetesObject) => SourceObject | undefined,
  ): Promise<void> {
    const informer = new ListWatch<KubernetesObject>(path, this.#watch, list, false, labelSelector, fieldSelector);
    const w: Watched = { informer, listed: false, stopped: false, failures: 0, keys: new Set() };
    into.set(key, w);
    const upsert = (o: KubernetesObject) => {
      const obj = convert(o);
      if (!obj) return;
      const k = objectKey(obj);
      w.keys.add(k);
      this.#objects.set(k, obj);
      this.#scheduleEmit();
    };
    const remove = (o: KubernetesObject) => {
      const obj = convert(o);
      if (!obj) return;
      const k = objectKey(obj);
      w.keys.delete(k);
      this.#objects.delete(k);
      this.#scheduleEmit();
    };
    informer.on('add', upsert);
    informer.on('update', upsert);
    informer.on('delete', remove);
    informer.on('connect', () => { w.failures = 0; });
    informer.on('error', (err: unknown) => {
      if (this.#stopped || w.stopped) return; // our own stop aborts the watch: not a failure
      w.failures++;
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (w.failures - 1)) * (0.5 + Math.random() / 2);
      this.#o.logger.warn({ watch: path, fieldSelector, err: errorText(err), retry_ms: Math.round(delay) }, 'Kubernetes watch failed; retrying');
      w.timer = setTimeout(() => void this.#run(w), delay);
    });
    await this.#run(w);
  }

  /** Starts (or restarts) an informer; the first successful list marks it listed. */
  async #run(w: Watched): Promise<void> {
    if (this.#stopped || w.stopped) return;
    try {
      await w.informer.start();
    } catch (err) {
      this.#o.logger.warn({ err: errorText(err) }, 'Kubernetes list failed; retrying');
    }
    // Stopped while listing: ListWatch opens its watch request after the list regardless, and an
    // orphaned watch would hold a connection (and the process) open. Close it now.
    if (this.#stopped || w.stopped) {
      await w.informer.stop();
      return;
    }
    if (!w.listed && w.informer.latestResourceVersion() !== '') {
      w.listed = true;
      this.#scheduleEmit();
    }
  }

  async #stopWatch(w: Watched): Promise<void> {
    w.stopped = true;
    clearTimeout(w.timer);
    await w.informer.stop();
  }

  #scheduleEmit(): void {
    if (this.#emitNext || this.#stopped) return;
    // The events of one turn (a relist delivers many at once, a watch chunk several) make one state.
    this.#emitNext = setImmediate(() => {
      this.#emitNext = undefined;
      this.#emit();
    });
  }

  #emit(): void {
    if (!this.#onChange || this.#stopped) return;
    try {
      this.#onChange({ objects: new Map(this.#objects), problems: [], complete: this.#complete(), secretsRead: this.#secretsRead() });
    } catch (err) {
      // Called from a timer: an exception would end the process. The next change is delivered anyway.
      this.#o.logger.error({ err: errorText(err) }, 'onChange handler threw');
    }
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}
