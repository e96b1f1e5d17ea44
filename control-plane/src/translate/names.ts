// Resource names are scoped by namespace and ambassador so that two ambassadors never collide,
// and they are deterministic so versions are identical across restarts and replicas.
export interface GroupId {
  namespace: string;
  ambassador: string;
  /** node.metadata.environment, when the Envoy declares one. */
  environment?: string;
}

/** "namespace/ambassador", or "namespace/ambassador@environment". */
export function groupKey(g: GroupId): string {
  return g.environment === undefined ? `${g.namespace}/${g.ambassador}` : `${g.namespace}/${g.ambassador}@${g.environment}`;
}

/** The group an environment's group falls back to when its config has no such environment. */
export function baseGroupKey(key: string): string {
  const at = key.indexOf('@');
  return at === -1 ? key : key.slice(0, at);
}

export function scopedName(g: GroupId, local: string): string {
  return `${g.namespace}/${g.ambassador}/${local}`;
}
