// Logs and metrics for what the xDS server does.
import { SHORT_NAME, isTypeUrl } from '../xds/type-urls.ts';
import type { XdsObserver } from '../server/observer.ts';
import type { ConfigStatusSink } from './config-status.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';

type Counter = ReturnType<Metrics['responses']['labels']>;

const short = (t: string) => (isTypeUrl(t) ? SHORT_NAME[t] : t);

/** A client refused again and again (an Envoy retrying with a bad token) is logged once per window. */
const REFUSAL_LOG_WINDOW_MS = 10 * 60_000;
const REFUSAL_LOG_MAX_CLIENTS = 10_000;

/** `isGroup` says whether a node group exists in the config: only those become metric labels. */
export function xdsObserver(log: Logger, metrics: Metrics, isGroup: (group: string) => boolean, status?: ConfigStatusSink): XdsObserver {
  const refusalsLogged = new Map<string, number>();
  const groupLabel = (g: string) => (isGroup(g) ? g : 'unconfigured');
  // Per type, the labelled children of the per-response counters: no label lookup per response.
  const perType = new Map<string, { responses: Counter; resourcesSent: Counter; acks: Counter }>();
  const counters = (type: string) => {
    let c = perType.get(type);
    if (!c) {
      const labels = { type: short(type) };
      perType.set(type, (c = { responses: metrics.responses.labels(labels), resourcesSent: metrics.resourcesSent.labels(labels), acks: metrics.acks.labels(labels) }));
    }
    return c;
  };
  return {
    streamOpened(s) {
      metrics.streams.inc();
      log.info({ stream: s.streamId, node: s.node.id, group: s.group, client: s.client, envoy: s.node.userAgent, protocol: s.protocol }, 'ADS stream opened');
    },
    streamClosed(s, reason) {
      metrics.streams.dec();
      log.info({ stream: s.streamId, node: s.node.id, group: s.group, reason }, 'ADS stream closed');
    },
    streamRefused(r) {
      metrics.refusals.inc({ reason: r.reason });
      const host = r.peer.replace(/:\d+$/, '');
      const key = `${host}\u0000${r.reason}`;
      const now = Date.now();
      const last = refusalsLogged.get(key);
      if (last !== undefined && now - last < REFUSAL_LOG_WINDOW_MS) return;
      refusalsLogged.delete(key);
      if (refusalsLogged.size >= REFUSAL_LOG_MAX_CLIENTS) refusalsLogged.delete(refusalsLogged.keys().next().value ?? '');
      refusalsLogged.set(key, now);
      log.warn({ client: host, node: r.nodeId, reason: r.reason }, `ADS stream refused: ${r.message}`);
    },
    responseSent(s, type, version, resources, delta) {
      const c = counters(type);
      c.responses.inc();
      c.resourcesSent.inc(delta ? delta.sent.length : resources.length);
      if (!log.isLevelEnabled('debug')) return;
      const change = delta ? { sent: delta.sent.length, removed: delta.removed.length } : {};
      log.debug({ stream: s.streamId, node: s.node.id, type: short(type), version, resources: resources.length, ...change }, 'sent');
    },
    ack(s, type, version) {
      counters(type).acks.inc();
      if (log.isLevelEnabled('debug')) log.debug({ stream: s.streamId, node: s.node.id, type: short(type), version }, 'ACK');
    },
    nack(s, type, version, message, origins, outcome) {
      metrics.nacks.inc({ type: short(type), group: groupLabel(s.group) });
      const action = outcome === 'rolled-back' ? 'the group is served its last accepted version'
        : outcome === 'kept' ? 'no earlier accepted version exists; the rejected version is not pushed again'
          : 'an older version was rejected; nothing to do';
      log.error({ node: s.node.id, group: s.group, type: short(type), version, from: origins, envoy_error: message, outcome },
        `Envoy ${s.node.id} rejected ${short(type)} version ${version} from ${origins.join(', ') || 'no config'}: ${message} — ${action}`);
      if (outcome !== 'stale') {
        for (const o of origins) if (o.startsWith('ConfigMap ')) status?.nacked(o.slice('ConfigMap '.length), s.node.id, short(type), message);
      }
    },
    staleNonce(s, type) {
      metrics.staleNonces.inc({ type: short(type) });
      log.debug({ stream: s.streamId, node: s.node.id, type: short(type) }, 'stale nonce ignored');
    },
    unknownType(s, type) {
      log.warn({ stream: s.streamId, node: s.node.id, type }, `Envoy ${s.node.id} asked for ${type}, which this control plane does not serve`);
    },
  };
}
