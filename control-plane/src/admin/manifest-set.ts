// A set of manifest files (read from disk by the CLI, or sent to the admin API) → the ConfigMaps and
// Secrets they declare, as `serve --config-dir` would see them, and every problem on the way.
import { parseManifestFile } from '../sources/manifests.ts';
import { objectKey, type SourceObject } from '../sources/types.ts';

/** A file's content (bytes are checked to be UTF-8), or why it could not be read. */
export type ManifestInput = { path: string; content: Uint8Array | string } | { problem: string };

export interface ManifestSet {
  objects: Map<string, SourceObject>;
  /** File problems and duplicate objects, in file order. */
  errors: string[];
}

export function readManifestSet(inputs: readonly ManifestInput[]): ManifestSet {
  const errors: string[] = [];
  const objects = new Map<string, SourceObject>();
  for (const input of inputs) {
    if ('problem' in input) {
      errors.push(input.problem);
      continue;
    }
    const result = parseManifestFile(input.path, input.content);
    if ('problem' in result) {
      errors.push(result.problem.message);
      continue;
    }
    for (const o of result.objects) {
      const key = objectKey(o);
      const other = objects.get(key);
      if (other) errors.push(`${o.origin}: ${o.kind} ${o.namespace}/${o.name} is also defined in ${other.origin}; keep one`);
      else objects.set(key, o);
    }
  }
  return { objects, errors };
}
