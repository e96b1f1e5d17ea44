// Which node group an Envoy belongs to: its namespace (node.metadata.namespace) and ambassador (node.cluster).
import type { GroupId } from '../translate/names.ts';

export interface NodeInfo {
  id: string;
  cluster: string;
  metadata: Record<string, unknown>;
  userAgent: string;
}

export const DEFAULT_NAMESPACE = 'default';

export type GroupResult = { ok: true; group: GroupId } | { ok: false; message: string };

export function nodeGroup(node: NodeInfo): GroupResult {
  if (node.cluster === '') {
    return { ok: false, message: `node "${node.id}" has no node.cluster: set it to the ambassador name (xds-ambassador bootstrap --ambassador NAME does)` };
  }
  const ns = node.metadata.namespace;
  if (ns !== undefined && (typeof ns !== 'string' || ns === '')) {
    return { ok: false, message: `node "${node.id}" has node.metadata.namespace ${JSON.stringify(ns)}: expected a namespace name string` };
  }
  return { ok: true, group: { namespace: ns ?? DEFAULT_NAMESPACE, ambassador: node.cluster } };
}
