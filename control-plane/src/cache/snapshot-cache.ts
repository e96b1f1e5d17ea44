// One snapshot per node group. What a group is *served* can differ from the latest snapshot:
// when an Envoy NACKs the served snapshot, the group falls back to its last fully ACKed one
// until the pipeline produces a different snapshot.
//
// Absence is not deletion. A group the pipeline has said nothing about since this process started
// is *unknown*: an Envoy of it that reports having config (a non-empty version in the requests that
// open its subscriptions, as Envoy sends after every reconnect) is *held* — it gets no response at
// all and keeps what it has — while a new Envoy (nothing to lose) gets the empty configuration.
// The pipeline can also hold a group explicitly (its ConfigMap exists but has no valid version):
// then no Envoy of it is answered. Only a snapshot set by the pipeline (possibly the empty one,
// after a deletion it saw) releases a hold.
import { EMPTY_SNAPSHOT, type Snapshot } from './snapshot.ts';
import { CLUSTER, LISTENER, PUSH_ORDER, type TypeUrl } from '../xds/type-urls.ts';
import { baseGroupKey } from '../translate/names.ts';

interface GroupState {
  kind: 'snapshot';
  latest: Snapshot;
  served: Snapshot;
  /** Types of `served` that some Envoy of the group has ACKed. */
  acked: Set<TypeUrl>;
  lastGood?: Snapshot;
  rejected?: Rejection;
  /** When each type of `latest` got its current version (performance.now() ms): its publication. */
  publishedAt: Record<TypeUrl, number>;
}

type Entry = GroupState | { kind: 'held'; reason: string };

export interface Rejection {
  snapshotVersion: string;
  type: TypeUrl;
  nodeId: string;
  message: string;
}

export type NackOutcome = 'rolled-back' | 'kept' | 'stale';

export interface GroupStatus {
  group: string;
  latest: string;
  served: string;
  lastGood?: string;
  rejected?: Rejection;
  origins: readonly string[];
}

/** A group whose Envoys get no response, and why. */
export interface HeldGroup {
  group: string;
  reason: string;
  /** The node ids of its connected Envoys that are held. */
  nodes: string[];
}

/** One Envoy's stream, as the cache sees it. */
export interface Subscription {
  /** The version_info of a request that opens (or, after a reconnect, re-opens) the subscription
   * to a type: what the Envoy has of it. */
  reported(type: TypeUrl, version: string): void;
  /** What to send the Envoy now; undefined means nothing: before the first sync, or while held. */
  served(): Snapshot | undefined;
  close(): void;
}

export const UNKNOWN_GROUP_REASON = 'no ConfigMap configures it, and none was seen deleted, since this control plane started; its Envoys that have config keep it';

interface Subscriber {
  group: string;
  nodeId: string;
  /** The Envoy reported a version other than none or the empty configuration's. */
  hasConfig: boolean;
  onChange: () => void;
}

export interface SnapshotCacheOptions {
  /** Called with every held group whenever that list changes. */
  onHeldChange?: (held: readonly HeldGroup[]) => void;
}

/** Subscribers called on one turn of the event loop (see deliver()). */
const NOTIFY_BATCH = 32;

export class SnapshotCache {
  private synced = false;
  private readonly groups = new Map<string, Entry>();
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private readonly pendingNotify = new Set<string>();
  /** Group → its delivery in progress (see deliver()). */
  private readonly delivering = new Map<string, object>();
  private readonly onHeldChange: ((held: readonly HeldGroup[]) => void) | undefined;
  private heldSignature = '[]';

  constructor(o: SnapshotCacheOptions = {}) {
    this.onHeldChange = o.onHeldChange;
  }

  /** Sets a group's snapshot (releasing a hold). One equal to the latest (e.g. the one an Envoy just
   * rejected) changes nothing. */
  set(group: string, snapshot: Snapshot): void {
    const st = this.groups.get(group);
    const now = performance.now();
    if (st?.kind !== 'snapshot') {
      const publishedAt = Object.fromEntries(PUSH_ORDER.map((t) => [t, now])) as Record<TypeUrl, number>;
      this.groups.set(group, { kind: 'snapshot', latest: snapshot, served: snapshot, acked: new Set(), publishedAt });
      this.notify(group);
      this.heldChanged();
      return;
    }
    if (st.latest.version === snapshot.version) return;
    for (const t of PUSH_ORDER) if (st.latest.types[t].version !== snapshot.types[t].version) st.publishedAt[t] = now;
    st.latest = snapshot;
    st.rejected = undefined;
    if (st.served.version === snapshot.version) return;
    // A type whose version did not change is not sent again, so it will not be ACKed again: what
    // Envoy accepted of it still counts.
    const previous = st.served;
    st.acked = new Set([...st.acked].filter((t) => previous.types[t].version === snapshot.types[t].version));
    st.served = snapshot;
    if (isFullyAcked(snapshot, st.acked)) st.lastGood = snapshot;
    this.notify(group);
  }

  /** Holds a group: none of its Envoys (nor of its environments without a snapshot of their own)
   * is answered until set() or remove(). Used for a group whose config exists but was never valid. */
  hold(group: string, reason: string): void {
    const st = this.groups.get(group);
    if (st?.kind === 'held' && st.reason === reason) return;
    this.groups.set(group, { kind: 'held', reason });
    this.heldChanged();
  }

  /** Forgets a group: it is unknown again (an environment's group falls back to its base group's). */
  remove(group: string): void {
    if (!this.groups.delete(group)) return;
    this.notify(group);
    this.heldChanged();
  }

  /** The groups the pipeline has set or held. */
  groupNames(): string[] {
    return [...this.groups.keys()];
  }

  /** Called once the sources have delivered their first complete state: until then nothing is served. */
  markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    for (const g of this.subscribers.keys()) this.notify(g);
    this.heldChanged();
  }

  isSynced(): boolean {
    return this.synced;
  }

  /** What an Envoy of the group that reports no config gets now; undefined before the first sync
   * and while the group is held. */
  served(group: string): Snapshot | undefined {
    return this.answer(group, false);
  }

  /** The snapshot the pipeline last set for exactly this group, if any. */
  latest(group: string): Snapshot | undefined {
    const st = this.groups.get(group);
    return st?.kind === 'snapshot' ? st.latest : undefined;
  }

  /** The version of a type the pipeline last published for the Envoys of this group (its own, or
   * its base group's for an environment without one), and when; undefined while held or unknown. */
  published(group: string, type: TypeUrl): { version: string; at: number } | undefined {
    const st = this.state(group);
    return st && { version: st.latest.types[type].version, at: st.publishedAt[type] };
  }

  subscribe(group: string, nodeId: string, onChange: () => void): Subscription {
    const sub: Subscriber = { group, nodeId, hasConfig: false, onChange };
    let set = this.subscribers.get(group);
    if (!set) this.subscribers.set(group, (set = new Set()));
    set.add(sub);
    this.subscribersChanged(group);
    return {
      reported: (type, version) => {
        if (sub.hasConfig || version === '' || version === EMPTY_SNAPSHOT.types[type].version) return;
        sub.hasConfig = true;
        this.subscribersChanged(group);
      },
      served: () => this.answer(sub.group, sub.hasConfig),
      close: () => {
        if (!set.delete(sub)) return;
        if (set.size === 0) this.subscribers.delete(group);
        this.subscribersChanged(group);
      },
    };
  }

  /** Groups whose Envoys get no response, sorted; empty before the first sync. */
  held(): HeldGroup[] {
    if (!this.synced) return [];
    const out = new Map<string, HeldGroup>();
    for (const [group, e] of this.groups) if (e.kind === 'held') out.set(group, { group, reason: e.reason, nodes: [] });
    for (const [group, subs] of this.subscribers) {
      for (const sub of subs) {
        const found = this.entry(group);
        if (found?.entry.kind === 'snapshot' || (!found && !sub.hasConfig)) continue;
        const key = found?.key ?? group;
        let h = out.get(key);
        if (!h) out.set(key, (h = { group: key, reason: UNKNOWN_GROUP_REASON, nodes: [] }));
        h.nodes.push(sub.nodeId);
      }
    }
    for (const h of out.values()) h.nodes.sort();
    return [...out.values()].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  }

  ack(group: string, type: TypeUrl, version: string): void {
    const st = this.state(group);
    if (!st || st.served.types[type].version !== version) return;
    st.acked.add(type);
    if (isFullyAcked(st.served, st.acked)) st.lastGood = st.served;
  }

  nack(group: string, type: TypeUrl, version: string, nodeId: string, message: string): NackOutcome {
    const st = this.state(group);
    if (!st || st.served.types[type].version !== version) return 'stale';
    st.rejected = { snapshotVersion: st.served.version, type, nodeId, message };
    if (!st.lastGood || st.lastGood.version === st.served.version) return 'kept';
    st.served = st.lastGood;
    st.acked = new Set(PUSH_ORDER);
    this.notify(group);
    return 'rolled-back';
  }

  status(): GroupStatus[] {
    const out: GroupStatus[] = [];
    for (const [group, st] of [...this.groups].sort(([a], [b]) => a.localeCompare(b))) {
      if (st.kind !== 'snapshot') continue;
      out.push({
        group,
        latest: st.latest.version,
        served: st.served.version,
        ...(st.lastGood ? { lastGood: st.lastGood.version } : {}),
        ...(st.rejected ? { rejected: st.rejected } : {}),
        origins: st.latest.origins,
      });
    }
    return out;
  }

  private answer(group: string, hasConfig: boolean): Snapshot | undefined {
    if (!this.synced) return undefined;
    const e = this.entry(group)?.entry;
    if (e) return e.kind === 'snapshot' ? e.served : undefined;
    return hasConfig ? undefined : EMPTY_SNAPSHOT;
  }

  /** An environment's group without an entry of its own is governed by its base group's. */
  private entry(group: string): { key: string; entry: Entry } | undefined {
    for (const key of [group, baseGroupKey(group)]) {
      const entry = this.groups.get(key);
      if (entry) return { key, entry };
    }
    return undefined;
  }

  private state(group: string): GroupState | undefined {
    const e = this.entry(group)?.entry;
    return e?.kind === 'snapshot' ? e : undefined;
  }

  /** An Envoy of a group with a snapshot is never held: its comings and goings (a thousand Envoys
   * connecting at once) need no look at every other subscriber. */
  private subscribersChanged(group: string): void {
    if (this.entry(group)?.entry.kind === 'snapshot') return;
    this.heldChanged();
  }

  private heldChanged(): void {
    if (!this.onHeldChange) return;
    const held = this.held();
    const signature = JSON.stringify(held);
    if (signature === this.heldSignature) return;
    this.heldSignature = signature;
    this.onHeldChange(held);
  }

  /** Subscribers run once per tick, after the caller's own state changes are complete. A base
   * group's change also reaches the environments' subscribers that fall back to it. */
  private notify(group: string): void {
    const keys = [group, ...[...this.subscribers.keys()].filter((k) => k !== group && baseGroupKey(k) === group && !this.groups.has(k))];
    for (const key of keys) {
      if (this.pendingNotify.has(key)) continue;
      this.pendingNotify.add(key);
      queueMicrotask(() => {
        this.pendingNotify.delete(key);
        const delivery = {};
        this.delivering.set(key, delivery);
        this.deliver(key, delivery, [...(this.subscribers.get(key) ?? [])], 0);
      });
    }
  }

  /** Calls the subscribers NOTIFY_BATCH at a time, each batch on its own turn of the event loop:
   * the responses of one batch are written before the next batch's are made, so the first Envoys
   * have a change without waiting for a thousand others' responses. A newer delivery of the same
   * group (which calls them all again) ends this one. */
  private deliver(key: string, delivery: object, subs: readonly Subscriber[], from: number): void {
    if (this.delivering.get(key) !== delivery) return;
    const current = this.subscribers.get(key);
    const end = Math.min(subs.length, from + NOTIFY_BATCH);
    for (let i = from; i < end; i++) {
      const sub = subs[i] as Subscriber;
      if (current?.has(sub)) sub.onChange(); // not one that left meanwhile
    }
    if (end < subs.length) setImmediate(() => this.deliver(key, delivery, subs, end));
    else this.delivering.delete(key);
  }
}

/** Every wildcard type, and every type that has resources, was accepted. */
function isFullyAcked(s: Snapshot, acked: ReadonlySet<TypeUrl>): boolean {
  return PUSH_ORDER.every((t) => acked.has(t) || (t !== CLUSTER && t !== LISTENER && s.types[t].resources.size === 0));
}
