import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { DirectorySource } from '../../control-plane/src/sources/directory.ts';
import { MAX_MANIFEST_FILE_BYTES, readManifestFile } from '../../control-plane/src/sources/manifest-file.ts';
import { MAX_OBJECT_DATA_BYTES, parseManifestFile } from '../../control-plane/src/sources/manifests.ts';
import type { SecretObject, SourceObject, SourceState } from '../../control-plane/src/sources/types.ts';

const SETTLE_MS = 20;
// Secret values used below; no log line or problem message may ever contain one.
const SECRET_VALUES = ['s3cr3t-token', 'c3VwZXJzZWNyZXQ=', 'supersecret', 'plain-text-secret'];

let dir: string;
let logs: string[];
let sources: DirectorySource[];

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dirsrc-'));
  logs = [];
  sources = [];
});

afterEach(async () => {
  await Promise.all(sources.map((s) => s.stop()));
  await fsp.rm(dir, { recursive: true, force: true });
  const all = logs.join('');
  for (const v of SECRET_VALUES) expect(all).not.toContain(v);
});

/** Starts a source on `dir` and returns a recorder of its onChange calls. */
async function start(o: { deletionGraceMs?: number; settleMs?: number } = {}): Promise<Recorder> {
  const sink = logs; // this test's lines only, even if a source outlived an earlier test
  const logger = pino({ level: 'debug' }, { write: (line: string) => void sink.push(line) });
  const source = new DirectorySource({ dir, settleMs: SETTLE_MS, logger, ...o });
  sources.push(source);
  const rec = new Recorder(source);
  await source.start((s) => rec.push(s));
  return rec;
}

class Recorder {
  readonly source: DirectorySource;
  readonly states: SourceState[] = [];
  #consumed = 0;
  #wake: (() => void) | undefined;
  constructor(source: DirectorySource) {
    this.source = source;
  }
  push(s: SourceState): void {
    this.states.push(s);
    this.#wake?.();
  }
  /** The next onChange not yet consumed; fails after `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<SourceState> {
    const deadline = Date.now() + timeoutMs;
    while (this.#consumed >= this.states.length) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no onChange within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    const s = this.states[this.#consumed++];
    if (!s) throw new Error('unreachable');
    return s;
  }
  /** Skips intermediate states (e.g. a scan landing mid-save) until one satisfies `ok`. */
  async until(ok: (s: SourceState) => boolean, timeoutMs = 3000): Promise<SourceState> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.next(Math.max(1, deadline - Date.now()));
      if (ok(s)) return s;
    }
  }
}

const write = (name: string, text: string): Promise<void> => fsp.writeFile(path.join(dir, name), text);
const writeAtomic = async (name: string, text: string): Promise<void> => {
  await write(`.${name}.tmp`, text);
  await fsp.rename(path.join(dir, `.${name}.tmp`), path.join(dir, name));
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const cm = (name: string, value = 'v', extra = ''): string =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${extra}data:\n  key: ${JSON.stringify(value)}\n`;
const cmValue = (s: SourceState, name: string, ns = 'default'): string | undefined => {
  const o = s.objects.get(`ConfigMap/${ns}/${name}`);
  return o?.kind === 'ConfigMap' ? o.data['key'] : undefined;
};
const secretText = (o: SourceObject | undefined, key: string): string | undefined => {
  const v = (o as SecretObject | undefined)?.data[key];
  return v === undefined ? undefined : new TextDecoder().decode(v);
};

describe('DirectorySource: reading manifests', () => {
  it('reads ConfigMaps and Secrets from a multi-document file, skips other kinds, expands Lists', async () => {
    await write(
      'app.yaml',
      `apiVersion: v1
kind: ConfigMap
metadata:
  name: orders
  namespace: shop
  labels: {xds-ambassador.io/config: "true"}
data:
  ambassador.yaml: |
    ambassador: orders
---
apiVersion: v1
kind: Secret
metadata: {name: tmdb, namespace: shop}
data:
  token: c3VwZXJzZWNyZXQ=
  both: YQ==
stringData:
  both: plain-text-secret
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
# only a comment: ignored
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: listed}
  - apiVersion: v1
    kind: Secret
    type: kubernetes.io/tls
    metadata: {name: cert}
    stringData: {tls.crt: CERT, tls.key: KEY}
`,
    );
    await write('single.yml', cm('single', 'one'));
    const s = (await start()).states[0];
    if (!s) throw new Error('start() did not call onChange');

    expect(s.problems).toEqual([]);
    expect([...s.objects.keys()].sort()).toEqual(['ConfigMap/default/listed', 'ConfigMap/default/single', 'ConfigMap/shop/orders', 'Secret/default/cert', 'Secret/shop/tmdb']);
    expect(s.objects.get('ConfigMap/shop/orders')).toEqual({
      kind: 'ConfigMap', namespace: 'shop', name: 'orders', origin: path.join(dir, 'app.yaml#1'),
      labels: { 'xds-ambassador.io/config': 'true' }, data: { 'ambassador.yaml': 'ambassador: orders\n' },
      // The `|` of ambassador.yaml is on line 8: its text's line n is the file's line 8 + n.
      file: { path: path.join(dir, 'app.yaml'), line: 1, keys: { 'ambassador.yaml': { line: 9, literal: true } } },
    });
    const tmdb = s.objects.get('Secret/shop/tmdb');
    expect(tmdb).toMatchObject({ type: 'Opaque', origin: path.join(dir, 'app.yaml#2') });
    expect(secretText(tmdb, 'token')).toBe('supersecret');
    expect(secretText(tmdb, 'both')).toBe('plain-text-secret'); // stringData overrides data
    const cert = s.objects.get('Secret/default/cert');
    expect(cert).toMatchObject({ type: 'kubernetes.io/tls', origin: path.join(dir, 'app.yaml#5') });
    expect(secretText(cert, 'tls.key')).toBe('KEY');
    expect(s.objects.get('ConfigMap/default/single')?.origin).toBe(path.join(dir, 'single.yml')); // one document: no #n
    expect(logs.some((l) => l.includes('"kind":"Deployment"') && l.includes('"name":"web"'))).toBe(true);
  });

  it('ignores dot-files, dot-directories and editor temp files, reads subdirectories', async () => {
    await fsp.mkdir(path.join(dir, 'sub', 'deeper'), { recursive: true });
    await fsp.mkdir(path.join(dir, '.git'));
    await write('sub/deeper/real.yaml', cm('real'));
    for (const f of ['.hidden.yaml', '.git/x.yaml', 'real.yaml~', '.#real.yaml', 'real.yaml.swp', 'notes.txt']) await write(f, cm('ignored'));
    const s = (await start()).states[0];
    expect([...(s?.objects.keys() ?? [])]).toEqual(['ConfigMap/default/real']);
  });

  it('rejects start() when the directory does not exist, naming it', async () => {
    const missing = path.join(dir, 'nope');
    const source = new DirectorySource({ dir: missing, logger: pino({ level: 'silent' }) });
    await expect(source.start(() => {})).rejects.toThrow(`cannot read ${missing} (ENOENT)`);
  });

  it('reports each kind of malformed file as a problem naming file, document, line and field', async () => {
    const header = (name: string, kind = 'ConfigMap'): string => `apiVersion: v1\nkind: ${kind}\nmetadata:\n  name: ${name}\n`;
    const files: Record<string, [string, RegExp]> = {
      'syntax.yaml': [`${cm('ok')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: [x\n`, /syntax\.yaml: document 2 \(line \d+\): invalid YAML: .* — fix the YAML syntax/],
      'no-name.yaml': [`apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: shop\n`, /no-name\.yaml: document 1 \(line 4\): ConfigMap metadata\.name: expected a name, found nothing — set metadata\.name/],
      'bad-name.yaml': [header('Orders_1'), /bad-name\.yaml: document 1 \(line 4\): ConfigMap metadata\.name: expected a DNS-1123 name .*found "Orders_1" — rename it/],
      'bad-ns.yaml': [`${header('a')}  namespace: Shop\n`, /bad-ns\.yaml: document 1 \(line 5\): ConfigMap "a" metadata\.namespace: expected a DNS-1123 label .*found "Shop"/],
      'not-string.yaml': [`${cm('first')}---\n${header('orders')}data:\n  ambassador.yaml:\n    listeners: []\n`,
        /not-string\.yaml: document 2 \(line 14\): ConfigMap "orders" data\.ambassador\.yaml: expected a string, found a map — quote the value or use a block scalar \(\|\)/],
      'number.yaml': [`${header('num')}data:\n  port: 8080\n`, /number\.yaml: document 1 \(line 6\): ConfigMap "num" data\.port: expected a string, found a number — quote the value/],
      'yaml11-bool.yaml': [header('n'), /yaml11-bool\.yaml: document 1 \(line 4\): ConfigMap metadata\.name: expected a string, found a boolean \(kubectl reads YAML 1\.1, .*\) — quote the value/],
      'bad-base64.yaml': [`${header('s', 'Secret')}data:\n  token: s3cr3t-token\n`, /bad-base64\.yaml: document 1 \(line 6\): Secret "s" data\.token: expected base64, found a value with a character outside .* — encode it with `base64 -w0`, or move the plain text to stringData/],
      'twice.yaml': [`${cm('same')}---\n${cm('same')}`, /twice\.yaml: document 2 \(line 8\): ConfigMap "default\/same" is defined twice in this file \(documents 1 and 2\) — remove one/],
      'no-kind.yaml': [`apiVersion: v1\nmetadata: {name: a}\n`, /no-kind\.yaml: document 1 \(line 1\): object kind: expected a kind such as ConfigMap, found nothing — set kind/],
      'list-item.yaml': [`apiVersion: v1\nkind: List\nitems:\n- ${header('x').replace(/\n(?=.)/g, '\n  ')}  data: {k: true}\n`, /list-item\.yaml: document 1 \(line 8\): items\[0\]: ConfigMap "x" data\.k: expected a string, found a boolean/],
    };
    for (const [f, [text]] of Object.entries(files)) await write(f, text);
    const s = (await start()).states[0];
    if (!s) throw new Error('start() did not call onChange');

    expect(s.objects.size).toBe(0); // a broken file contributes nothing, not even its good documents
    expect(s.problems.map((p) => p.origin).sort()).toEqual(Object.keys(files).map((f) => path.join(dir, f)).sort());
    for (const [f, [, message]] of Object.entries(files)) {
      const p = s.problems.find((q) => q.origin === path.join(dir, f));
      expect(p?.message, f).toMatch(message);
      expect(p?.message.startsWith(path.join(dir, f) + ': '), f).toBe(true);
    }
    expect(logs.filter((l) => l.includes('"level":40')).length).toBe(Object.keys(files).length); // one warn each
  });

  it.skipIf(process.getuid?.() === 0)('reports an unreadable file as a problem without crashing', async () => {
    await write('locked.yaml', cm('locked'));
    await fsp.chmod(path.join(dir, 'locked.yaml'), 0o000);
    const s = (await start()).states[0];
    expect(s?.problems[0]?.message).toMatch(/locked\.yaml: cannot read the file \(EACCES\)/);
  });
});

// What a careless or hostile author can put in a file: each is a problem on that file (its last good
// objects stay), with the line and the fix, never an exception, a stall or a silently changed value.
describe('DirectorySource: hostile files', () => {
  const secret = (value: Buffer) => Buffer.concat([Buffer.from('apiVersion: v1\nkind: Secret\nmetadata: {name: api}\nstringData:\n  token: "'), value, Buffer.from('"\n')]);

  it('refuses bytes that are not UTF-8 (a Secret value would silently become U+FFFD), keeping the last good version', async () => {
    await write('s.yaml', secret(Buffer.from('first-token')).toString());
    const rec = await start();
    expect(secretText((await rec.next()).objects.get('Secret/default/api'), 'token')).toBe('first-token');
    await writeAtomic('s.yaml', secret(Buffer.from([0x73, 0x65, 0x63, 0xff, 0x72, 0x65, 0x74])) as unknown as string);
    const s = await rec.next();
    expect(s.problems).toEqual([{
      origin: path.join(dir, 's.yaml'),
      message: `${path.join(dir, 's.yaml')}: line 5, column 14: not UTF-8 text (byte 0xFF) — save the file as UTF-8; a binary value goes base64-encoded under a Secret's data (or a ConfigMap's binaryData)`,
    }]);
    expect(secretText(s.objects.get('Secret/default/api'), 'token')).toBe('first-token');
  });

  it('tells well-formed UTF-8 from overlong forms, surrogates and truncated sequences', () => {
    const problem = (bytes: number[]) => {
      const r = parseManifestFile('f.yaml', new Uint8Array([...Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: "'), ...bytes, 0x22, 0x7d, 0x0a]));
      return 'problem' in r ? r.problem.message : undefined;
    };
    expect(problem([0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80])).toBeUndefined(); // é € 😀
    expect(problem([0xc0, 0xaf])).toMatch(/^f\.yaml: line 4, column 12: not UTF-8 text \(byte 0xC0\)/); // overlong "/"
    expect(problem([0x41, 0xed, 0xa0, 0x80])).toMatch(/line 4, column 13: not UTF-8 text \(byte 0xED\)/); // a UTF-16 surrogate
    expect(problem([0xe2, 0x82])).toMatch(/line 4, column 12: not UTF-8 text \(byte 0xE2\)/); // cut short (by the quote)
    expect(problem([0xf4, 0x90, 0x80, 0x80])).toMatch(/not UTF-8 text \(byte 0xF4\)/); // above U+10FFFF
    expect((parseManifestFile('g.yaml', new Uint8Array([0xff, 0x0a, 0x0a])) as { problem: { message: string } }).problem.message).toMatch(/^g\.yaml: line 1, column 1: not UTF-8 text \(byte 0xFF\)/);
    // A UTF-8 byte order mark is fine, as it is for kubectl.
    expect(parseManifestFile('f.yaml', new Uint8Array([0xef, 0xbb, 0xbf, ...Buffer.from(cm('a'))]))).toMatchObject({ objects: [{ name: 'a' }] });
  });

  it('refuses a ConfigMap or Secret over the API server\'s 1 MiB of data, exactly as it counts', () => {
    const parse = (text: string) => {
      const r = parseManifestFile('f.yaml', text);
      return 'problem' in r ? r.problem.message : `${r.objects.length} objects`;
    };
    const configMap = (data: string, binary = '') => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  a: ${data}\n  b: "é"\n${binary}`;
    // Values count in UTF-8 bytes ("é" is 2), keys do not.
    expect(parse(configMap('x'.repeat(MAX_OBJECT_DATA_BYTES - 2)))).toBe('1 objects');
    expect(parse(configMap('x'.repeat(MAX_OBJECT_DATA_BYTES - 1)))).toBe(
      'f.yaml: document 1 (line 5): ConfigMap "big" data and binaryData: 1.00 MiB (1048577 bytes) in total, more than the 1 MiB (1048576 bytes) the API server accepts in a ConfigMap — split it into several ConfigMaps');
    // binaryData counts decoded; a key in both is the API server's error too.
    expect(parse(configMap('x'.repeat(MAX_OBJECT_DATA_BYTES - 4), 'binaryData:\n  c: AAAA\n'))).toMatch(/data and binaryData: 1\.00 MiB \(1048577 bytes\)/);
    expect(parse(configMap('x', 'binaryData:\n  a: AAAA\n'))).toBe('f.yaml: document 1 (line 8): ConfigMap "big" binaryData.a: the key is also in data — a key goes in one of data and binaryData');
    // A Secret: data decoded, merged with stringData.
    const secretOf = (size: number) => `apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  a: ${Buffer.alloc(3).toString('base64')}\nstringData:\n  b: ${'x'.repeat(size - 3)}\n`;
    expect(parse(secretOf(MAX_OBJECT_DATA_BYTES))).toBe('1 objects');
    expect(parse(secretOf(MAX_OBJECT_DATA_BYTES + 1))).toBe(
      'f.yaml: document 1 (line 5): Secret "s" data (with stringData): 1.00 MiB (1048577 bytes) in total, more than the 1 MiB (1048576 bytes) the API server accepts in a Secret — split it into several Secrets');
  });

  it('refuses a file over the size limit without parsing it, and reads a FIFO never (no hang)', async () => {
    await write('huge.yaml', `# ${'x'.repeat(MAX_MANIFEST_FILE_BYTES)}\n${cm('huge')}`);
    await write('ok.yaml', cm('ok'));
    const s = (await start()).states[0];
    expect([...(s?.objects.keys() ?? [])]).toEqual(['ConfigMap/default/ok']);
    expect(s?.problems).toEqual([{ origin: path.join(dir, 'huge.yaml'), message: `${path.join(dir, 'huge.yaml')}: the file is larger than 4 MiB, the most a manifest file may be here — split it into several files (a ConfigMap or Secret holds at most 1 MiB of data)` }]);
    execFileSync('mkfifo', [path.join(dir, 'pipe.yaml')]);
    expect(await readManifestFile(path.join(dir, 'pipe.yaml'))).toEqual({ problem: `${path.join(dir, 'pipe.yaml')}: not a regular file (a FIFO) — only manifest files (and folders of them) are read` });
  });

  it('refuses alias bombs, alias loops and deep nesting in a manifest; a YAML 1.1 merge key works', () => {
    const problem = (text: string) => {
      const r = parseManifestFile('f.yaml', text);
      return 'problem' in r ? r.problem.message : `${r.objects.map((o) => o.name).join(',')}`;
    };
    const laughs = ['a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]', ...['b', 'c', 'd', 'e'].map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcd'[i]}`).join(', ')}]`), `f: [${Array(10).fill('*e').join(', ')}]`].join('\n');
    expect(problem(`${cm('ok')}---\n${laughs}\n`)).toBe('f.yaml: document 2 (line 11): YAML aliases: the aliases (*name) expand to more than 10000 values — write the repeated parts out, or use fewer aliases');
    expect(problem('apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: a, labels: *m}\n')).toMatch(/^f\.yaml: document 1 \(line 3\): YAML aliases: \*m is inside the value of &m it refers to \(an endless loop\)/);
    expect(problem(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nx: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`)).toBe(
      'f.yaml: document 1 (line 4): YAML nesting: more than 100 levels of maps and lists — a config never needs that many; remove the extra nesting');
    expect(problem('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {<<: [1]}\n')).toBe(
      'f.yaml: document 1 (line 1): invalid YAML: Merge sources must be maps or map aliases — fix the YAML near that line');
    expect(problem('apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: a, namespace: shop}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {<<: {namespace: shop}, name: b}\n')).toBe('a,b');
  });
});

describe('DirectorySource: watching', () => {
  it('keeps the last good objects while a file is broken, and clears the problem when fixed', async () => {
    await write('a.yaml', cm('a', 'good'));
    const rec = await start();
    await rec.next();

    // In-place writes truncate first; `until` tolerates a scan that lands in between.
    await write('a.yaml', `${cm('a', 'edited')}  broken: [\n`);
    const broken = await rec.until((s) => s.problems.length > 0);
    expect(cmValue(broken, 'a')).toBe('good');
    expect(broken.problems).toHaveLength(1);
    expect(broken.problems[0]?.message).toMatch(/a\.yaml: document 1 \(line \d+\): invalid YAML/);

    await write('a.yaml', cm('a', 'fixed'));
    const fixed = await rec.until((s) => cmValue(s, 'a') === 'fixed');
    expect(fixed.problems).toEqual([]);
    expect(cmValue(fixed, 'a')).toBe('fixed');
    expect(logs.filter((l) => l.includes('"level":40'))).toHaveLength(1);
  });

  it('removes the objects of a deleted file once the deletion grace period is over, not before', async () => {
    await write('a.yaml', cm('a'));
    await write('b.yaml', cm('b'));
    const rec = await start({ deletionGraceMs: 500 });
    await rec.next();
    const deleted = performance.now();
    await fsp.rm(path.join(dir, 'a.yaml'));
    // The next state is the one without a: nothing was emitted in between.
    expect([...(await rec.next()).objects.keys()]).toEqual(['ConfigMap/default/b']);
    expect(performance.now() - deleted).toBeGreaterThanOrEqual(500);
    expect(logs.some((l) => l.includes('ConfigMap default/a is no longer in') && l.includes('removed in 500 ms unless it comes back'))).toBe(true);
    expect(logs.some((l) => l.includes('ConfigMap default/a did not come back'))).toBe(true);
  });

  it('with a grace period of 0, removes at once', async () => {
    await write('a.yaml', cm('a'));
    const rec = await start({ deletionGraceMs: 0 });
    await rec.next();
    const deleted = performance.now();
    await fsp.rm(path.join(dir, 'a.yaml'));
    expect((await rec.next()).objects.size).toBe(0);
    expect(performance.now() - deleted).toBeLessThan(400);
  });

  it('never drops the objects of a file deleted and written back 300 ms later; an edit in it applies at once', async () => {
    await write('a.yaml', cm('a', 'v1'));
    const rec = await start();
    await rec.next();
    await fsp.rm(path.join(dir, 'a.yaml'));
    await sleep(300);
    const back = performance.now();
    await write('a.yaml', cm('a', 'v2'));
    const s = await rec.next();
    expect(cmValue(s, 'a')).toBe('v2');
    expect(performance.now() - back).toBeLessThan(500);
    await sleep(2500); // past the grace period: nothing is removed later either
    expect(rec.states.every((st) => cmValue(st, 'a') !== undefined)).toBe(true);
    expect(rec.states).toHaveLength(2);
  });

  it('never drops the second object of a file rewritten in two writes 300 ms apart', async () => {
    await write('ab.yaml', `${cm('a', 'v1')}---
${cm('b', 'v1')}`);
    const rec = await start();
    await rec.next();
    await write('ab.yaml', `${cm('a', 'v2')}---
`); // the first write: b is not there yet
    await sleep(300);
    await fsp.appendFile(path.join(dir, 'ab.yaml'), cm('b', 'v2'));
    await rec.until((s) => cmValue(s, 'a') === 'v2' && cmValue(s, 'b') === 'v2');
    await sleep(2500);
    expect(rec.states.every((st) => cmValue(st, 'b') !== undefined)).toBe(true);
  });

  it('an object that moves to another file is never absent, and its old file no longer holds it', async () => {
    await write('a.yaml', cm('a', 'v1'));
    const rec = await start({ deletionGraceMs: 300 });
    await rec.next();
    await writeAtomic('moved.yaml', cm('a', 'v2'));
    await fsp.rm(path.join(dir, 'a.yaml'));
    // At once (not after the grace period), and never reported as defined twice.
    await rec.until((s) => cmValue(s, 'a') === 'v2', 1000);
    await sleep(600);
    expect(rec.states.every((st) => cmValue(st, 'a') !== undefined && st.problems.length === 0)).toBe(true);
  });

  it('picks up an atomic save (write temp file, rename over the original) without an intermediate state', async () => {
    await write('a.yaml', cm('a', 'v1'));
    const rec = await start();
    await rec.next();
    await writeAtomic('a.yaml', cm('a', 'v2'));
    const s = await rec.next();
    expect(cmValue(s, 'a')).toBe('v2');
    expect(s.problems).toEqual([]);
  });

  it('picks up every one of many successive atomic saves, in the root and in a subfolder', async () => {
    // Each directory has its own watcher; the end-to-end hot-reload test covers the same with a real Envoy.
    await fsp.mkdir(path.join(dir, 'sub'));
    await write('a.yaml', cm('a', 'v0'));
    await write('sub/b.yaml', cm('b', 'v0'));
    const rec = await start();
    await rec.next();
    for (let i = 1; i <= 15; i++) {
      // A new temp name each time, as editors and tools do.
      await write(`.a.yaml.${i}.tmp`, cm('a', `v${i}`));
      await fsp.rename(path.join(dir, `.a.yaml.${i}.tmp`), path.join(dir, 'a.yaml'));
      await rec.until((s) => cmValue(s, 'a') === `v${i}`, 2000);
    }
    for (let i = 1; i <= 15; i++) {
      await fsp.writeFile(path.join(dir, 'sub', `.b.${i}.tmp`), cm('b', `v${i}`));
      await fsp.rename(path.join(dir, 'sub', `.b.${i}.tmp`), path.join(dir, 'sub', 'b.yaml'));
      await rec.until((s) => cmValue(s, 'b') === `v${i}`, 2000);
    }
  });

  it("picks up vim's save (rename the original away, write a new file, delete the backup)", async () => {
    await write('a.yaml', cm('a', 'v1'));
    const rec = await start();
    await rec.next();
    await fsp.rename(path.join(dir, 'a.yaml'), path.join(dir, 'a.yaml~'));
    await write('a.yaml', cm('a', 'v2'));
    await fsp.rm(path.join(dir, 'a.yaml~'));
    await rec.until((s) => cmValue(s, 'a') === 'v2');
  });

  it('picks up a file added later, also in a new subdirectory', async () => {
    const rec = await start();
    expect((await rec.next()).objects.size).toBe(0);
    await fsp.mkdir(path.join(dir, 'team', 'shop'), { recursive: true });
    await write('team/shop/new.yaml', cm('added', 'x', '  namespace: shop\n'));
    await rec.until((s) => cmValue(s, 'added', 'shop') === 'x');
  });

  it('lets the file that sorts first win a duplicate object, and flags the other file', async () => {
    await write('b.yaml', cm('dup', 'from-b'));
    await write('a.yaml', cm('dup', 'from-a'));
    const rec = await start();
    const s = await rec.next();
    expect(cmValue(s, 'dup')).toBe('from-a');
    expect(s.problems).toEqual([{
      origin: path.join(dir, 'b.yaml'),
      message: `${path.join(dir, 'b.yaml')}: ConfigMap "default/dup" is also defined in ${path.join(dir, 'a.yaml')}, which wins because its path sorts first — remove one of the two definitions`,
    }]);
    await fsp.rm(path.join(dir, 'a.yaml'));
    const after = await rec.next();
    expect(cmValue(after, 'dup')).toBe('from-b');
    expect(after.problems).toEqual([]);
  });

  it('keeps a duplicate object with the file that had it first, even when the newcomer sorts first', async () => {
    await write('z.yaml', cm('dup', 'from-z'));
    const rec = await start({ deletionGraceMs: 200 });
    await rec.next();
    await writeAtomic('a.yaml', cm('dup', 'from-a'));
    const s = await rec.until((st) => st.problems.length > 0);
    expect(cmValue(s, 'dup')).toBe('from-z');
    expect(s.problems).toEqual([{
      origin: path.join(dir, 'a.yaml'),
      message: `${path.join(dir, 'a.yaml')}: ConfigMap "default/dup" is also defined in ${path.join(dir, 'z.yaml')}, which had it first and keeps it — remove one of the two definitions`,
    }]);
    // z deleted and written back within the grace period: it still has it.
    await fsp.rm(path.join(dir, 'z.yaml'));
    await sleep(100);
    await write('z.yaml', cm('dup', 'from-z2'));
    await rec.until((st) => cmValue(st, 'dup') === 'from-z2');
    // Deleted for good: a takes over.
    await fsp.rm(path.join(dir, 'z.yaml'));
    const after = await rec.until((st) => cmValue(st, 'dup') === 'from-a');
    expect(after.problems).toEqual([]);
    expect(rec.states.every((st) => cmValue(st, 'dup') !== undefined)).toBe(true);
  });

  it('does not call onChange when a file is rewritten unchanged or only its comments change', async () => {
    await write('a.yaml', cm('a', 'v1'));
    const rec = await start();
    await rec.next();
    // Atomic rewrites, so no scan can see a half-written file and (rightly) notify.
    await fsp.utimes(path.join(dir, 'a.yaml'), new Date(), new Date()); // touch
    await writeAtomic('a.yaml', cm('a', 'v1')); // same bytes
    await writeAtomic('a.yaml', `${cm('a', 'v1')}# a comment\n`); // different bytes, same objects (on the same lines)
    await sleep(SETTLE_MS * 10); // let those be scanned on their own
    await write('b.yaml', cm('b'));
    // The only notification is for b: had the rewrites notified, that state would come first.
    const s = await rec.next();
    expect(cmValue(s, 'b')).toBe('v');
    expect(rec.states).toHaveLength(2);
  });

  it('calls onChange when a ConfigMap moves to other lines of its file (its errors name them)', async () => {
    await write('a.yaml', cm('a', 'v1'));
    const rec = await start();
    const before = (await rec.next()).objects.get('ConfigMap/default/a');
    await writeAtomic('a.yaml', `# a comment\n${cm('a', 'v1')}`);
    const after = (await rec.next()).objects.get('ConfigMap/default/a');
    expect(before?.kind === 'ConfigMap' && before.file?.keys['key']?.line).toBe(6);
    expect(after?.kind === 'ConfigMap' && after.file?.keys['key']?.line).toBe(7);
  });

  it('reads an atomically saved file on its event, without waiting for the folder to be quiet', async () => {
    await write('a.yaml', cm('a', 'v1'));
    const rec = await start({ settleMs: 60_000 }); // in-place writes would wait a minute
    await rec.next();
    for (let i = 2; i <= 5; i++) {
      await writeAtomic('a.yaml', cm('a', `v${i}`));
      expect(cmValue(await rec.next(2000), 'a')).toBe(`v${i}`);
    }
    // A new file written elsewhere and moved in is complete when it appears, too.
    await fsp.writeFile(path.join(os.tmpdir(), `${path.basename(dir)}-b.yaml`), cm('b', 'moved-in'));
    await fsp.rename(path.join(os.tmpdir(), `${path.basename(dir)}-b.yaml`), path.join(dir, 'b.yaml'));
    expect(cmValue(await rec.next(2000), 'b')).toBe('moved-in');
  });

  it('keeps every object an edit did not change the same object, so nothing downstream is redone for it', async () => {
    await write('ab.yaml', `${cm('a', 'v1')}---\n${cm('b', 'v1')}`);
    await write('c.yaml', cm('c', 'v1'));
    const rec = await start();
    const first = await rec.next();
    await writeAtomic('ab.yaml', `${cm('a', 'v2')}---\n${cm('b', 'v1')}`);
    const second = await rec.next();
    expect(cmValue(second, 'a')).toBe('v2');
    expect(second.objects.get('ConfigMap/default/b')).toBe(first.objects.get('ConfigMap/default/b'));
    expect(second.objects.get('ConfigMap/default/c')).toBe(first.objects.get('ConfigMap/default/c'));
  });

  it('reads only the file that changed: an edit does not re-read the others', async () => {
    // other.yaml links into a dot-folder, which is never watched: a change there has no event, so
    // only a re-read of the whole folder would see it.
    await fsp.mkdir(path.join(dir, '.store'));
    await write('.store/other.yaml', cm('other', 'v1'));
    await fsp.symlink(path.join(dir, '.store/other.yaml'), path.join(dir, 'other.yaml'));
    await write('a.yaml', cm('a', 'v1'));
    const rec = await start();
    expect(cmValue(await rec.next(), 'other')).toBe('v1');
    await write('.store/other.yaml', cm('other', 'unseen'));
    await writeAtomic('a.yaml', cm('a', 'v2'));
    const s = await rec.next();
    expect(cmValue(s, 'a')).toBe('v2');
    expect(cmValue(s, 'other')).toBe('v1');
  });

  it('never publishes a file written in place while it is half-written, nor reports it broken', async () => {
    await write('a.yaml', cm('a', 'v1'));
    const rec = await start({ settleMs: 300 });
    await rec.next();
    // A slow writer: the first half (cut inside a quoted value), a pause, then the rest.
    const full = cm('a', 'v2');
    const cut = full.indexOf('"v2"') + 2;
    const handle = await fsp.open(path.join(dir, 'a.yaml'), 'w');
    await handle.write(full.slice(0, cut));
    await sleep(100);
    await handle.write(full.slice(cut));
    await handle.close();
    const s = await rec.next();
    expect(cmValue(s, 'a')).toBe('v2');
    expect(rec.states.every((st) => st.problems.length === 0)).toBe(true);
    expect(logs.filter((l) => l.includes('"level":40'))).toEqual([]);
  });

  it('an atomically saved file that is broken is reported once it stays so, its last good objects kept', async () => {
    await write('a.yaml', cm('a', 'v1'));
    const rec = await start({ settleMs: 50 });
    await rec.next();
    await writeAtomic('a.yaml', `${cm('a', 'v2')}  broken: [\n`);
    const s = await rec.next();
    expect(cmValue(s, 'a')).toBe('v1');
    expect(s.problems[0]?.message).toMatch(/a\.yaml: document 1 \(line \d+\): invalid YAML/);
  });

  it('stops calling onChange after stop()', async () => {
    await write('a.yaml', cm('a', 'v1'));
    const rec = await start();
    await rec.next();
    await rec.source.stop();
    await write('a.yaml', cm('a', 'v2'));
    await expect(rec.next(SETTLE_MS * 15)).rejects.toThrow('no onChange');
  });
});
