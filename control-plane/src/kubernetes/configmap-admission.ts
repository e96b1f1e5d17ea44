// Whether the API server should store a ConfigMap: the same per-ConfigMap validation the pipeline
// runs (parseConfigMap, so `kubectl apply` prints what `xds-ambassador validate` prints), plus the
// one check that needs the other ConfigMaps: an ambassador already served by another ConfigMap of
// the namespace is not taken over. Whatever the control plane would ignore is allowed.
import { formatConfigError, type ConfigError } from '../model/errors.ts';
import { CONFIG_KEY, isAmbassadorConfigMap, type ParseResult } from '../model/parse-configmap.ts';
import type { ConfigMapObject } from '../sources/types.ts';
import { fromConfigMap } from '../sources/kubernetes-objects.ts';
import { admittedConfigMapSchema, type AdmissionRequest, type AdmittedConfigMap, type Verdict } from './admission-review.ts';

/** What the webhook asks of the running pipeline. */
export interface AdmissionContext {
  /** The ConfigMap ("namespace/name") serving this ambassador now, if any. */
  ownerOf(namespace: string, ambassador: string): string | undefined;
  /** The pipeline's own validation of one ConfigMap (off the event loop for a large one). */
  parse(cm: ConfigMapObject): Promise<ParseResult>;
}

/** The request cannot be what the API server sends (answered 400, never allowed or refused). */
export class MalformedAdmissionRequest extends Error {}

export async function admitConfigMap(request: AdmissionRequest, context: AdmissionContext): Promise<Verdict> {
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return { allowed: true };
  if (request.kind.group !== '' || request.kind.kind !== 'ConfigMap') return { allowed: true };
  const object = admittedConfigMapSchema.safeParse(request.object);
  if (!object.success) throw new MalformedAdmissionRequest(`request.object is not a ConfigMap (${object.error.issues[0]?.path.join('.') ?? ''}: ${object.error.issues[0]?.message ?? ''})`);
  const cm = toSourceObject(request, object.data);
  if (!cm || !isAmbassadorConfigMap(cm)) return { allowed: true };
  // A ConfigMap on its way out (finalizers being removed) is not stopped, whatever it holds.
  if (object.data.metadata.deletionTimestamp !== undefined) return { allowed: true };
  if (request.operation === 'UPDATE') {
    // An edit that leaves the config as it was (labels, annotations, finalizers) changes nothing
    // the control plane serves: refusing it would only make an old invalid ConfigMap impossible to
    // label, annotate or delete.
    const old = admittedConfigMapSchema.safeParse(request.oldObject);
    const oldCm = old.success ? toSourceObject(request, old.data) : undefined;
    if (old.success && oldCm && isAmbassadorConfigMap(oldCm) && oldCm.data[CONFIG_KEY] === cm.data[CONFIG_KEY] && sameBinaryData(old.data, object.data)) return { allowed: true };
  }

  const id = `${cm.namespace}/${cm.name}`;
  const parsed = await context.parse(cm);
  if (!parsed.ok) return refuse(parsed.errors);

  const ambassador = parsed.config.ambassador;
  const owner = context.ownerOf(cm.namespace, ambassador);
  if (owner !== undefined && owner !== id) {
    return refuse([{
      object: id,
      key: CONFIG_KEY,
      path: 'ambassador',
      message: `ambassador "${ambassador}" in namespace "${cm.namespace}" is already configured by ConfigMap ${owner}; put all of an ambassador's listeners in one ConfigMap, or give this one another ambassador name`,
    }]);
  }
  return { allowed: true };
}

/** The ConfigMap as the Kubernetes source would hand it to the pipeline. On CREATE the name may
 * still be a generateName prefix. */
function toSourceObject(request: AdmissionRequest, o: AdmittedConfigMap): ReturnType<typeof fromConfigMap> {
  const namespace = o.metadata.namespace ?? request.namespace ?? '';
  const name = o.metadata.name ?? request.name ?? (o.metadata.generateName === undefined ? '' : `${o.metadata.generateName}<generated>`);
  return fromConfigMap({ metadata: { namespace, name, labels: o.metadata.labels }, data: o.data, binaryData: o.binaryData });
}

/** binaryData is part of the config: transcoding routes read their descriptor sets from it. */
function sameBinaryData(a: AdmittedConfigMap, b: AdmittedConfigMap): boolean {
  const x = a.binaryData ?? {};
  const y = b.binaryData ?? {};
  return Object.keys(x).length === Object.keys(y).length && Object.entries(x).every(([k, v]) => y[k] === v);
}

/** parseConfigMap already lists at most MAX_ERRORS (a hostile ConfigMap can have thousands), then counts the rest. */
function refuse(errors: readonly ConfigError[]): Verdict {
  return { allowed: false, message: errors.map(formatConfigError).join('\n') };
}
