// Config status as Kubernetes Events (events.k8s.io/v1) on the ConfigMap, so that
// `kubectl describe configmap NAME` says why a config is or is not live. An event repeated within
// DEDUP_MS is not sent again, and each ConfigMap gets at most BURST events of each reason, refilled
// one per REFILL_MS, so a NACK storm from many Envoys cannot flood the API server. Accepted and
// Invalid say what the ConfigMap's state is now: after one of them, the other is never deduplicated
// (a fix back to an earlier version is Accepted again, so the latest event tells the truth).
import os from 'node:os';
import { CoreV1Api, EventsV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../observe/log.ts';
import type { ConfigStatusSink } from './config-status.ts';

const DEDUP_MS = 10 * 60_000;
const BURST = 5;
const REFILL_MS = 10_000;
const MAX_NOTE = 1024; // the API server limits an Event's note to 1 kB
/** The reasons that state whether a ConfigMap's content is live, each with its opposite. */
const STATE_REASONS: Readonly<Record<string, string>> = { Accepted: 'Invalid', Invalid: 'Accepted' };

export class KubeEventRecorder implements ConfigStatusSink {
  readonly #api: EventsV1Api;
  readonly #core: CoreV1Api;
  /** Events are sent one after another, so that they reach the API server in the order they happened. */
  #queue: Promise<void> = Promise.resolve();
  readonly #log: Logger;
  readonly #sent = new Map<string, number>();
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #now: () => number;
  #serial = 0;

  constructor(kc: KubeConfig, log: Logger, now: () => number = Date.now) {
    this.#api = kc.makeApiClient(EventsV1Api);
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#log = log;
    this.#now = now;
  }

  accepted(configMap: string, ambassador: string, version: string, uid?: string): void {
    this.#record(configMap, uid, 'Normal', 'Accepted', 'Publish', `served to the Envoys of ambassador "${ambassador}" as version ${version}`);
  }

  rejected(configMap: string, errors: readonly string[], uid?: string): void {
    this.#record(configMap, uid, 'Warning', 'Invalid', 'Validate', `not applied, the last good version stays served: ${errors.join('; ')}`);
  }

  nacked(configMap: string, nodeId: string, type: string, message: string): void {
    this.#record(configMap, undefined, 'Warning', 'RejectedByEnvoy', 'Apply', `Envoy ${nodeId} rejected the ${type} update: ${message}`);
  }

  #record(configMap: string, knownUid: string | undefined, type: 'Normal' | 'Warning', reason: string, action: string, note: string): void {
    const [namespace = '', name = ''] = configMap.split('/');
    const now = this.#now();
    const key = `${configMap}\u0000${reason}\u0000${note}`;
    const last = this.#sent.get(key);
    if (last !== undefined && now - last < DEDUP_MS) return;
    // Budgets per ConfigMap and reason: a burst of one kind (say NACKs) cannot starve another.
    if (!this.#take(`${configMap}\u0000${reason}`, now)) {
      this.#log.debug({ configMap, reason }, 'event rate limit reached; event dropped');
      return;
    }
    this.#sent.set(key, now);
    const opposite = STATE_REASONS[reason];
    if (opposite !== undefined) {
      for (const k of this.#sent.keys()) if (k.startsWith(`${configMap}\u0000${opposite}\u0000`)) this.#sent.delete(k);
    }
    for (const [k, at] of this.#sent) if (now - at >= DEDUP_MS) this.#sent.delete(k);
    const body = {
      // Named as kubectl's recorders name events: the object, a dot, the time in hex (unique enough,
      // and a valid name, which a generateName ending in "." is not).
      metadata: { name: `${name}.${(now * 1000 + (this.#serial++ % 1000)).toString(16)}` },
      // MicroTime: the API server requires six fractional digits; client-node writes a Date with
      // three, and passes a string through as is.
      eventTime: new Date(now).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date,
      regarding: { apiVersion: 'v1', kind: 'ConfigMap', namespace, name } as { apiVersion: string; kind: string; namespace: string; name: string; uid?: string },
      type,
      reason,
      action,
      note: note.length > MAX_NOTE ? `${note.slice(0, MAX_NOTE - 1)}…` : note,
      reportingController: 'xds-ambassador.io/control-plane',
      reportingInstance: os.hostname(),
    };
    this.#queue = this.#queue.then(async () => {
      // `kubectl describe configmap` lists the events whose object has the ConfigMap's uid: as the
      // source read it, else looked up (a ConfigMap deleted meanwhile gets its event without one).
      const uid = knownUid ?? await this.#core.readNamespacedConfigMap({ name, namespace }).then((cm) => cm.metadata?.uid, () => undefined);
      if (uid !== undefined) body.regarding.uid = uid;
      await this.#api.createNamespacedEvent({ namespace, body });
    }).catch((err: unknown) => {
      this.#log.warn({ configMap, reason, err: apiError(err) }, 'could not record a Kubernetes Event');
    });
  }

  #take(bucket: string, now: number): boolean {
    const b = this.#buckets.get(bucket) ?? { tokens: BURST, at: now };
    b.tokens = Math.min(BURST, b.tokens + (now - b.at) / REFILL_MS);
    b.at = now;
    this.#buckets.set(bucket, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

/** The API server's own message of a failed call (client-node's error text holds the whole response). */
function apiError(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      const status = JSON.parse(body) as { message?: string; code?: number };
      if (status.message) return `${status.code ?? ''} ${status.message}`.trim();
    } catch { /* not a Status */ }
  }
  return err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err);
}
