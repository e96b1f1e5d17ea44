// A config error names the ConfigMap, the data key, the YAML path (and line), what was expected and what was found.
import type { ConfigMapObject } from '../sources/types.ts';

export interface ConfigError {
  /** "namespace/name" of the ConfigMap. */
  object: string;
  /** The data key, e.g. "ambassador.yaml". */
  key: string;
  /** YAML path such as "listeners[0].routes[1].timeout"; empty for the whole document. */
  path: string;
  /** 1-based line within the key's text, when known. */
  line?: number;
  message: string;
  /** The manifest file and its own line, when the ConfigMap was read from a file. */
  file?: { path: string; line: number };
}

/** `FILE:LINE: ` (file sources only), then `ConfigMap ns/name: key: path (line N): message`. */
export function formatConfigError(e: ConfigError): string {
  const file = e.file ? `${e.file.path}:${e.file.line}: ` : '';
  const where = [e.key, e.path].filter((s) => s !== '').join(': ');
  const line = e.line === undefined ? '' : ` (line ${e.line})`;
  return `${file}ConfigMap ${e.object}: ${where}${line}: ${e.message}`;
}

/**
 * Adds the line in the manifest file a ConfigMap was read from: exact inside a `|` block (line n
 * of the value is n lines below the `|`), else the line where the value (or the object) starts.
 */
export function withFileLine(cm: ConfigMapObject, e: ConfigError): ConfigError {
  if (!cm.file) return e;
  const value = cm.file.keys[e.key];
  const line = value === undefined ? cm.file.line : value.literal && e.line !== undefined ? value.line + e.line - 1 : value.line;
  return { ...e, file: { path: cm.file.path, line } };
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_][\w-]*$/.test(p)) out += out === '' ? p : `.${p}`;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out;
}

/** A short, safe rendering of a found value for an error message. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list (${v.length} item${v.length === 1 ? '' : 's'})`;
  if (typeof v === 'object') {
    const keys = Object.keys(v);
    return keys.length === 0 ? 'an empty map' : `a map with ${keys.slice(0, 5).map((k) => JSON.stringify(k)).join(', ')}${keys.length > 5 ? ', …' : ''}`;
  }
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return String(v);
}

/** The closest candidate within a small edit distance, for "did you mean" hints. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) { best = c; bestD = d; }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
