// One ADS State-of-the-World stream: the protocol state machine, free of gRPC so it can be driven directly.
//
// Rules (Envoy's xDS protocol document):
// - a response carries a fresh nonce; a request whose nonce is not the latest one sent for its type
//   is stale and ignored entirely;
// - a request echoing the latest nonce ACKs it when its version_info is that response's version, NACKs
//   it when it has error_detail, and is otherwise only a subscription update (after a NACK, Envoy
//   resends its older version with the same nonce and no error_detail);
// - CDS/LDS: a stream that never named a resource of the type is a wildcard subscription; "*" is
//   one explicitly; once names were sent, an empty list means no resources;
// - a type is not pushed again while its previous response awaits ACK/NACK, and never with an
//   unchanged version unless new names were subscribed or the request was an initial one;
// - make before break (make-before-break.ts): LDS waits for CDS and EDS to settle (ACKed, not
//   NACKed, and every accepted EDS cluster to have its endpoints), RDS also waits for LDS; clusters
//   the Envoy's current routes still use are kept in CDS until those routes are replaced;
// - the cache is told which served snapshot a response was built from, so that ACK/NACK (and NACK
//   rollback) apply even when the response differs from it (retained clusters, named subsets);
// - the version_info of a nonce-less request (what Envoy has, e.g. after a reconnect) goes to the
//   cache, which may hold the stream: no response at all, so Envoy keeps its config.
import type { Subscription } from '../cache/snapshot-cache.ts';
import type { EncodedResource } from '../cache/encode.ts';
import { resourcesVersion, type Snapshot, type TypeResources } from '../cache/snapshot.ts';
import { CLUSTER, ENDPOINT, LISTENER, PUSH_ORDER, ROUTE, WILDCARD_TYPES, isTypeUrl, type TypeUrl } from '../xds/type-urls.ts';
import { encodeResponseBody, withNonce, type DiscoveryRequest } from './discovery-messages.ts';
import { authorizeClients } from './auth/authorize.ts';
import { clustersReferenced, waitsForDependencies } from './make-before-break.ts';
import { sentResource, type SentResource, type StreamRef } from './observer.ts';
import type { StreamDeps } from './stream-deps.ts';
import { newNonce } from './nonce.ts';
import { openStream } from './stream-open.ts';

interface TypeState {
  wildcard: boolean;
  /** Some request named resources (or "*"): an empty list no longer means the legacy wildcard. */
  explicit: boolean;
  names: Set<string>;
  /** An initial (nonce-less) request arrived: it is answered even if nothing changed. */
  fresh: boolean;
  pending: boolean;
  /** The latest response was NACKed. */
  rejected: boolean;
  sentNonce?: string;
  sentVersion?: string;
  /** The version of the served snapshot's type the latest response was built from (what the cache knows). */
  sentFrom?: string;
  /** What the latest response carried, by name; the snapshot's own map when it carried the whole
   * type (shared by every stream it went to, so never changed in place). */
  sent: ReadonlyMap<string, EncodedResource>;
  acked: ReadonlyMap<string, EncodedResource>;
  /** The latest response computed for this type, with what it was computed from. */
  memo?: Memo;
}

/** A type with no state yet (one identity, so that memos compare equal). */
const NONE: ReadonlyMap<string, EncodedResource> = new Map();

/** What a type's response was computed from: the same inputs (by identity: each is replaced, never
 * changed in place) give the same response. Most requests concern one type; the other types'
 * responses need no computing again. */
interface Memo {
  from: TypeResources;
  names: Set<string>;
  wildcard: boolean;
  sent: ReadonlyMap<string, EncodedResource>;
  /** The other types' state it depends on (CDS: what the listeners and routes use; EDS: the clusters sent). */
  deps: readonly ReadonlyMap<string, EncodedResource>[];
  resources: EncodedResource[];
  version: string;
  namesAdded: boolean;
}

export class SotwStream {
  private ref?: StreamRef;
  /** The cache decides what this Envoy is served, given what it reported having. */
  private sub?: Subscription;
  private readonly types = new Map<TypeUrl, TypeState>();
  /** EDS names of clusters that the latest CDS response added or changed: Envoy (re)creates them,
   * and a new instance warms only on a fresh EDS response, even when the endpoints did not change. */
  private readonly rewarm = new Set<string>();
  /** Envoy has processed that CDS response: it re-requested EDS (it does so before the CDS ACK,
   * which it holds until the clusters are warm) or ACKed the CDS. */
  private rewarmArmed = false;
  private settledMemo?: { inputs: readonly unknown[]; settled: boolean };

  private closed = false;
  private readonly id: number;
  private readonly deps: StreamDeps;

  constructor(id: number, deps: StreamDeps) {
    this.id = id;
    this.deps = deps;
  }

  get streamRef(): StreamRef | undefined {
    return this.ref;
  }

  handle(req: DiscoveryRequest): void {
    if (this.closed) return;
    if (!this.ref) {
      const opened = openStream(this.id, 'sotw', this.deps, req.node, () => this.pushAll());
      if (!opened) return;
      this.ref = opened.ref;
      this.sub = opened.sub;
    }
    const ref = this.ref;
    if (!isTypeUrl(req.type_url)) return this.deps.observer.unknownType(ref, req.type_url);
    const type = req.type_url;
    const st = this.state(type);
    if (type === ENDPOINT || (type === CLUSTER && req.response_nonce === st.sentNonce)) this.rewarmArmed = true;

    if (req.response_nonce !== '') {
      if (req.response_nonce !== st.sentNonce) return this.deps.observer.staleNonce(ref, type);
      st.pending = false;
      const version = st.sentVersion ?? '';
      if (req.error_detail) {
        st.rejected = true;
        if (type === CLUSTER) this.rewarm.clear(); // Envoy kept its old clusters
        // The origins of what was rejected, read before the cache may roll the group back.
        const origins = this.deps.cache.served(ref.group)?.origins ?? [];
        const outcome = this.deps.cache.nack(ref.group, type, st.sentFrom ?? '', ref.node.id, req.error_detail.message);
        this.deps.observer.nack(ref, type, version, req.error_detail.message, origins, outcome);
      } else if (req.version_info === version) {
        st.acked = st.sent;
        this.deps.cache.ack(ref.group, type, st.sentFrom ?? '');
        this.deps.observer.ack(ref, type, version);
      }
    } else {
      st.fresh = true;
      this.sub?.reported(type, req.version_info);
    }

    const names = req.resource_names.filter((n) => n !== '*');
    if (req.resource_names.length > 0) st.explicit = true;
    st.wildcard = WILDCARD_TYPES.has(type) && (!st.explicit || req.resource_names.includes('*'));
    // The same names (an ACK, mostly) keep their set, and so the type's memo.
    if (names.length !== st.names.size || names.some((n) => !st.names.has(n))) st.names = new Set(names);
    this.pushAll();
  }

  /** The previous response drained: send what is due now. */
  resume(): void {
    this.pushAll();
  }

  close(reason: string): void {
    this.closed = true;
    this.sub?.close();
    this.sub = undefined;
    if (this.ref) this.deps.observer.streamClosed(this.ref, reason);
  }

  private state(type: TypeUrl): TypeState {
    let st = this.types.get(type);
    if (!st) {
      st = { wildcard: false, explicit: false, names: new Set(), fresh: false, pending: false, rejected: false, sent: new Map(), acked: new Map() };
      this.types.set(type, st);
    }
    return st;
  }

  private pushAll(): void {
    if (!this.ref || this.closed) return;
    const served = this.sub?.served();
    if (!served) return; // sources not synced yet, or held: never an LDS/CDS that removes what Envoy has
    // A config edit may take this identity off the ambassador's list: it gets nothing more.
    const verdict = authorizeClients(this.deps.identity, served.clients, this.ref.group);
    if (!verdict.ok) return this.deps.refuse(verdict);
    for (const type of PUSH_ORDER) {
      if (!this.deps.ready()) return; // resume() continues once the client has read
      this.tryPush(type, served);
    }
  }

  private tryPush(type: TypeUrl, served: Snapshot): void {
    const st = this.types.get(type);
    if (!st || st.pending) return;
    // A named type with no names is unsubscribed: Envoy expects (and ACKs) no response for it.
    if (!this.subscribed(st)) return;
    if (waitsForDependencies(type, {
      pending: (t) => this.isPending(t),
      rejected: (t) => this.isRejected(t),
      rewarming: () => this.rewarm.size > 0,
      endpointsSettled: () => this.endpointsSettled(served),
    })) return;
    const { resources, version, namesAdded } = this.response(type, st, served);
    const rewarming = type === ENDPOINT && this.rewarmArmed && [...this.rewarm].some((n) => st.names.has(n));
    if (type === ENDPOINT && !rewarming) this.dropUnsubscribedRewarm(st);
    if (!st.fresh && !namesAdded && !rewarming && st.sentVersion === version) return;
    this.send(type, st, version, resources, served.types[type]);
  }

  /** The type's response as due now, and whether it adds names the Envoy newly subscribed to. */
  private response(type: TypeUrl, st: TypeState, served: Snapshot): Memo {
    const from = served.types[type];
    const deps = this.dependencies(type);
    const m = st.memo;
    if (m && m.from === from && m.names === st.names && m.wildcard === st.wildcard && m.sent === st.sent
      && m.deps[0] === deps[0] && m.deps[1] === deps[1] && m.deps[2] === deps[2] && m.deps[3] === deps[3]) return m;
    const resources = this.desired(type, st, served);
    st.memo = {
      from, names: st.names, wildcard: st.wildcard, sent: st.sent, deps, resources,
      version: this.versionOf(resources, from),
      namesAdded: !st.wildcard && addsNames(st, resources),
    };
    return st.memo;
  }

  /** The other types' maps desired() reads for this type. */
  private dependencies(type: TypeUrl): ReadonlyMap<string, EncodedResource>[] {
    if (type === ENDPOINT) return [this.types.get(CLUSTER)?.sent ?? NONE];
    if (type !== CLUSTER) return [];
    const l = this.types.get(LISTENER);
    const r = this.types.get(ROUTE);
    return [l?.acked ?? NONE, l?.sent ?? NONE, r?.acked ?? NONE, r?.sent ?? NONE];
  }

  private desired(type: TypeUrl, st: TypeState, served: Snapshot): EncodedResource[] {
    const available = served.types[type].resources;
    if (type === CLUSTER) {
      const gone = [...st.sent.values()].filter((c) => !available.has(c.name));
      if (gone.length === 0) return st.wildcard ? wholeType(served.types[type]) : this.select(st, [...available.values()]);
      const inUse = this.clustersInUse();
      return this.select(st, [...available.values(), ...gone.filter((c) => inUse.has(c.name))]);
    }
    if (type === ENDPOINT) {
      const clusters = this.types.get(CLUSTER)?.sent ?? NONE;
      const out: EncodedResource[] = [];
      for (const n of st.names) {
        const cla = available.get(n) ?? (clusters.has(n) ? st.sent.get(n) : undefined);
        if (cla) out.push(cla);
      }
      return out;
    }
    return st.wildcard ? wholeType(served.types[type]) : [...available.values()].filter((r) => st.names.has(r.name));
  }

  /** The snapshot's own version when the response is exactly its resources (computed once per
   * snapshot); otherwise a hash of this response's resources. */
  private versionOf(resources: readonly EncodedResource[], whole: TypeResources): string {
    const same = resources.length === whole.resources.size && resources.every((r) => whole.resources.get(r.name) === r);
    return same ? whole.version : resourcesVersion(resources);
  }

  private select(st: TypeState, all: EncodedResource[]): EncodedResource[] {
    return st.wildcard ? all : all.filter((r) => st.names.has(r.name));
  }

  /** Clusters referenced by the listeners and routes this Envoy has, or is being sent. */
  private clustersInUse(): Set<string> {
    return clustersReferenced(([LISTENER, ROUTE] as const).flatMap((type) => {
      const st = this.types.get(type);
      return [...(st?.acked.values() ?? []), ...(st?.sent.values() ?? [])];
    }));
  }

  /** Every EDS cluster the Envoy accepted is subscribed and has been sent its endpoints. Asked on
   * every LDS and RDS push; answered again only when one of its inputs was replaced. */
  private endpointsSettled(served: Snapshot): boolean {
    const eds = this.types.get(ENDPOINT);
    const inputs = [served.types[ENDPOINT], this.types.get(CLUSTER)?.acked, eds?.sent, eds?.names] as const;
    const m = this.settledMemo;
    if (m && m.inputs.every((x, i) => x === inputs[i])) return m.settled;
    let settled = true;
    for (const c of inputs[1]?.values() ?? []) {
      if (c.edsName === undefined) continue;
      const known = inputs[0].resources.has(c.edsName) || eds?.sent.has(c.edsName);
      if (known && !(eds?.names.has(c.edsName) && eds.sent.has(c.edsName))) {
        settled = false;
        break;
      }
    }
    this.settledMemo = { inputs, settled };
    return settled;
  }

  /** Only a type Envoy still watches can hold others back: it ignores responses for the rest. */
  private isPending(type: TypeUrl): boolean {
    const st = this.types.get(type);
    return st !== undefined && st.pending && this.subscribed(st);
  }

  private subscribed(st: TypeState): boolean {
    return st.wildcard || st.names.size > 0;
  }

  /** A re-created cluster the Envoy does not subscribe to (any more) waits for nothing. */
  private dropUnsubscribedRewarm(eds: TypeState): void {
    if (!this.rewarmArmed) return;
    for (const n of [...this.rewarm]) if (!eds.names.has(n)) this.rewarm.delete(n);
  }

  private isRejected(type: TypeUrl): boolean {
    return this.types.get(type)?.rejected ?? false;
  }

  private send(type: TypeUrl, st: TypeState, version: string, resources: EncodedResource[], from: TypeResources): void {
    if (!this.ref) return;
    // Unpredictable, so that only a client that read the response can ACK or NACK it.
    const nonce = newNonce();
    if (type === CLUSTER) {
      this.rewarmArmed = false;
      for (const r of resources) {
        // New and changed EDS clusters both wait for a fresh EDS response, even for an endpoint
        // name Envoy already subscribes to (clusters sharing a service_name, a re-created cluster).
        const before = st.sent.get(r.name);
        if (r.edsName !== undefined && before?.hash !== r.hash) this.rewarm.add(r.edsName);
      }
    }
    if (type === ENDPOINT) this.rewarm.clear();
    st.sentNonce = nonce;
    st.sentVersion = version;
    st.sentFrom = from.version;
    st.rejected = false;
    // Most responses are the snapshot's whole type (its own version): encoded once for every
    // stream, and what each stream then holds of it is shared too.
    const whole = version === from.version;
    st.sent = whole ? from.resources : new Map(resources.map((r) => [r.name, r]));
    st.pending = true;
    st.fresh = false;
    const body = whole
      ? wholeTypeBody(from, type, this.deps.controlPlaneId)
      : encodeResponseBody({ versionInfo: version, typeUrl: type, resources: resources.map((r) => r.any), controlPlane: this.deps.controlPlaneId });
    this.deps.send(withNonce(body, nonce));
    this.deps.observer.responseSent(this.ref, type, version, whole ? sentWholeType(from) : resources.map(sentResource));
  }
}

/** Whether the response carries a name the Envoy subscribed to that it was not sent before. */
function addsNames(st: TypeState, resources: readonly EncodedResource[]): boolean {
  return resources.some((r) => st.names.has(r.name) && !st.sent.has(r.name));
}

/** Per snapshot type, made once for every stream subscribed to all of it: its resources as a list,
 * as observers are told of them, and its response without a nonce (for one control plane id). */
interface WholeType {
  resources: EncodedResource[];
  sent?: SentResource[];
  body?: { controlPlane: string; bytes: Uint8Array };
}
const wholeTypes = new WeakMap<TypeResources, WholeType>();

function wholeTypeEntry(t: TypeResources): WholeType {
  let w = wholeTypes.get(t);
  if (!w) wholeTypes.set(t, (w = { resources: [...t.resources.values()] }));
  return w;
}

function wholeType(t: TypeResources): EncodedResource[] {
  return wholeTypeEntry(t).resources;
}

function sentWholeType(t: TypeResources): SentResource[] {
  const w = wholeTypeEntry(t);
  w.sent ??= w.resources.map(sentResource);
  return w.sent;
}

/** The resources in the snapshot's order (a SotW response is a set: Envoy's subscription order,
 * which may differ between streams, does not matter). */
function wholeTypeBody(t: TypeResources, typeUrl: TypeUrl, controlPlane: string): Uint8Array {
  const w = wholeTypeEntry(t);
  if (w.body?.controlPlane !== controlPlane) {
    w.body = { controlPlane, bytes: encodeResponseBody({ versionInfo: t.version, typeUrl, resources: w.resources.map((r) => r.any), controlPlane }) };
  }
  return w.body.bytes;
}
