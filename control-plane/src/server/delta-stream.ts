// One ADS Delta (incremental xDS) stream: the protocol state machine, free of gRPC so it can be
// driven directly. It serves the same cache, snapshots and encoded resources as sotw-stream.ts.
//
// Rules (Envoy's xDS protocol document, "Incremental xDS"):
// - subscriptions change by deltas: resource_names_subscribe adds names, resource_names_unsubscribe
//   drops them (unknown names are ignored). For CDS/LDS, "*" is the wildcard; a first request of
//   the type that names nothing at all is the legacy wildcard, which then stays like "*";
// - a response carries only what the Envoy lacks: the resources whose version differs from what it
//   has, and removed_resources for what it has and should not. A resource's version is its
//   content hash, identical across replicas and restarts: the initial_resource_versions of a
//   reconnecting Envoy (also to a restarted control plane) spare it every resource it already has;
// - a name subscribed again is sent again (the client may have forgotten it), unless
//   initial_resource_versions says which version it has; a subscribed name that does not exist
//   is answered in removed_resources, and so is a name unsubscribed under the wildcard that the
//   wildcard does not cover;
// - the first request of a type is answered even when nothing is to be sent: Envoy waits for a
//   CDS and an LDS response to initialize, and after a reconnect its ACK tells the cache (and
//   status) that it has the served version;
// - one response per type awaits its ACK (no error_detail) or NACK (error_detail), told by the
//   nonce; a request echoing another nonce is stale as an ACK/NACK, but its subscription changes
//   apply (unlike State-of-the-World);
// - Envoy may have applied part of a NACKed response (CDS and LDS apply resource by resource): what
//   it carried or removed becomes uncertain, and once the served snapshot changes (the cache's
//   rollback, or an edit) it is sent again or removed; until then only new subscriptions are
//   answered, so a rejected resource is not pushed again;
// - as in State-of-the-World: make before break (make-before-break.ts), with unused clusters
//   removed only once no listener or route the Envoy has refers to them; endpoints sent again for
//   clusters a CDS response re-creates (a re-created cluster warms only on a fresh EDS response,
//   and Delta Envoys send no request for a name they already watch: the EDS response follows the
//   CDS one on the stream, which Envoy processes in order); the cache told which served snapshot a
//   response came from; non-empty initial_resource_versions tell the cache the Envoy has config,
//   which may hold the stream (no response, so it keeps that config);
// - system_version_info is the version of the whole type as the Envoy has it once it applies the
//   response: the snapshot's own version when that is all of it, as in a SotW version_info.
import type { EncodedResource } from '../cache/encode.ts';
import type { Subscription } from '../cache/snapshot-cache.ts';
import { namedVersionsHash, type Snapshot } from '../cache/snapshot.ts';
import { CLUSTER, ENDPOINT, LISTENER, PUSH_ORDER, ROUTE, WILDCARD_TYPES, isTypeUrl, type TypeUrl } from '../xds/type-urls.ts';
import { authorizeClients } from './auth/authorize.ts';
import { encodeDeltaDiscoveryResponse, type DeltaDiscoveryRequest } from './delta-messages.ts';
import { clustersReferenced, waitsForDependencies } from './make-before-break.ts';
import { sentResource, type StreamRef } from './observer.ts';
import type { StreamDeps } from './stream-deps.ts';
import { newNonce } from './nonce.ts';
import { openStream } from './stream-open.ts';

/** Subscriptions accumulate over a stream (unlike State-of-the-World, where each request replaces
 * them, bounded by the message size): a client may not make the stream hold more names per type.
 * Far above what one ambassador config (1 MiB at most) produces. */
const MAX_NAMES_PER_TYPE = 100_000;

/** The version of a resource the Envoy may or may not have applied (it NACKed the response). Not a
 * content hash, so it never matches one. */
const UNSURE = 'unsure';

/** What the Envoy has of one resource. */
interface Held {
  /** The content hash it has, or UNSURE. */
  version: string;
  /** The resources it may be: the one sent, and after a NACK also the rejected one. Empty when
   * only a version was reported (initial_resource_versions): then the served one of that version. */
  resources: readonly EncodedResource[];
}

interface InFlight {
  nonce: string;
  /** system_version_info. */
  version: string;
  /** The version of the served snapshot's type it was built from (what the cache knows). */
  from: string;
  resources: readonly EncodedResource[];
  removed: readonly string[];
}

interface TypeState {
  wildcard: boolean;
  /** Explicitly subscribed names ("*" aside). */
  names: Set<string>;
  has: Map<string, Held>;
  /** Names the next response must mention even if they do not exist: subscribed, or unsubscribed
   * under the wildcard. */
  owed: Set<string>;
  /** The first request of the type: answered even with nothing in it (Envoy waits for a CDS and
   * an LDS response to initialize; after a reconnect, the ACK confirms what it has to the cache). */
  fresh: boolean;
  inFlight?: InFlight;
  /** The latest response was NACKed; it was built from this version of the served type. */
  rejectedFrom?: string;
}

export class DeltaStream {
  private ref?: StreamRef;
  /** The cache decides what this Envoy is served, given what it reported having. */
  private sub?: Subscription;
  private readonly types = new Map<TypeUrl, TypeState>();
  /** EDS names of clusters that a CDS response added or changed: Envoy (re)creates them, and a new
   * instance warms only on a fresh EDS response, even when the endpoints did not change. */
  private readonly rewarm = new Set<string>();
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

  handle(req: DeltaDiscoveryRequest): void {
    if (this.closed) return;
    if (!this.ref) {
      const opened = openStream(this.id, 'delta', this.deps, req.node, () => this.pushAll());
      if (!opened) return;
      this.ref = opened.ref;
      this.sub = opened.sub;
    }
    const ref = this.ref;
    if (!isTypeUrl(req.type_url)) return this.deps.observer.unknownType(ref, req.type_url);
    const type = req.type_url;
    let st = this.types.get(type);
    const first = st === undefined;
    if (!st) {
      st = { wildcard: false, names: new Set(), has: new Map(), owed: new Set(), fresh: false };
      this.types.set(type, st);
    }

    if (req.response_nonce !== '') {
      const answered = st.inFlight;
      if (answered?.nonce !== req.response_nonce) this.deps.observer.staleNonce(ref, type);
      else {
        st.inFlight = undefined;
        if (req.error_detail) this.rejected(ref, type, st, answered, req.error_detail.message);
        else this.accepted(ref, type, st, answered);
      }
    }
    this.subscribe(type, st, req, first);
    if (st.names.size > MAX_NAMES_PER_TYPE || st.has.size > MAX_NAMES_PER_TYPE) {
      return this.deps.fail(`more than ${MAX_NAMES_PER_TYPE} ${type} names subscribed or reported on one stream`);
    }
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

  private accepted(ref: StreamRef, type: TypeUrl, st: TypeState, r: InFlight): void {
    // Like Envoy: a resource it no longer subscribes to is not kept.
    for (const res of r.resources) if (this.wants(st, res.name)) st.has.set(res.name, { version: res.hash, resources: [res] });
    for (const name of r.removed) st.has.delete(name);
    this.deps.cache.ack(ref.group, type, r.from);
    this.deps.observer.ack(ref, type, r.version);
  }

  private rejected(ref: StreamRef, type: TypeUrl, st: TypeState, r: InFlight, message: string): void {
    for (const res of r.resources) st.has.set(res.name, { version: UNSURE, resources: [...(st.has.get(res.name)?.resources ?? []), res] });
    for (const name of r.removed) st.has.set(name, { version: UNSURE, resources: st.has.get(name)?.resources ?? [] });
    st.rejectedFrom = r.from;
    // The origins of what was rejected, read before the cache may roll the group back.
    const origins = this.deps.cache.served(ref.group)?.origins ?? [];
    const outcome = this.deps.cache.nack(ref.group, type, r.from, ref.node.id, message);
    this.deps.observer.nack(ref, type, r.version, message, origins, outcome);
  }

  private subscribe(type: TypeUrl, st: TypeState, req: DeltaDiscoveryRequest, first: boolean): void {
    const wildcardType = WILDCARD_TYPES.has(type);
    if (first) {
      st.fresh = true;
      // The legacy wildcard: a first request that names nothing.
      if (req.resource_names_subscribe.length === 0 && req.resource_names_unsubscribe.length === 0) st.wildcard = wildcardType;
    }
    if (req.initial_resource_versions.size > 0) {
      for (const [name, version] of req.initial_resource_versions) st.has.set(name, { version, resources: [] });
      this.sub?.reported(type, namedVersionsHash(req.initial_resource_versions));
    }
    for (const name of req.resource_names_subscribe) {
      if (name === '*') {
        st.wildcard ||= wildcardType;
        continue;
      }
      st.names.add(name);
      st.owed.add(name);
      // It may have forgotten it: send it again, unless it says which version it has.
      if (!req.initial_resource_versions.has(name)) st.has.delete(name);
    }
    for (const name of req.resource_names_unsubscribe) {
      if (name === '*') {
        if (!st.wildcard) continue;
        st.wildcard = false;
        // Envoy drops what it had through the wildcard alone.
        for (const n of [...st.has.keys()]) if (!st.names.has(n)) st.has.delete(n);
        continue;
      }
      if (!st.names.delete(name)) continue;
      st.has.delete(name);
      // Under the wildcard, Envoy does not know whether it still covers the name: tell it.
      if (st.wildcard) st.owed.add(name);
      else st.owed.delete(name);
    }
  }

  private wants(st: TypeState, name: string): boolean {
    return st.wildcard || st.names.has(name);
  }

  private pushAll(): void {
    if (!this.ref || this.closed) return;
    const served = this.sub?.served();
    if (!served) return; // sources not synced yet, or held: never a removal of what Envoy has
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
    if (!st || st.inFlight) return;
    if (waitsForDependencies(type, {
      pending: (t) => this.isPending(t),
      rejected: (t) => this.types.get(t)?.rejectedFrom !== undefined,
      rewarming: () => this.rewarm.size > 0,
      endpointsSettled: () => this.endpointsSettled(served),
    })) return;
    const current = served.types[type];
    if (st.rejectedFrom !== undefined && st.rejectedFrom !== current.version) st.rejectedFrom = undefined;
    // After a NACK, and until the served snapshot changes, only what was newly asked for is sent.
    const onlyNew = st.rejectedFrom !== undefined;
    const forced = type === ENDPOINT ? this.takeRewarm(st) : new Set<string>();

    const target = this.target(type, st, served);
    const resources: EncodedResource[] = [];
    for (const [name, r] of target) {
      const held = st.has.get(name);
      if (held === undefined || forced.has(name) || (!onlyNew && held.version !== r.hash)) resources.push(r);
    }
    const removed = new Set<string>();
    if (!onlyNew) {
      const keep = this.kept(type, served);
      for (const name of st.has.keys()) if (!target.has(name) && !keep.has(name)) removed.add(name);
    }
    for (const name of st.owed) if (!target.has(name) && !st.has.has(name)) removed.add(name);
    st.owed.clear();
    if (resources.length === 0 && removed.size === 0 && !st.fresh) return;
    this.send(type, st, resources, [...removed], current.version);
  }

  /** What the Envoy should have of the type: the served resources it subscribes to. */
  private target(type: TypeUrl, st: TypeState, served: Snapshot): Map<string, EncodedResource> {
    const available = served.types[type].resources;
    if (st.wildcard) return new Map(available);
    const out = new Map<string, EncodedResource>();
    for (const name of st.names) {
      const r = available.get(name);
      if (r) out.set(name, r);
    }
    return out;
  }

  /** Names the Envoy keeps although the served snapshot no longer has them: clusters its listeners
   * and routes still use, and the endpoints of those clusters. */
  private kept(type: TypeUrl, served: Snapshot): Set<string> {
    if (type === CLUSTER) return this.clustersInUse(served);
    if (type === ENDPOINT) {
      const out = new Set<string>();
      for (const c of this.heldResources(CLUSTER, served)) if (c.edsName !== undefined) out.add(c.edsName);
      return out;
    }
    return new Set();
  }

  /** Clusters referenced by the listeners and routes this Envoy has, or is being sent. */
  private clustersInUse(served: Snapshot): Set<string> {
    return clustersReferenced(([LISTENER, ROUTE] as const).flatMap((t) => [
      ...this.heldResources(t, served),
      ...(this.types.get(t)?.inFlight?.resources ?? []),
    ]));
  }

  /** The resources the Envoy has (or may have) of a type, as far as they are known. */
  private heldResources(type: TypeUrl, served: Snapshot): EncodedResource[] {
    const out: EncodedResource[] = [];
    for (const [name, held] of this.types.get(type)?.has ?? []) {
      if (held.resources.length > 0) out.push(...held.resources);
      else {
        const r = served.types[type].resources.get(name);
        if (r?.hash === held.version) out.push(r);
      }
    }
    return out;
  }

  /** Every EDS cluster the Envoy accepted has its endpoints subscribed and sent. */
  private endpointsSettled(served: Snapshot): boolean {
    const eds = this.types.get(ENDPOINT);
    for (const c of this.heldResources(CLUSTER, served)) {
      if (c.edsName === undefined) continue;
      const known = served.types[ENDPOINT].resources.has(c.edsName) || eds?.has.has(c.edsName);
      if (known && !(eds?.names.has(c.edsName) && eds.has.has(c.edsName))) return false;
    }
    return true;
  }

  /** Only a type Envoy still watches can hold others back: it ignores responses for the rest. */
  private isPending(type: TypeUrl): boolean {
    const st = this.types.get(type);
    return st?.inFlight !== undefined && (st.wildcard || st.names.size > 0);
  }

  /** The re-created clusters' EDS names the Envoy subscribes to, to be sent now; the others
   * (a new name is subscribed by its own request) wait for nothing. */
  private takeRewarm(eds: TypeState): Set<string> {
    const due = new Set([...this.rewarm].filter((n) => eds.names.has(n)));
    this.rewarm.clear();
    return due;
  }

  private send(type: TypeUrl, st: TypeState, resources: EncodedResource[], removed: string[], from: string): void {
    if (!this.ref) return;
    // Unpredictable, so that only a client that read the response can ACK or NACK it.
    const nonce = newNonce();
    if (type === CLUSTER) {
      // New and changed EDS clusters both wait for a fresh EDS response, even for an endpoint
      // name Envoy already subscribes to (clusters sharing a service_name, a re-created cluster).
      for (const r of resources) if (r.edsName !== undefined && st.has.get(r.name)?.version !== r.hash) this.rewarm.add(r.edsName);
    }
    const after = new Map([...st.has].map(([name, held]) => [name, held.version]));
    for (const r of resources) after.set(r.name, r.hash);
    for (const name of removed) after.delete(name);
    const version = namedVersionsHash(after);
    st.inFlight = { nonce, version, from, resources, removed };
    st.fresh = false;
    this.deps.send(encodeDeltaDiscoveryResponse({
      systemVersionInfo: version,
      typeUrl: type,
      nonce,
      resources,
      removed,
      controlPlane: this.deps.controlPlaneId,
    }));
    this.deps.observer.responseSent(this.ref, type, version, [...after].map(([name, v]) => ({ name, version: v })), {
      sent: resources.map(sentResource),
      removed,
    });
  }
}
