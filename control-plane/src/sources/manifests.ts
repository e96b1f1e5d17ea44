// Parses a multi-document Kubernetes manifest file (what a user would `kubectl apply`) into the
// ConfigMaps and Secrets it declares. Pure: no I/O, so the directory source and tests share it.
//
// YAML is read as 1.1, like kubectl (sigs.k8s.io/yaml): `yes`, `on`, `n` are booleans there, so a
// file accepted here is accepted by kubectl and the other way round. What the API server would
// refuse is refused here too: text that is not UTF-8, a ConfigMap or Secret over 1 MiB of data.
import { isUtf8 } from 'node:buffer';
import { LineCounter, Scalar, isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Document, Node } from 'yaml';
import { parseYaml } from '../model/safe-yaml.ts';
import { objectKey } from './types.ts';
import type { ManifestLines, SourceObject, SourceProblem } from './types.ts';

export interface SkippedObject {
  apiVersion: string;
  kind: string;
  /** metadata.name, or '' when the object has none (it is not ours to validate). */
  name: string;
  origin: string;
}

export type ManifestParseResult =
  | { objects: SourceObject[]; skipped: SkippedObject[] }
  | { problem: SourceProblem };

type Path = readonly unknown[];

/** One thing wrong in one document; `path` locates the YAML line. */
class DocumentError extends Error {
  path: Path;
  constructor(path: Path, message: string) {
    super(message);
    this.path = path;
  }
}

interface Context {
  doc: Document.Parsed;
  origin: string;
  /** The file, and its line counter: ConfigMaps remember their lines for error messages. */
  path: string;
  lines: LineCounter;
  objects: SourceObject[];
  skipped: SkippedObject[];
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const YAML11_BOOLEANS = 'kubectl reads YAML 1.1, where yes/no/on/off/y/n are booleans';
/** The API server's limit on a ConfigMap's data + binaryData, and on a Secret's data (bytes). */
export const MAX_OBJECT_DATA_BYTES = 1024 * 1024;

/** A file's content: bytes as read (checked to be UTF-8), or text already decoded. */
export function parseManifestFile(path: string, content: Uint8Array | string): ManifestParseResult {
  const decoded = typeof content === 'string' ? { text: content } : decodeUtf8(path, content);
  if ('problem' in decoded) return decoded;
  const { text } = decoded;
  const lines = new LineCounter();
  const docs = parseYaml(text, lines, { version: '1.1', prettyErrors: false });
  const multi = docs.filter((d) => !isEmpty(d.doc) || d.problem).length > 1;
  const objects: SourceObject[] = [];
  const skipped: SkippedObject[] = [];
  const seen = new Map<string, number>(); // objectKey → document number, for duplicates
  const errors: string[] = [];

  docs.forEach(({ doc, problem }, i) => {
    const n = i + 1;
    const where = (offset: number | undefined): string =>
      offset === undefined ? `${path}: document ${n}` : `${path}: document ${n} (line ${lines.linePos(offset).line})`;
    const syntax = doc.errors[0];
    if (syntax) {
      errors.push(`${where(syntax.pos[0])}: invalid YAML: ${syntax.message} — fix the YAML syntax near that line`);
      return;
    }
    if (problem) {
      errors.push(`${where(problem.offset)}: ${problem.message}`);
      return;
    }
    if (isEmpty(doc) || doc.contents === null) return;
    const ctx: Context = { doc, origin: multi ? `${path}#${n}` : path, path, lines, objects: [], skipped: [] };
    try {
      // mapAsMap keeps non-string keys (YAML 1.1 `on:` is `true`) visible, so they can be reported.
      readObject(doc.toJS({ mapAsMap: true }), [], ctx);
      for (const o of ctx.objects) {
        const key = objectKey(o);
        const first = seen.get(key);
        if (first !== undefined) {
          const docs = first === n ? `document ${n}` : `documents ${first} and ${n}`;
          throw new DocumentError([], `${o.kind} "${o.namespace}/${o.name}" is defined twice in this file (${docs}) — remove one of them or rename it`);
        }
        seen.set(key, n);
      }
    } catch (err) {
      if (err instanceof DocumentError) errors.push(`${where(offsetOf(doc, err.path))}: ${err.message}`);
      else errors.push(`${where(doc.contents.range[0])}: invalid YAML: ${(err as Error).message} — fix the YAML near that line`);
      return;
    }
    objects.push(...ctx.objects);
    skipped.push(...ctx.skipped);
  });

  const [first, ...more] = errors;
  if (first === undefined) return { objects, skipped };
  const suffix = more.length > 0 ? ` (and ${more.length} more problem${more.length > 1 ? 's' : ''} in this file)` : '';
  return { problem: { origin: path, message: first + suffix } };
}

/** No content, only comments, or an explicit null: kubectl skips such documents too. */
function isEmpty(doc: Document.Parsed): boolean {
  return doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);
}

function readObject(value: unknown, path: Path, ctx: Context): void {
  const at = path.length > 0 ? `${fieldName(path)}: ` : '';
  if (!(value instanceof Map)) {
    throw new DocumentError(path, `${at}expected a Kubernetes object (a map with apiVersion, kind and metadata), found ${describe(value)} — fix the indentation or remove the stray text`);
  }
  const kind = requiredString(value, 'kind', path, `${at}object`, 'a kind such as ConfigMap');
  const apiVersion = requiredString(value, 'apiVersion', path, `${at}${kind}`, 'an apiVersion such as v1');
  const metadata = value.get('metadata');

  if (kind.endsWith('List') && value.has('items')) {
    const items = value.get('items') ?? [];
    if (!Array.isArray(items)) {
      throw new DocumentError([...path, 'items'], `${at}${kind} items: expected a list of objects, found ${describe(items)} — write each object as a "- " list item`);
    }
    items.forEach((item: unknown, i) => readObject(item, [...path, 'items', i], ctx));
    return;
  }
  if (apiVersion !== 'v1' || (kind !== 'ConfigMap' && kind !== 'Secret')) {
    const name = metadata instanceof Map ? metadata.get('name') : undefined;
    ctx.skipped.push({ apiVersion, kind, name: typeof name === 'string' ? name : '', origin: ctx.origin });
    return;
  }

  const mpath = [...path, 'metadata'];
  if (!(metadata instanceof Map)) {
    throw new DocumentError(metadata === undefined ? path : mpath, `${at}${kind} metadata: expected a map with at least a name, found ${describe(metadata)} — add metadata: {name: ...}`);
  }
  const name = requiredString(metadata, 'name', mpath, `${at}${kind}`, 'a name');
  if (!isDnsName(name, DNS1123_SUBDOMAIN, 253)) {
    throw new DocumentError([...mpath, 'name'], `${at}${kind} metadata.name: expected a DNS-1123 name (at most 253 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit), found ${JSON.stringify(name)} — rename it`);
  }
  const subject = `${at}${kind} ${JSON.stringify(name)}`;
  const ns = metadata.get('namespace') ?? 'default'; // kubectl's default (absent or null)
  if (typeof ns !== 'string' || !isDnsName(ns, DNS1123_LABEL, 63)) {
    const found = typeof ns === 'string' ? JSON.stringify(ns) : describe(ns);
    throw new DocumentError([...mpath, 'namespace'], `${subject} metadata.namespace: expected a DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit), found ${found} — fix the namespace or remove it to use "default"`);
  }
  // Label values are not secret, but report only the key anyway: the message stays short.
  const labels = stringMap(metadata.get('labels'), [...mpath, 'labels'], subject, 'metadata.labels', false);
  const base = { namespace: ns, name, labels, origin: ctx.origin };

  if (kind === 'ConfigMap') {
    const data = stringMap(value.get('data'), [...path, 'data'], subject, 'data', true);
    let size = 0;
    const binaryData: Record<string, Uint8Array> = {};
    for (const [key, encoded] of Object.entries(stringMap(value.get('binaryData'), [...path, 'binaryData'], subject, 'binaryData', true))) {
      if (key in data) throw new DocumentError([...path, 'binaryData', key], `${subject} binaryData.${key}: the key is also in data — a key goes in one of data and binaryData`);
      const bytes = decodeBase64(encoded, [...path, 'binaryData', key], `${subject} binaryData.${key}`);
      binaryData[key] = bytes;
      size += bytes.length;
    }
    for (const text of Object.values(data)) size += Buffer.byteLength(text, 'utf8');
    checkDataSize(size, [...path, 'data'], subject, 'data and binaryData', 'ConfigMap');
    const binary = Object.keys(binaryData).length > 0 ? { binaryData } : {};
    ctx.objects.push({ kind, ...base, data, ...binary, file: manifestLines(ctx, path, Object.keys(data)) });
    return;
  }
  const type = value.get('type') ?? 'Opaque';
  if (typeof type !== 'string') {
    throw new DocumentError([...path, 'type'], `${subject} type: expected a string such as Opaque or kubernetes.io/tls, found ${describe(type)} — quote it or remove it`);
  }
  const data: Record<string, Uint8Array> = {};
  for (const [key, encoded] of Object.entries(stringMap(value.get('data'), [...path, 'data'], subject, 'data', true))) {
    data[key] = decodeBase64(encoded, [...path, 'data', key], `${subject} data.${key}`);
  }
  // stringData is merged over data, as the API server does on write.
  for (const [key, text] of Object.entries(stringMap(value.get('stringData'), [...path, 'stringData'], subject, 'stringData', true))) {
    data[key] = new TextEncoder().encode(text);
  }
  checkDataSize(Object.values(data).reduce((sum, v) => sum + v.length, 0), [...path, 'data'], subject, 'data (with stringData)', 'Secret');
  ctx.objects.push({ kind, ...base, type, data });
}

/** The API server refuses a ConfigMap or Secret whose data add up to more than 1 MiB. */
function checkDataSize(bytes: number, path: Path, subject: string, field: string, kind: string): void {
  if (bytes <= MAX_OBJECT_DATA_BYTES) return;
  throw new DocumentError(path, `${subject} ${field}: ${mib(bytes)} in total, more than the 1 MiB (${MAX_OBJECT_DATA_BYTES} bytes) the API server accepts in a ${kind} — split it into several ${kind}s`);
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(2)} MiB (${bytes} bytes)`;
}

/** Where the object and each data value start, so config errors can give the file's own lines. */
function manifestLines(ctx: Context, path: Path, keys: readonly string[]): ManifestLines {
  const lineAt = (offset: number): number => ctx.lines.linePos(offset).line;
  const lines: Record<string, { line: number; literal: boolean }> = {};
  for (const key of keys) {
    const node = nodeAt(ctx.doc, [...path, 'data', key]);
    if (!node) continue;
    // A `|` block's text starts on the line after its indicator; other styles are one position.
    const literal = isScalar(node) && node.type === Scalar.BLOCK_LITERAL;
    lines[key] = { line: lineAt(node.range[0]) + (literal ? 1 : 0), literal };
  }
  return { path: ctx.path, line: lineAt(offsetOf(ctx.doc, path)), keys: lines };
}

/** The text, or where the first byte that is not UTF-8 is: the API server accepts UTF-8 only, and
 * decoding anyway would silently turn such bytes (say in a Secret's stringData) into U+FFFD. */
function decodeUtf8(path: string, bytes: Uint8Array): { text: string } | { problem: SourceProblem } {
  if (isUtf8(bytes)) return { text: new TextDecoder().decode(bytes) };
  const at = Math.max(0, invalidUtf8At(bytes));
  const lineStart = at === 0 ? 0 : bytes.lastIndexOf(0x0a, at - 1) + 1;
  let line = 1;
  for (let i = 0; i < lineStart; i++) if (bytes[i] === 0x0a) line++;
  const column = [...new TextDecoder().decode(bytes.subarray(lineStart, at))].length + 1;
  const byte = (bytes[at] ?? 0).toString(16).toUpperCase().padStart(2, '0');
  return {
    problem: {
      origin: path,
      message: `${path}: line ${line}, column ${column}: not UTF-8 text (byte 0x${byte}) — save the file as UTF-8; a binary value goes base64-encoded under a Secret's data (or a ConfigMap's binaryData)`,
    },
  };
}

/** The offset of the first byte that does not start a well-formed UTF-8 sequence (Unicode table 3-7). */
function invalidUtf8At(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const c = b[i] ?? 0;
    if (c < 0x80) {
      i++;
      continue;
    }
    // [continuation bytes, range of the first continuation byte]: excludes overlongs, surrogates, > U+10FFFF.
    const [n, lo, hi] = c >= 0xc2 && c <= 0xdf ? [1, 0x80, 0xbf]
      : c === 0xe0 ? [2, 0xa0, 0xbf] : c === 0xed ? [2, 0x80, 0x9f] : c >= 0xe1 && c <= 0xef ? [2, 0x80, 0xbf]
      : c === 0xf0 ? [3, 0x90, 0xbf] : c >= 0xf1 && c <= 0xf3 ? [3, 0x80, 0xbf] : c === 0xf4 ? [3, 0x80, 0x8f] : [0, 0, 0];
    const first = b[i + 1];
    if (n === 0 || first === undefined || first < lo || first > hi) return i;
    for (let k = 2; k <= n; k++) {
      const next = b[i + k];
      if (next === undefined || next < 0x80 || next > 0xbf) return i;
    }
    i += n + 1;
  }
  return -1;
}

function requiredString(map: Map<unknown, unknown>, key: string, path: Path, subject: string, expected: string): string {
  const value = map.get(key);
  if (typeof value === 'string' && value !== '') return value;
  const field = key === 'name' ? 'metadata.name' : key;
  const missing = value === undefined || value === null || value === '';
  const found = value === '' ? 'an empty string' : typeof value === 'boolean' ? `a boolean (${YAML11_BOOLEANS})` : describe(value);
  throw new DocumentError(value === undefined ? path : [...path, key], `${subject} ${field}: expected ${missing ? expected : 'a string'}, found ${found} — ${missing ? `set ${field}` : 'quote the value'}`);
}

/**
 * A map of string → string (null or absent = empty). Values are never quoted in messages:
 * they may be Secret data. `dataKeys` also enforces Kubernetes' key syntax for data maps.
 */
function stringMap(value: unknown, path: Path, subject: string, field: string, dataKeys: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === undefined || value === null) return out;
  if (!(value instanceof Map)) {
    throw new DocumentError(path, `${subject} ${field}: expected a map of key: value, found ${describe(value)} — write it as indented "key: value" lines`);
  }
  for (const [key, v] of value) {
    if (typeof key !== 'string') {
      throw new DocumentError([...path, key], `${subject} ${field}: expected string keys, found ${describe(key)} key ${String(key)} (${YAML11_BOOLEANS}) — quote the key`);
    }
    if (dataKeys && (!CONFIG_KEY.test(key) || key.length > 253 || key === '.' || key === '..')) {
      throw new DocumentError([...path, key], `${subject} ${field}: expected keys made of letters, digits, '-', '_' or '.', found key ${JSON.stringify(key)} — rename the key`);
    }
    if (typeof v !== 'string') {
      const found = typeof v === 'boolean' ? `a boolean (${YAML11_BOOLEANS})` : describe(v);
      throw new DocumentError([...path, key], `${subject} ${field}.${key}: expected a string, found ${found} — quote the value or use a block scalar (|)`);
    }
    out[key] = v;
  }
  return out;
}

/** Strict standard base64 (padding required); line breaks are tolerated as Go's decoder does. */
function decodeBase64(encoded: string, path: Path, field: string): Uint8Array {
  const compact = encoded.replace(/[\r\n]/g, '');
  let reason: string | undefined;
  if (!BASE64.test(compact)) {
    const bad = compact.search(/[^A-Za-z0-9+/=]/);
    reason = bad >= 0 ? `a character outside A-Z a-z 0-9 + / at position ${bad + 1}` : "'=' padding before the end";
  } else if (compact.length % 4 !== 0) {
    reason = `a length of ${compact.length}, not a multiple of 4 (missing '=' padding?)`;
  }
  if (reason !== undefined) {
    throw new DocumentError(path, `${field}: expected base64, found a value with ${reason} — encode it with \`base64 -w0\`, or move the plain text to stringData`);
  }
  return new Uint8Array(Buffer.from(compact, 'base64'));
}

function isDnsName(s: string, re: RegExp, max: number): boolean {
  return s.length <= max && re.test(s);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value (null)';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Map) return 'a map';
  if (v instanceof Date) return 'a timestamp';
  if (v instanceof Uint8Array) return 'binary data';
  if (typeof v === 'number' || typeof v === 'bigint') return 'a number';
  if (typeof v === 'boolean') return 'a boolean';
  if (typeof v === 'string') return 'a string';
  return `a ${typeof v}`;
}

/** `items[2].data.key` — the path a user reads in a message. */
function fieldName(path: Path): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? String(s) : `.${String(s)}`)).join('');
}

/** Source offset of the deepest node on `path` that exists, for the message's line number. */
function offsetOf(doc: Document.Parsed, path: Path): number {
  return deepestOn(doc, path).offset;
}

/** The node at `path`, if there is one. */
function nodeAt(doc: Document.Parsed, path: Path): (Node & { range: [number, number, number] }) | undefined {
  const found = deepestOn(doc, path);
  return found.depth === path.length ? found.node : undefined;
}

function deepestOn(doc: Document.Parsed, path: Path): { node?: Node & { range: [number, number, number] }; offset: number; depth: number } {
  let node: Node | null = doc.contents;
  let found: { node?: Node & { range: [number, number, number] }; offset: number; depth: number } = { offset: doc.contents?.range[0] ?? doc.range[0], depth: 0 };
  for (const [i, seg] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc) ?? null;
    let next: unknown = undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
      next = pair ? (pair.value ?? pair.key) : undefined; // `key:` with no value: point at the key
    } else if (isSeq(node) && typeof seg === 'number') {
      next = node.items[seg];
    }
    if (!isNodeWithRange(next)) break;
    node = next;
    found = { node: next, offset: next.range[0], depth: i + 1 };
  }
  return found;
}

function isNodeWithRange(v: unknown): v is Node & { range: [number, number, number] } {
  return typeof v === 'object' && v !== null && 'range' in v && Array.isArray(v.range);
}
