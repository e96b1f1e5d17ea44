// Kubernetes API objects → the sources' ConfigMapObject / SecretObject.
import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import type { ConfigMapObject, SecretObject } from './types.ts';

export function fromConfigMap(cm: V1ConfigMap): ConfigMapObject | undefined {
  const namespace = cm.metadata?.namespace;
  const name = cm.metadata?.name;
  if (!namespace || !name) return undefined;
  // A Date from a list, an RFC 3339 string from a watch event (client-node does not convert those).
  const stamp = cm.metadata?.creationTimestamp as Date | string | undefined;
  const created = stamp === undefined ? undefined : new Date(stamp).getTime();
  // binaryData arrives base64-encoded (the API server validated it).
  const binary = Object.entries(cm.binaryData ?? {});
  const binaryData = binary.length > 0 ? { binaryData: Object.fromEntries(binary.map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])) } : {};
  return { kind: 'ConfigMap', namespace, name, labels: cm.metadata?.labels ?? {}, origin: `kubernetes ConfigMap ${namespace}/${name}`, data: cm.data ?? {}, ...binaryData, ...(created === undefined || Number.isNaN(created) ? {} : { created }), ...(cm.metadata?.uid ? { uid: cm.metadata.uid } : {}) };
}

export function fromSecret(s: V1Secret): SecretObject | undefined {
  const namespace = s.metadata?.namespace;
  const name = s.metadata?.name;
  if (!namespace || !name) return undefined;
  const data: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(s.data ?? {})) data[k] = Buffer.from(v, 'base64');
  return { kind: 'Secret', namespace, name, type: s.type ?? 'Opaque', labels: s.metadata?.labels ?? {}, origin: `kubernetes Secret ${namespace}/${name}`, data };
}
