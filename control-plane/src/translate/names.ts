// Resource names are scoped by namespace and ambassador so that two ambassadors never collide,
// and they are deterministic so versions are identical across restarts and replicas.
export interface GroupId {
  namespace: string;
  ambassador: string;
}

export function groupKey(g: GroupId): string {
  return `${g.namespace}/${g.ambassador}`;
}

export function scopedName(g: GroupId, local: string): string {
  return `${g.namespace}/${g.ambassador}/${local}`;
}
