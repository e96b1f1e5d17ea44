// Which node group an Envoy belongs to: its namespace (node.metadata.namespace), ambassador
// (node.cluster) and, optionally, environment (node.metadata.environment).
import type { GroupId } from '../translate/names.ts';

export interface NodeInfo {
  id: string;
  cluster: string;
  metadata: Record<string, unknown>;
  userAgent: string;
}

const DEFAULT_NAMESPACE = 'default';

export type GroupResult = { ok: true; group: GroupId } | { ok: false; message: string };

export function nodeGroup(node: NodeInfo): GroupResult {
  if (node.cluster === '') {
    return { ok: false, message: `node "${node.id}" has no node.cluster: set it to the ambassador name (xds-ambassador bootstrap --ambassador NAME does)` };
  }
  const ns = node.metadata.namespace;
  if (ns !== undefined && (typeof ns !== 'string' || ns === '')) {
    return { ok: false, message: `node "${node.id}" has node.metadata.namespace ${JSON.stringify(ns)}: expected a namespace name string` };
  }
  const env = node.metadata.environment;
  if (env !== undefined && (typeof env !== 'string' || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(env))) {
    return { ok: false, message: `node "${node.id}" has node.metadata.environment ${JSON.stringify(env)}: expected an environment name (lowercase letters, digits and "-")` };
  }
  return { ok: true, group: { namespace: ns ?? DEFAULT_NAMESPACE, ambassador: node.cluster, ...(env === undefined ? {} : { environment: env }) } };
}
