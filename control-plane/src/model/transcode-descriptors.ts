// The descriptor sets the transcoding routes of a config name, read from the ConfigMap's own
// binaryData and checked (see descriptor-set.ts). Only the sets a route uses are kept for translation.
import type { ConfigMapObject } from '../sources/types.ts';
import type { ConfigProblem } from './check-config.ts';
import { readDescriptorSet, serviceProblem, type DescriptorSetInfo } from './descriptor-set.ts';
import type { AmbassadorConfig } from './schema.ts';

/** binaryData key → the descriptor set's bytes. */
export type DescriptorSets = ReadonlyMap<string, Uint8Array>;

export function transcodeDescriptors(config: AmbassadorConfig, cm: ConfigMapObject): { problems: ConfigProblem[]; descriptorSets: DescriptorSets } {
  const problems: ConfigProblem[] = [];
  const sets = new Map<string, Uint8Array>();
  const read = new Map<string, DescriptorSetInfo | { problem: string }>();
  config.listeners.forEach((l, li) => {
    if (l.protocol !== 'http') return;
    l.routes.forEach((r, ri) => {
      if (!r.transcode) return;
      const at = ['listeners', li, 'routes', ri, 'transcode'];
      const key = r.transcode.descriptors.key;
      const bytes = cm.binaryData?.[key];
      if (bytes === undefined) {
        problems.push({ path: [...at, 'descriptors', 'key'], message: missingKey(cm, key) });
        return;
      }
      let info = read.get(key);
      if (!info) {
        info = readDescriptorSet(bytes);
        read.set(key, info);
      }
      if ('problem' in info) {
        problems.push({ path: [...at, 'descriptors', 'key'], message: `the descriptor set in "${key}" ${info.problem}` });
        return;
      }
      const known = info;
      r.transcode.services.forEach((s, si) => {
        const problem = serviceProblem(known, s, `the descriptor set in "${key}"`);
        if (problem) problems.push({ path: [...at, 'services', si], message: problem });
      });
      sets.set(key, bytes);
    });
  });
  return { problems, descriptorSets: sets };
}

function missingKey(cm: ConfigMapObject, key: string): string {
  const how = `kubectl create configmap ${cm.name} --from-file=ambassador.yaml --from-file=${key} puts it there`;
  if (key in cm.data) return `"${key}" is under data, which holds text; a descriptor set is binary and goes under binaryData (${how})`;
  const keys = Object.keys(cm.binaryData ?? {}).map((k) => `"${k}"`);
  return `binaryData has no key "${key}" (${keys.length ? `it has ${keys.join(', ')}` : 'the ConfigMap has no binaryData'}); add the descriptor set there (${how})`;
}
