// Convergence, measured like Istio's pilot_proxy_convergence_time: from the publication of a
// type's new version for a group (the snapshot cache took it) to each Envoy's ACK of a response
// built from that version. Only Envoys connected before the publication count: a new or
// reconnecting Envoy's first config measures its connection, not a change. A version an Envoy
// rejects (NACK), or one superseded before the Envoy ACKed it, is not measured: the next one is,
// from its own publication.
import type { Snapshot } from '../cache/snapshot.ts';
import type { StreamRef, XdsObserver } from '../server/observer.ts';
import { InFlight } from '../server/status/in-flight.ts';
import { isTypeUrl, SHORT_NAME, type TypeUrl } from '../xds/type-urls.ts';

export interface PublishedVersions {
  served(group: string): Snapshot | undefined;
  published(group: string, type: TypeUrl): { version: string; at: number } | undefined;
}

export interface SecondsHistogram {
  observe(labels: { type: string }, seconds: number): void;
}

interface StreamState {
  openedAt: number;
  /** Per type: the responses in flight, each with the served snapshot's version of the type it was built from. */
  inflight: Map<TypeUrl, InFlight<string>>;
  /** Per type: the publication last measured, so a repeated ACK of it counts once. */
  measured: Map<TypeUrl, number>;
}

export function convergenceObserver(cache: PublishedVersions, histogram: SecondsHistogram, now: () => number = () => performance.now()): XdsObserver {
  const streams = new Map<number, StreamState>();
  const answered = (s: StreamRef, type: string, version: string): { st: StreamState; type: TypeUrl; from: string } | undefined => {
    const st = streams.get(s.streamId);
    const from = isTypeUrl(type) ? st?.inflight.get(type)?.answered(version) : undefined;
    if (!st || from === undefined || !isTypeUrl(type)) return undefined;
    return { st, type, from };
  };
  return {
    streamOpened(s) {
      streams.set(s.streamId, { openedAt: now(), inflight: new Map(), measured: new Map() });
    },
    streamClosed(s) {
      streams.delete(s.streamId);
    },
    responseSent(s, type, version, _resources, delta) {
      const st = streams.get(s.streamId);
      const from = isTypeUrl(type) ? cache.served(s.group)?.types[type].version : undefined;
      if (!st || !isTypeUrl(type) || from === undefined) return;
      let flights = st.inflight.get(type);
      if (!flights) st.inflight.set(type, (flights = new InFlight()));
      flights.sent(version, from, delta === undefined);
    },
    ack(s, type, version) {
      const a = answered(s, type, version);
      if (!a) return;
      const p = cache.published(s.group, a.type);
      if (!p || p.version !== a.from || p.at < a.st.openedAt || a.st.measured.get(a.type) === p.at) return;
      a.st.measured.set(a.type, p.at);
      histogram.observe({ type: SHORT_NAME[a.type] }, (now() - p.at) / 1000);
    },
    nack(s, type, version) {
      answered(s, type, version);
    },
    streamRefused() {},
    staleNonce() {},
    unknownType() {},
  };
}
