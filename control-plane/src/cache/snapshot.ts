// A snapshot is everything one node group is served: per type, the resources and a content-hash version.
import { contentHash, type EncodedResource } from './encode.ts';
import { PUSH_ORDER, type TypeUrl } from '../xds/type-urls.ts';

export interface TypeResources {
  version: string;
  resources: ReadonlyMap<string, EncodedResource>;
}

export interface Snapshot {
  /** Hash of every type's version: equal snapshots have equal versions, across restarts and replicas. */
  version: string;
  types: Readonly<Record<TypeUrl, TypeResources>>;
  /** The inputs it was built from (e.g. "ConfigMap shop/orders"), for logs and status. */
  origins: readonly string[];
  /** The identities (service accounts of the group's namespace) it may be served to; undefined: all. */
  clients?: readonly string[];
}

/** The version of a set of resources: a hash over their sorted names and content hashes. */
export function resourcesVersion(resources: Iterable<EncodedResource>): string {
  return namedVersionsHash([...resources].map((r) => [r.name, r.hash] as const));
}

/** The same version computed from name → content hash pairs (what a Delta client reports having):
 * equal to the snapshot's type version when they are exactly its resources. */
export function namedVersionsHash(entries: Iterable<readonly [string, string]>): string {
  const lines = [...entries].map(([name, hash]) => `${name}\u0000${hash}`).sort();
  return contentHash(lines.join('\n'));
}

export function buildSnapshot(resources: readonly EncodedResource[], origins: readonly string[], clients?: readonly string[]): Snapshot {
  const byType = {} as Record<TypeUrl, TypeResources>;
  for (const type of PUSH_ORDER) {
    const map = new Map<string, EncodedResource>();
    for (const r of resources) if (r.type === type) map.set(r.name, r);
    const sorted = new Map([...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    byType[type] = { version: resourcesVersion(sorted.values()), resources: sorted };
  }
  const sortedClients = clients && [...new Set(clients)].sort();
  // Who may receive it is part of what it is: a changed list is a new snapshot (re-checked by streams).
  const parts = [...PUSH_ORDER.map((t) => byType[t].version), ...(sortedClients ? [`clients:${sortedClients.join(' ')}`] : [])];
  return {
    version: contentHash(parts.join(',')),
    types: byType,
    origins: [...origins].sort(),
    ...(sortedClients ? { clients: sortedClients } : {}),
  };
}

export const EMPTY_SNAPSHOT: Snapshot = buildSnapshot([], []);
