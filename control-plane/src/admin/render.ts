// What an Envoy of a given node would receive for a set of manifests, computed exactly as the
// running pipeline computes it (model → translate → encoded snapshot) and applied nowhere. Shared
// by `xds-ambassador render` and the admin API's Render. A Secret is listed by name and version.
import type protobuf from 'protobufjs';
import { consistencyProblems } from '../cache/consistency.ts';
import { encodeResource } from '../cache/encode.ts';
import { buildSnapshot } from '../cache/snapshot.ts';
import { formatConfigError } from '../model/errors.ts';
import { ModelBuilder } from '../model/model-builder.ts';
import { translateAmbassador } from '../translate/ambassador.ts';
import { baseGroupKey, groupKey } from '../translate/names.ts';
import type { JsonObject } from '../translate/types.ts';
import { PUSH_ORDER, SECRET } from '../xds/type-urls.ts';
import { readManifestSet, type ManifestInput } from './manifest-set.ts';

export interface RenderNode {
  namespace?: string;
  ambassador: string;
  environment?: string;
}

export interface RenderedResource {
  typeUrl: string;
  name: string;
  version: string;
  /** Protobuf JSON form; absent for a Secret. */
  resource?: JsonObject;
}

export interface Rendered {
  group: string;
  configMap: string;
  version: string;
  serviceAccounts: string[];
  resources: RenderedResource[];
  /** Errors of the ConfigMap that still let it be served (and every problem of the files). */
  errors: string[];
}

export type RenderResult = { ok: true; rendered: Rendered } | { ok: false; errors: string[] };

export function renderManifests(root: protobuf.Root, inputs: readonly ManifestInput[], node: RenderNode): RenderResult {
  const problems = nodeProblems(node);
  if (problems.length > 0) return { ok: false, errors: problems };
  const g = { group: { namespace: node.namespace || 'default', ambassador: node.ambassador, ...(node.environment ? { environment: node.environment } : {}) } };
  const set = readManifestSet(inputs);
  const model = new ModelBuilder().build({ objects: set.objects, problems: [] });
  // An environment without overrides of its own gets its ambassador's config, as on a running control plane.
  const requested = groupKey(g.group);
  const key = model.ambassadors.has(requested) ? requested : baseGroupKey(requested);
  const m = model.ambassadors.get(key);
  if (!m) {
    const claim = model.held.get(key);
    const why = claim
      ? `ConfigMap ${claim.configMap} claims ambassador "${g.group.ambassador}" of namespace "${g.group.namespace}" but is invalid: an Envoy of it would get no config`
      : `no ConfigMap of namespace "${g.group.namespace}" configures ambassador "${g.group.ambassador}" (found: ${[...new Set([...model.ambassadors.values()].map((a) => groupKey({ namespace: a.group.namespace, ambassador: a.group.ambassador })))].join(', ') || 'none'})`;
    const own = claim ? model.errors.filter((e) => e.object === claim.configMap).map(formatConfigError) : [];
    return { ok: false, errors: [why, ...own, ...set.errors] };
  }
  const xds = translateAmbassador(m.group, m.config, m.secrets);
  const snapshot = buildSnapshot(xds.map((r) => encodeResource(root, r)), [`ConfigMap ${m.configMap}`], m.config.serviceAccounts);
  const inconsistent = consistencyProblems(snapshot);
  if (inconsistent.length > 0) return { ok: false, errors: inconsistent.map((p) => `inconsistent resources (a bug, please report it): ${p}`) };
  const resources: RenderedResource[] = [];
  for (const type of PUSH_ORDER) {
    for (const r of snapshot.types[type].resources.values()) {
      resources.push({ typeUrl: type, name: r.name, version: r.hash, ...(type === SECRET ? {} : { resource: r.body }) });
    }
  }
  return {
    ok: true,
    rendered: {
      group: key,
      configMap: m.configMap,
      version: snapshot.version,
      serviceAccounts: [...(snapshot.clients ?? [])],
      resources,
      errors: [...set.errors, ...model.errors.filter((e) => e.object === m.configMap).map(formatConfigError)],
    },
  };
}

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The node as an Envoy would declare it: names, as the config's are (an empty namespace is "default"). */
function nodeProblems(node: RenderNode): string[] {
  const out: string[] = [];
  const check = (what: string, v: string | undefined, required: boolean) => {
    if (v === undefined || v === '') {
      if (required) out.push(`the node's ${what} is required`);
    } else if (!NAME.test(v)) out.push(`the node's ${what} ${JSON.stringify(v)} is not a name (lowercase letters, digits and "-", at most 63 characters)`);
  };
  check('ambassador', node.ambassador, true);
  check('namespace', node.namespace, false);
  check('environment', node.environment, false);
  return out;
}
