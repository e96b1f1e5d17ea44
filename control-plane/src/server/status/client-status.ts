// What every connected Envoy has, as its xDS streams report it (SotW and Delta alike, through the
// XdsObserver events): per resource, the version last sent and whether the Envoy ACKed it, NACKed
// it (with Envoy's message) or has not answered yet. CSDS and the admin API read it.
//
// Rules:
// - a resource a response adds or changes is REQUESTED until that response is ACKed (then ACKED)
//   or NACKed (then NACKED, with Envoy's message); a resource it repeats unchanged stays ACKED;
// - a response is reported with the type's whole state once the Envoy applies it (SotW: what it
//   carries; Delta: what the Envoy had, changed by it), so once it is ACKed what it lacks is gone;
// - a SotW response supersedes the one before it; Delta responses are answered one by one;
// - a NACK stays visible: when the group falls back to its last accepted version ('rolled-back'),
//   a rejected resource the fallback does not carry (a new one) stays listed as NACKED, with the
//   version that was rejected, until a later config is ACKed; one it carries is ACKED again at its
//   accepted version (its error cleared by that successful update, as CSDS defines error_state);
// - a Secret's content is never kept (SDS resources are listed by name and version only).
import type { NackOutcome } from '../../cache/snapshot-cache.ts';
import { SECRET } from '../../xds/type-urls.ts';
import type { NodeInfo } from '../node.ts';
import type { DeltaChange, SentResource, StreamRef, XdsObserver } from '../observer.ts';
import { InFlight } from './in-flight.ts';

export type ResourceStatus = 'REQUESTED' | 'ACKED' | 'NACKED';

export interface ResourceView {
  typeUrl: string;
  name: string;
  /** The resource's version (content hash) last sent to this Envoy. */
  version: string;
  /** That resource (an encoded google.protobuf.Any); never for a Secret. */
  any?: Uint8Array;
  status: ResourceStatus;
  /** For NACKED: Envoy's message and the response version it rejected. */
  error?: { message: string; responseVersion: string; at: Date };
  updatedAt: Date;
}

export interface TypeView {
  typeUrl: string;
  /** The version (version_info / system_version_info) of the latest response sent. */
  sent: string;
  /** The version of the latest response ACKed, if any. */
  acked?: string;
  /** The latest NACK, until a later config is ACKed. */
  rejected?: { version: string; message: string; at: Date };
}

export interface ClientView {
  streamId: number;
  node: NodeInfo;
  group: string;
  /** Who the client proved to be. */
  client: string;
  connectedAt: Date;
  types: TypeView[];
  resources: ResourceView[];
}

interface Flight {
  /** The type's resources once the Envoy applies the response. */
  resources: readonly SentResource[];
  /** Sent right after this Envoy's NACK made the group fall back to its last accepted version. */
  rollback: boolean;
}

interface TypeState {
  sent: string;
  acked?: string;
  rejected?: { version: string; message: string; at: Date };
  inflight: InFlight<Flight>;
  /** The next response is the fallback after this Envoy's NACK. */
  rollbackNext: boolean;
  /** By name. Changed in place: kept for every resource of every connected Envoy. */
  resources: Map<string, Kept>;
}

/** A resource's state on one stream (its type and name are the keys it is kept under). */
interface Kept {
  version: string;
  /** Never a Secret's. */
  any: Uint8Array | undefined;
  status: ResourceStatus;
  error: ResourceView['error'] | undefined;
  updatedAt: Date;
}

interface StreamState {
  ref: StreamRef;
  connectedAt: Date;
  types: Map<string, TypeState>;
}

export class ClientStatusRegistry implements XdsObserver {
  readonly #streams = new Map<number, StreamState>();
  readonly #now: () => Date;

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
  }

  /** Every connected Envoy, by node id then stream. */
  clients(): ClientView[] {
    return [...this.#streams.values()]
      .sort((a, b) => (a.ref.node.id < b.ref.node.id ? -1 : a.ref.node.id > b.ref.node.id ? 1 : a.ref.streamId - b.ref.streamId))
      .map((s) => ({
        streamId: s.ref.streamId,
        node: s.ref.node,
        group: s.ref.group,
        client: s.ref.client,
        connectedAt: s.connectedAt,
        types: [...s.types].map(([typeUrl, t]) => ({
          typeUrl,
          sent: t.sent,
          ...(t.acked !== undefined ? { acked: t.acked } : {}),
          ...(t.rejected ? { rejected: t.rejected } : {}),
        })),
        resources: [...s.types].flatMap(([typeUrl, t]) => [...t.resources].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, k]) => view(typeUrl, name, k))),
      }));
  }

  streamOpened(s: StreamRef): void {
    this.#streams.set(s.streamId, { ref: s, connectedAt: this.#now(), types: new Map() });
  }

  streamClosed(s: StreamRef): void {
    this.#streams.delete(s.streamId);
  }

  streamRefused(): void {}
  staleNonce(): void {}
  unknownType(): void {}

  responseSent(s: StreamRef, typeUrl: string, version: string, resources: readonly SentResource[], delta?: DeltaChange): void {
    const stream = this.#streams.get(s.streamId);
    if (!stream) return;
    let t = stream.types.get(typeUrl);
    if (!t) stream.types.set(typeUrl, (t = { sent: version, inflight: new InFlight(), rollbackNext: false, resources: new Map() }));
    t.sent = version;
    t.inflight.sent(version, { resources, rollback: t.rollbackNext }, delta === undefined);
    t.rollbackNext = false;
    const onWire = new Map((delta?.sent ?? []).map((r) => [r.name, r]));
    const now = this.#now();
    for (const r of resources) {
      const known = t.resources.get(r.name);
      if (known?.status === 'ACKED' && known.version === r.version) continue;
      const wire = onWire.get(r.name);
      const any = typeUrl === SECRET ? undefined : r.any ?? (wire?.version === r.version ? wire.any : undefined) ?? (known?.version === r.version ? known.any : undefined);
      if (!known) t.resources.set(r.name, { version: r.version, any, status: 'REQUESTED', error: undefined, updatedAt: now });
      else Object.assign(known, { version: r.version, any, status: 'REQUESTED', error: undefined, updatedAt: now });
    }
  }

  ack(s: StreamRef, typeUrl: string, version: string): void {
    const t = this.#streams.get(s.streamId)?.types.get(typeUrl);
    const flight = t?.inflight.answered(version);
    if (!t || !flight) return;
    t.acked = version;
    if (!flight.rollback) t.rejected = undefined;
    const now = this.#now();
    let present = 0;
    for (const r of flight.resources) {
      const known = t.resources.get(r.name);
      if (known) present++;
      if (known?.version !== r.version || known.status === 'ACKED') continue;
      known.status = 'ACKED';
      known.error = undefined;
      known.updatedAt = now;
    }
    // What the response lacks is gone (the fallback leaves the rejected resources out: they stay
    // listed as NACKED until a later config). Nothing to look for when it listed every one.
    if (present === t.resources.size) return;
    const listed = new Set(flight.resources.map((r) => r.name));
    for (const [name, v] of t.resources) if (!listed.has(name) && !(flight.rollback && v.status === 'NACKED')) t.resources.delete(name);
  }

  nack(s: StreamRef, typeUrl: string, version: string, message: string, _origins: readonly string[], outcome: NackOutcome): void {
    const t = this.#streams.get(s.streamId)?.types.get(typeUrl);
    if (!t) return;
    const now = this.#now();
    t.rejected = { version, message, at: now };
    if (outcome === 'rolled-back') t.rollbackNext = true;
    const flight = t.inflight.answered(version);
    for (const r of flight?.resources ?? []) {
      const known = t.resources.get(r.name);
      if (known?.version !== r.version || known.status === 'ACKED') continue;
      Object.assign(known, { status: 'NACKED', error: { message, responseVersion: version, at: now }, updatedAt: now });
    }
  }
}

function view(typeUrl: string, name: string, k: Kept): ResourceView {
  return { typeUrl, name, version: k.version, ...(k.any ? { any: k.any } : {}), status: k.status, ...(k.error ? { error: k.error } : {}), updatedAt: k.updatedAt };
}
