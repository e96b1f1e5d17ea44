// The configs the peer benchmark serves, and their Envoy resources as this project's pipeline makes
// them (parse → translate → encode → snapshot, as control-plane.ts does), dumped for go-control-plane
// so that both servers send the same bytes with the same per-type versions.
import { writeFile } from 'node:fs/promises';
import { encodeResource } from '../../../control-plane/src/cache/encode.ts';
import { buildSnapshot, type Snapshot } from '../../../control-plane/src/cache/snapshot.ts';
import { parseConfigMap } from '../../../control-plane/src/model/parse-configmap.ts';
import { translateAmbassador } from '../../../control-plane/src/translate/ambassador.ts';
import { xdsRoot } from '../../../control-plane/src/xds/protos.ts';
import { PUSH_ORDER, SECRET } from '../../../control-plane/src/xds/type-urls.ts';
import { configMap } from '../../helpers/scenario.ts';

export const NAMESPACE = 'bench';

/**
 * An ambassador of `upstreams` upstreams (two IP endpoints each: an EDS cluster and its endpoints)
 * and one HTTP listener routing a path prefix to each: 2 × upstreams + 2 resources (99 → 100).
 * State "B" is one edit away from "A": upstream u0 has another endpoint and route /u0/ another
 * timeout, so EDS and RDS change (CDS and LDS do not).
 */
export function ambassadorConfig(ambassador: string, state: 'A' | 'B', upstreams = 49): string {
  const routes = Array.from({ length: upstreams }, (_, i) => `      - match: {prefix: /u${i}/}\n        upstream: u${i}\n        timeout: ${i === 0 && state === 'B' ? '7s' : '5s'}`).join('\n');
  const ups = Array.from({ length: upstreams }, (_, i) => `  u${i}: {endpoints: ["10.0.${i}.1:8080", "10.0.${i}.${i === 0 && state === 'B' ? 3 : 2}:8080"]}`).join('\n');
  return `ambassador: ${ambassador}\nlisteners:\n  - name: api\n    port: 8000\n    routes:\n${routes}\nupstreams:\n${ups}\n`;
}

export function manifest(ambassador: string, config: string): string {
  return configMap({ name: ambassador, namespace: NAMESPACE, config });
}

export interface DumpedType {
  typeUrl: string;
  version: string;
  /** Each resource's encoded google.protobuf.Any, base64. */
  resources: string[];
}

export interface DumpedState {
  group: string;
  state: string;
  types: DumpedType[];
}

/** The snapshot the running control plane builds for this ambassador config. */
export async function snapshotOf(ambassador: string, config: string): Promise<Snapshot> {
  const root = await xdsRoot();
  const parsed = parseConfigMap({ kind: 'ConfigMap', namespace: NAMESPACE, name: ambassador, labels: { 'xds-ambassador.io/config': 'true' }, origin: 'bench', data: { 'ambassador.yaml': config } });
  if (!parsed.ok) throw new Error(`bench config ${ambassador} is invalid: ${JSON.stringify(parsed.errors)}`);
  const group = { namespace: NAMESPACE, ambassador };
  return buildSnapshot(translateAmbassador(group, parsed.config).map((r) => encodeResource(root, r)), [`ConfigMap ${NAMESPACE}/${ambassador}`], parsed.config.serviceAccounts);
}

export function dumpState(group: string, state: string, s: Snapshot): DumpedState {
  return {
    group,
    state,
    types: PUSH_ORDER.filter((t) => t !== SECRET || s.types[t].resources.size > 0).map((typeUrl) => ({
      typeUrl,
      version: s.types[typeUrl].version,
      resources: [...s.types[typeUrl].resources.values()].map((r) => Buffer.from(r.any).toString('base64')),
    })),
  };
}

/** The versions of the types that differ between two snapshots: what the Envoys must ACK after the change. */
export function changedVersions(from: Snapshot, to: Snapshot): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of PUSH_ORDER) if (from.types[t].version !== to.types[t].version) out[t] = to.types[t].version;
  return out;
}

export async function writeDump(file: string, states: readonly DumpedState[]): Promise<void> {
  await writeFile(file, JSON.stringify(states));
}
