// One snapshot per node group. What a group is *served* can differ from the latest snapshot:
// when an Envoy NACKs the served snapshot, the group falls back to its last fully ACKed one
// until the pipeline produces a different snapshot.
import { EMPTY_SNAPSHOT, type Snapshot } from './snapshot.ts';
import { CLUSTER, LISTENER, PUSH_ORDER, type TypeUrl } from '../xds/type-urls.ts';
import { baseGroupKey } from '../translate/names.ts';

interface GroupState {
  latest: Snapshot;
  served: Snapshot;
  /** Types of `served` that some Envoy of the group has ACKed. */
  acked: Set<TypeUrl>;
  lastGood?: Snapshot;
  rejected?: Rejection;
}

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

export class SnapshotCache {
  private synced = false;
  private readonly groups = new Map<string, GroupState>();
  private readonly watchers = new Map<string, Set<() => void>>();
  private readonly pendingNotify = new Set<string>();

  /** Sets a group's snapshot. One equal to the latest (e.g. the one an Envoy just rejected) changes nothing. */
  set(group: string, snapshot: Snapshot): void {
    const st = this.groups.get(group);
    if (!st) {
      this.groups.set(group, { latest: snapshot, served: snapshot, acked: new Set() });
      this.notify(group);
      return;
    }
    if (st.latest.version === snapshot.version) return;
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

  /** Forgets an environment's group: its Envoys are then served the base group's snapshot. */
  remove(group: string): void {
    if (this.groups.delete(group)) this.notify(group);
  }

  groupNames(): string[] {
    return [...this.groups.keys()];
  }

  /** Called once the sources have delivered their first complete state: until then nothing is served. */
  markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    for (const g of this.watchers.keys()) this.notify(g);
  }

  isSynced(): boolean {
    return this.synced;
  }

  /** What the group's Envoys get now; undefined before the first sync. */
  served(group: string): Snapshot | undefined {
    if (!this.synced) return undefined;
    return this.state(group)?.served ?? EMPTY_SNAPSHOT;
  }

  watch(group: string, fn: () => void): () => void {
    let set = this.watchers.get(group);
    if (!set) this.watchers.set(group, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.watchers.delete(group);
    };
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
    return [...this.groups].sort(([a], [b]) => a.localeCompare(b)).map(([group, st]) => ({
      group,
      latest: st.latest.version,
      served: st.served.version,
      ...(st.lastGood ? { lastGood: st.lastGood.version } : {}),
      ...(st.rejected ? { rejected: st.rejected } : {}),
      origins: st.latest.origins,
    }));
  }

  /** An environment's group without a snapshot of its own is served its base group's. */
  private state(group: string): GroupState | undefined {
    return this.groups.get(group) ?? this.groups.get(baseGroupKey(group));
  }

  /** Watchers run once per tick, after the caller's own state changes are complete. A base group's
   * change also reaches the environments' watchers that fall back to it. */
  private notify(group: string): void {
    const keys = [group, ...[...this.watchers.keys()].filter((k) => k !== group && baseGroupKey(k) === group && !this.groups.has(k))];
    for (const key of keys) {
      if (this.pendingNotify.has(key)) continue;
      this.pendingNotify.add(key);
      queueMicrotask(() => {
        this.pendingNotify.delete(key);
        for (const fn of [...(this.watchers.get(key) ?? [])]) fn();
      });
    }
  }
}

/** Every wildcard type, and every type that has resources, was accepted. */
function isFullyAcked(s: Snapshot, acked: ReadonlySet<TypeUrl>): boolean {
  return PUSH_ORDER.every((t) => acked.has(t) || (t !== CLUSTER && t !== LISTENER && s.types[t].resources.size === 0));
}
