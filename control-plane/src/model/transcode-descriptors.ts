// The descriptor sets the transcoding routes of a config name, read from the ConfigMap's own keys
// and checked (see descriptor-set.ts). Only the sets a route uses are kept for translation.
import type { ConfigMapObject } from '../sources/types.ts';
import type { ConfigProblem } from './check-config.ts';
import { readDescriptorSet, serviceProblem, type DescriptorSetInfo } from './descriptor-set.ts';
import type { AmbassadorConfig } from './schema.ts';

/** binaryData key (or data key) → the descriptor set's bytes. */
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
      const bytes = keyBytes(cm, key);
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

/** binaryData, or data: kubectl create configmap --from-file puts a file that happens to be valid
 * UTF-8 under data, whose text is then exactly the file's bytes. */
function keyBytes(cm: ConfigMapObject, key: string): Uint8Array | undefined {
  const binary = cm.binaryData?.[key];
  if (binary !== undefined) return binary;
  const text = cm.data[key];
  return text === undefined ? undefined : new TextEncoder().encode(text);
}

function missingKey(cm: ConfigMapObject, key: string): string {
  const keys = [...Object.keys(cm.binaryData ?? {}), ...Object.keys(cm.data)].map((k) => `"${k}"`);
  return `the ConfigMap has no key "${key}" (it has ${keys.join(', ')}); add the descriptor set under binaryData, e.g. kubectl create configmap ${cm.name} --from-file=ambassador.yaml --from-file=${key}`;
}
