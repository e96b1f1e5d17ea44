// Validation of manifests, shared by `xds-ambassador validate PATH...` and the admin API's
// Validate: every error, the way `serve` would see the same files.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { formatConfigError } from '../model/errors.ts';
import { ModelBuilder } from '../model/model-builder.ts';
import { readManifestFile } from '../sources/manifest-file.ts';
import { readManifestSet, type ManifestInput } from './manifest-set.ts';

export interface ValidateResult {
  errors: string[];
  ambassadors: string[];
}

export function validateManifests(inputs: readonly ManifestInput[]): ValidateResult {
  const set = readManifestSet(inputs);
  const model = new ModelBuilder().build({ objects: set.objects, problems: [] });
  return { errors: [...set.errors, ...model.errors.map(formatConfigError)], ambassadors: [...model.ambassadors.keys()].sort() };
}

/** What `validate` prints. */
export function validationReport(r: ValidateResult): string {
  if (r.errors.length > 0) return `${r.errors.map((e) => `error: ${e}\n`).join('')}${r.errors.length} error${r.errors.length === 1 ? '' : 's'}\n`;
  return `ok: ${r.ambassadors.length} ambassador${r.ambassadors.length === 1 ? '' : 's'} (${r.ambassadors.join(', ') || 'none'})\n`;
}

/** Reads files and folders (every *.yaml / *.yml, recursively, as serve --config-dir does). */
export async function readManifestPaths(paths: readonly string[]): Promise<ManifestInput[]> {
  const inputs: ManifestInput[] = [];
  for (const file of await manifestFiles(paths, inputs)) {
    const read = await readManifestFile(file);
    if ('gone' in read) inputs.push({ problem: `${file}: no such file (removed while reading)` });
    else if ('problem' in read) inputs.push({ problem: read.problem });
    else inputs.push({ path: file, content: read.bytes });
  }
  return inputs;
}

export async function validatePaths(paths: readonly string[]): Promise<ValidateResult> {
  return validateManifests(await readManifestPaths(paths));
}

async function manifestFiles(paths: readonly string[], inputs: ManifestInput[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    const s = await stat(p).catch(() => undefined);
    if (!s) inputs.push({ problem: `${p}: no such file or directory` });
    else if (s.isDirectory()) {
      for (const entry of await readdir(p, { recursive: true, withFileTypes: true })) {
        if (entry.isFile() && /\.ya?ml$/.test(entry.name) && !entry.name.startsWith('.')) files.push(path.join(entry.parentPath, entry.name));
      }
    } else files.push(p); // not a regular file (a FIFO, a device): readManifestFile says so, without blocking
  }
  return files.sort();
}
