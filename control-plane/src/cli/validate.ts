// `validate PATH...`: every error in the given manifest files or folders, the way `serve` would see them.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { formatConfigError } from '../model/errors.ts';
import { ModelBuilder } from '../model/model-builder.ts';
import { readManifestFile } from '../sources/manifest-file.ts';
import { parseManifestFile } from '../sources/manifests.ts';
import { objectKey, type SourceObject } from '../sources/types.ts';

export interface ValidateResult {
  errors: string[];
  ambassadors: string[];
}

export async function validatePaths(paths: string[]): Promise<ValidateResult> {
  const errors: string[] = [];
  const objects = new Map<string, SourceObject>();
  for (const file of await manifestFiles(paths, errors)) {
    const read = await readManifestFile(file);
    if ('gone' in read) {
      errors.push(`${file}: no such file (removed while reading)`);
      continue;
    }
    if ('problem' in read) {
      errors.push(read.problem);
      continue;
    }
    const result = parseManifestFile(file, read.bytes);
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
  const model = new ModelBuilder().build({ objects, problems: [] });
  errors.push(...model.errors.map(formatConfigError));
  return { errors, ambassadors: [...model.ambassadors.keys()].sort() };
}

async function manifestFiles(paths: string[], errors: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    const s = await stat(p).catch(() => undefined);
    if (!s) errors.push(`${p}: no such file or directory`);
    else if (s.isDirectory()) {
      for (const entry of await readdir(p, { recursive: true, withFileTypes: true })) {
        if (entry.isFile() && /\.ya?ml$/.test(entry.name) && !entry.name.startsWith('.')) files.push(path.join(entry.parentPath, entry.name));
      }
    } else files.push(p); // not a regular file (a FIFO, a device): readManifestFile says so, without blocking
  }
  return files.sort();
}
