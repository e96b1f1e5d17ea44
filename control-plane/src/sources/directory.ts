// The embedded source: Kubernetes manifests in a folder, watched for changes.
//
// Watch events name what changed, and only that is read again: a manifest file replaced, created or
// deleted (an editor's atomic save, vim's rename-away + write-new, a `mv`) is read on the next turn
// of the event loop; one written in place (its writer may not be done) once it has been quiet for
// `settleMs`. A read that finds a file broken is not reported until the file has been quiet for
// `settleMs` and still is (a half-written file gets retried, not reported). Anything else — a folder
// added or removed, Kubernetes ConfigMap volumes' `..data` symlink swap, an event without a name —
// re-reads the whole tree; file contents are compared, so only what changed is parsed.
//
// Additions and edits apply at once; a deletion only after a grace period. An object that vanishes
// (its file deleted, or no longer in its file) is kept for `deletionGraceMs` and only then removed,
// unless it comes back: a file deleted and written back (git checkout, a deploy script), or
// rewritten in several writes, never empties an ambassador in between.
//
// An object defined in two files belongs to the file that had it first; at start, to the file
// whose path sorts first. The other definition is reported as a problem.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { readManifestFile, type ManifestFileRead } from './manifest-file.ts';
import { parseManifestFile } from './manifests.ts';
import { objectKey } from './types.ts';
import type { Source, SourceObject, SourceProblem, SourceState } from './types.ts';

export interface DirectorySourceOptions {
  dir: string;
  /** Quiet time a file written in place (or found broken) needs before it is read (again) (default
   * SETTLE_MS). Files replaced by a rename are read at once. */
  settleMs?: number;
  /** How long an object that vanished is kept before it is removed (default DELETION_GRACE_MS). */
  deletionGraceMs?: number;
  logger: Logger;
}

/** Long enough for a delete-and-write-back or a rewrite in several writes; short enough that a real
 * deletion still takes effect within seconds. */
export const DELETION_GRACE_MS = 2000;

interface FileEntry {
  /** Content last read; undefined after a read error or deletion, so the next good read is parsed again. */
  bytes: Buffer | undefined;
  /** Objects of the last version that parsed; kept while the file is broken. */
  good: SourceObject[];
  problem: SourceProblem | undefined;
  /** Objects that vanished from this file, kept until their deadline (ms, performance.now()). */
  lingering: Map<string, { object: SourceObject; until: number }>;
  /** The file itself is gone: the entry only holds lingering objects. */
  deleted?: true;
}

interface Listing {
  files: string[];
  /** Every directory that was listed, the root included: each gets its own watcher. */
  dirs: string[];
  /** [directory, error code] for subdirectories that could not be listed. */
  unreadableDirs: [string, string][];
}

/** A writer that truncates a file and writes it again is done well within this. */
export const SETTLE_MS = 100;

/** Delay before looking again for a directory that has disappeared (no watcher can see it return). */
const RETRY_MS = 1000;

export class DirectorySource implements Source {
  readonly #dir: string;
  readonly #settleMs: number;
  readonly #graceMs: number;
  readonly #log: Logger;
  readonly #files = new Map<string, FileEntry>();
  #dirProblem: SourceProblem | undefined;
  readonly #watchers = new Map<string, fs.FSWatcher>();
  /** A full re-read after a delay (the directory itself gone, a watch ended). */
  #retryTimer: NodeJS.Timeout | undefined;
  #graceTimer: NodeJS.Timeout | undefined;
  /** Files written in place (or found broken): read once quiet. */
  readonly #settling = new Map<string, NodeJS.Timeout>();
  /** This turn's watch events, by path: whether one said the file was written in place. */
  readonly #events = new Map<string, { inPlace: boolean }>();
  #flush: NodeJS.Immediate | undefined;
  /** The work the next run does: a full re-read, files to read (and whether they are settled), and
   * other entries that changed (a folder, perhaps). */
  #fullScan = false;
  readonly #toRead = new Map<string, { settled: boolean }>();
  readonly #others = new Set<string>();
  /** Object key → the file it belongs to (as of the last state built). */
  readonly #owners = new Map<string, string>();
  /** What the last state was built from, kept up to date file by file: only the files changed since
   * (`#dirtyFiles`) and the objects they define are looked at again. */
  readonly #dirtyFiles = new Set<string>();
  /** Object key → its definitions: file → object, and whether it only lingers there. */
  readonly #defs = new Map<string, Map<string, { object: SourceObject; lingering: boolean }>>();
  /** File → the keys it defined in the last state built. */
  readonly #fileKeys = new Map<string, Set<string>>();
  /** Object key → the problems of its duplicate definitions, by file. */
  readonly #duplicates = new Map<string, Map<string, SourceProblem>>();
  readonly #objects = new Map<string, SourceObject>();
  #problems: SourceProblem[] = [];
  #problemsStale = true;
  /** Files with lingering objects. */
  readonly #lingeringFiles = new Set<string>();
  #running: Promise<void> | undefined;
  #stopped = false;
  #onChange: ((state: SourceState) => void) | undefined;
  #emitted = false;
  #warned = new Set<string>();

  constructor(options: DirectorySourceOptions) {
    this.#dir = options.dir;
    this.#settleMs = options.settleMs ?? SETTLE_MS;
    this.#graceMs = options.deletionGraceMs ?? DELETION_GRACE_MS;
    this.#log = options.logger.child({ source: 'directory', dir: options.dir });
  }

  async start(onChange: (state: SourceState) => void): Promise<void> {
    if (this.#onChange) throw new Error('DirectorySource.start() called twice');
    let stat: fs.Stats;
    try {
      stat = await fsp.stat(this.#dir);
    } catch (err) {
      throw new Error(`directory source: cannot read ${this.#dir} (${errorCode(err)}) — create it or point the source at an existing directory`, { cause: err });
    }
    if (!stat.isDirectory()) throw new Error(`directory source: ${this.#dir} is not a directory`);
    this.#onChange = onChange;
    this.#watch(this.#dir); // before the first scan, so no change made during it is missed
    this.#fullScan = true;
    await this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#graceTimer);
    clearImmediate(this.#flush);
    for (const t of this.#settling.values()) clearTimeout(t);
    this.#settling.clear();
    this.#unwatchAll();
    await this.#running;
  }

  // One plain watcher per directory: Node's `recursive` mode on Linux misses most rename-over
  // saves after the first (measured: 39 of 40), while a directory's own inotify watch sees each.
  #watch(dir: string): boolean {
    if (this.#watchers.has(dir) || this.#stopped) return false;
    try {
      const watcher = fs.watch(dir, (event, name) => this.#onEvent(dir, event, name));
      watcher.on('error', (err) => {
        this.#log.debug({ dir, err: errorCode(err) }, 'directory watch ended; re-reading');
        if (this.#watchers.get(dir) === watcher) this.#watchers.delete(dir);
        watcher.close();
        this.#scheduleFullScan(0);
      });
      this.#watchers.set(dir, watcher);
      return true;
    } catch (err) {
      this.#log.warn({ dir, err: errorCode(err) }, 'cannot watch directory; will retry');
      return false;
    }
  }

  /** Watches exactly the directories of the latest listing; true if a new one is watched now. */
  #syncWatchers(dirs: readonly string[]): boolean {
    const wanted = new Set(dirs);
    for (const [dir, w] of this.#watchers) {
      if (!wanted.has(dir)) {
        w.close();
        this.#watchers.delete(dir);
      }
    }
    let added = false;
    for (const dir of dirs) added = this.#watch(dir) || added;
    return added;
  }

  #unwatchAll(): void {
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
  }

  /** Events of one turn are gathered and handled together on the next one: an editor's save is
   * several events, and a file both created and written in place is to be waited for. */
  #onEvent(dir: string, event: fs.WatchEventType, name: string | null): void {
    if (this.#stopped) return;
    if (name === null || name.startsWith('..')) this.#fullScan = true; // no name; a ConfigMap volume's `..data` swap
    else if (name.startsWith('.')) return; // editors' temp and swap files: never read
    else {
      const full = path.join(dir, name);
      const seen = this.#events.get(full);
      this.#events.set(full, { inPlace: (seen?.inPlace ?? false) || event === 'change' });
    }
    this.#flush ??= setImmediate(() => {
      this.#flush = undefined;
      for (const [full, { inPlace }] of this.#events) {
        if (!isManifestName(path.basename(full))) this.#others.add(full);
        else if (inPlace) this.#settle(full);
        else this.#toRead.set(full, { settled: this.#toRead.get(full)?.settled ?? false });
      }
      this.#events.clear();
      void this.#run();
    });
  }

  /** Reads the file once nothing has changed it for `settleMs`. */
  #settle(file: string): void {
    if (this.#stopped) return;
    clearTimeout(this.#settling.get(file));
    this.#settling.set(file, setTimeout(() => {
      this.#settling.delete(file);
      this.#toRead.set(file, { settled: true });
      void this.#run();
    }, this.#settleMs));
  }

  #scheduleFullScan(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#fullScan = true;
      void this.#run();
    }, delayMs);
  }

  /** Does the pending work, one run at a time; work that comes in meanwhile is done right after. */
  #run(): Promise<void> {
    if (this.#running || this.#stopped) return this.#running ?? Promise.resolve();
    this.#running = (async () => {
      while (!this.#stopped && (this.#fullScan || this.#toRead.size > 0 || this.#others.size > 0)) {
        try {
          await this.#runOnce();
        } catch (err) {
          this.#log.error({ err }, 'directory scan failed');
        }
      }
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #runOnce(): Promise<void> {
    // A changed entry that is (or was) a folder: only a full re-read sees what it holds.
    for (const other of [...this.#others]) {
      this.#others.delete(other);
      if (this.#watchers.has(other)) this.#fullScan = true;
      else {
        const kind = await entryKind(other);
        if (kind === 'dir' || kind === 'unknown') this.#fullScan = true;
      }
    }
    if (this.#fullScan) {
      this.#fullScan = false;
      this.#toRead.clear(); // read by the scan, settled: whatever it finds is what is there
      await this.#scanOnce();
      return;
    }
    const files = [...this.#toRead];
    this.#toRead.clear();
    const reads = await Promise.all(files.map(async ([f, { settled }]) => {
      const kind = await entryKind(f);
      return { f, settled, kind, read: kind === 'file' ? await readManifestFile(f) : undefined };
    }));
    for (const { f, settled, kind, read } of reads) {
      if (kind === 'dir' || kind === 'unknown') this.#fullScan = true;
      else if (read) this.#update(f, read, settled);
      else this.#fileGone(f);
    }
    if (!this.#fullScan) this.#emit();
  }

  async #scanOnce(): Promise<void> {
    let listing: Listing;
    try {
      listing = await listManifests(this.#dir);
    } catch (err) {
      // The directory itself is gone or unreadable: keep serving what it last held.
      this.#problemsStale = true;
      this.#dirProblem = { origin: this.#dir, message: `${this.#dir}: cannot read the directory (${errorCode(err)}) — the objects last read from it are kept until it is readable again` };
      this.#unwatchAll(); // a watcher on a deleted directory never fires again
      this.#scheduleFullScan(RETRY_MS);
      this.#emit();
      return;
    }
    if (this.#dirProblem) this.#problemsStale = true;
    this.#dirProblem = undefined;
    // A file written into a folder between its listing and its watch has no event: look again.
    if (this.#syncWatchers(listing.dirs)) this.#fullScan = true;

    const present = new Set(listing.files);
    // Files under a directory that cannot be listed keep their last state instead of vanishing.
    const inUnreadableDir = (f: string): boolean => listing.unreadableDirs.some(([d]) => f.startsWith(d + path.sep));
    for (const f of this.#files.keys()) {
      if (!present.has(f) && !inUnreadableDir(f)) this.#fileGone(f);
    }
    const reads = await Promise.all(listing.files.map(async (f) => [f, await readManifestFile(f)] as const));
    for (const [f, read] of reads) this.#update(f, read, true);
    for (const [d, code] of listing.unreadableDirs) {
      this.#setEntry(d, { bytes: undefined, good: [], problem: { origin: d, message: `${d}: cannot read the directory (${code}) — fix its permissions` }, lingering: new Map() });
    }
    this.#emit();
  }

  /** A file's new content. A problem found by a read that is not `settled` (the file may be
   * half-written) is not reported: the file is read again once quiet. */
  #update(file: string, read: ManifestFileRead, settled: boolean): void {
    const entry = this.#files.get(file);
    if ('gone' in read) {
      this.#fileGone(file); // vanished between listing and reading: deleted
      return;
    }
    const lingering = entry?.lingering ?? new Map<string, { object: SourceObject; until: number }>();
    if ('problem' in read) {
      if (!settled) return this.#settle(file);
      this.#setEntry(file, { bytes: undefined, good: entry?.good ?? [], problem: { origin: file, message: read.problem }, lingering });
      return;
    }
    if (entry?.bytes?.equals(read.bytes)) return;
    const result = parseManifestFile(file, read.bytes);
    if ('problem' in result) {
      if (!settled) return this.#settle(file);
      this.#setEntry(file, { bytes: read.bytes, good: entry?.good ?? [], problem: result.problem, lingering });
      return;
    }
    // An object another file has too is, mid-move (written to its new file, not yet removed from
    // its old one), not a duplicate to report: look again once quiet.
    if (!settled && result.objects.some((o) => this.#definedElsewhere(objectKey(o), file))) return this.#settle(file);
    for (const s of result.skipped) this.#log.debug(s, 'skipping a manifest that is not a v1 ConfigMap or Secret');
    const now = new Set(result.objects.map(objectKey));
    for (const key of now) lingering.delete(key);
    this.#linger(file, lingering, (entry?.good ?? []).filter((o) => !now.has(objectKey(o))));
    // An object whose content did not change stays the same object: what it feeds is not redone.
    const before = new Map((entry?.good ?? []).map((o) => [objectKey(o), o]));
    const good = result.objects.map((o) => {
      const old = before.get(objectKey(o));
      return old && sameObject(old, o) ? old : o;
    });
    this.#setEntry(file, { bytes: read.bytes, good, problem: undefined, lingering });
  }

  #setEntry(file: string, entry: FileEntry | undefined): void {
    if (this.#files.get(file)?.problem?.message !== entry?.problem?.message) this.#problemsStale = true;
    if (entry) this.#files.set(file, entry);
    else this.#files.delete(file);
    this.#dirtyFiles.add(file);
  }

  #definedElsewhere(key: string, file: string): boolean {
    const owner = this.#owners.get(key);
    return owner !== undefined && owner !== file && (this.#files.get(owner)?.good.some((o) => objectKey(o) === key) ?? false);
  }

  /** A file is gone: its objects linger for the grace period. */
  #fileGone(file: string): void {
    const entry = this.#files.get(file);
    if (!entry || entry.deleted) return;
    this.#linger(file, entry.lingering, entry.good);
    this.#setEntry(file, entry.lingering.size === 0 ? undefined : { bytes: undefined, good: [], problem: undefined, lingering: entry.lingering, deleted: true });
  }

  #linger(file: string, into: FileEntry['lingering'], objects: readonly SourceObject[]): void {
    if (this.#graceMs <= 0) return;
    const until = performance.now() + this.#graceMs;
    if (objects.length > 0) this.#lingeringFiles.add(file);
    for (const o of objects) {
      into.set(objectKey(o), { object: o, until });
      this.#log.info({ file, object: `${o.kind} ${o.namespace}/${o.name}` }, `${o.kind} ${o.namespace}/${o.name} is no longer in ${file}: it is removed in ${this.#graceMs} ms unless it comes back`);
    }
  }

  /** Drops the lingering objects whose grace is over, and arms a timer for the next one. */
  #expireLingering(): void {
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    const now = performance.now();
    let next = Infinity;
    for (const file of this.#lingeringFiles) {
      const entry = this.#files.get(file);
      for (const [key, l] of entry?.lingering ?? []) {
        if (l.until > now) next = Math.min(next, l.until);
        else {
          entry?.lingering.delete(key);
          this.#dirtyFiles.add(file);
          this.#log.info({ file, object: `${l.object.kind} ${l.object.namespace}/${l.object.name}` }, `${l.object.kind} ${l.object.namespace}/${l.object.name} did not come back to ${file}: removed`);
        }
      }
      if (!entry || entry.lingering.size === 0) this.#lingeringFiles.delete(file);
      if (entry?.deleted && entry.lingering.size === 0) this.#setEntry(file, undefined);
    }
    if (next !== Infinity && !this.#stopped) {
      this.#graceTimer = setTimeout(() => this.#emit(), Math.max(1, next - now));
    }
  }

  #emit(): void {
    if (this.#stopped || !this.#onChange) return;
    this.#expireLingering();
    const changed = this.#applyDirtyFiles();
    if (this.#emitted && !changed) return;
    this.#emitted = true;
    const state: SourceState = { objects: new Map(this.#objects), problems: this.#problems };
    const current = new Set<string>();
    for (const p of state.problems) {
      const key = `${p.origin}\n${p.message}`;
      current.add(key);
      if (!this.#warned.has(key)) this.#log.warn({ origin: p.origin }, p.message);
    }
    for (const key of this.#warned) {
      if (!current.has(key)) this.#log.info({ origin: key.slice(0, key.indexOf('\n')) }, 'problem resolved');
    }
    this.#warned = current; // a problem that comes back later is warned about again
    try {
      this.#onChange(state);
    } catch (err) {
      this.#log.error({ err }, 'onChange handler threw');
    }
  }

  /** Brings the objects and problems up to date with the files changed since; true if they changed. */
  #applyDirtyFiles(): boolean {
    const keys = new Set<string>();
    for (const file of this.#dirtyFiles) {
      const entry = this.#files.get(file);
      const now = new Map<string, { object: SourceObject; lingering: boolean }>();
      for (const o of entry?.good ?? []) now.set(objectKey(o), { object: o, lingering: false });
      for (const [key, l] of entry?.lingering ?? []) if (!now.has(key)) now.set(key, { object: l.object, lingering: true });
      for (const key of this.#fileKeys.get(file) ?? []) {
        if (now.has(key)) continue;
        this.#defs.get(key)?.delete(file);
        keys.add(key);
      }
      for (const [key, d] of now) {
        let defs = this.#defs.get(key);
        if (!defs) this.#defs.set(key, (defs = new Map()));
        defs.set(file, d);
        keys.add(key);
      }
      if (now.size > 0) this.#fileKeys.set(file, new Set(now.keys()));
      else this.#fileKeys.delete(file);
    }
    this.#dirtyFiles.clear();
    let changed = false;
    for (const key of keys) changed = this.#resolve(key) || changed;
    if (this.#problemsStale) {
      this.#problemsStale = false;
      const problems = this.#collectProblems();
      if (!sameProblems(problems, this.#problems)) {
        this.#problems = problems;
        changed = true;
      }
    }
    return changed;
  }

  // The file that had an object keeps it; a new duplicate is the one reported. A lingering object
  // yields to one defined in another file (it moved there) but its file keeps the ownership until
  // the grace period is over, in case it comes back. Files count in path order.
  /** Which definition of an object is served; true if that changed the objects. */
  #resolve(key: string): boolean {
    const defs = this.#defs.get(key);
    const list = [...(defs ?? [])].sort(([a], [b]) => byCodeUnit(a, b)).map(([file, d]) => ({ file, ...d }));
    const previous = this.#owners.get(key);
    const live = list.filter((d) => !d.lingering);
    const kept = live.find((d) => d.file === previous);
    const winner = kept ?? live[0] ?? list[0];
    const before = this.#objects.get(key);
    const hadDuplicates = this.#duplicates.delete(key);
    if (!winner) {
      this.#defs.delete(key);
      this.#owners.delete(key);
      this.#objects.delete(key);
      if (hadDuplicates) this.#problemsStale = true;
      return before !== undefined;
    }
    this.#objects.set(key, winner.object);
    this.#owners.set(key, list.some((d) => d.file === previous) && previous !== undefined ? previous : winner.file);
    const why = kept && kept !== live[0] ? 'which had it first and keeps it' : 'which wins because its path sorts first';
    const duplicates = new Map<string, SourceProblem>();
    for (const d of live) {
      if (d === winner) continue;
      const o = d.object;
      duplicates.set(d.file, { origin: d.file, message: `${d.file}: ${o.kind} "${o.namespace}/${o.name}" is also defined in ${winner.file}, ${why} — remove one of the two definitions` });
    }
    if (duplicates.size > 0) this.#duplicates.set(key, duplicates);
    if (hadDuplicates || duplicates.size > 0) this.#problemsStale = true;
    return before !== winner.object;
  }

  /** Every problem, by origin: the folder's, then each file's own and its duplicate definitions. */
  #collectProblems(): SourceProblem[] {
    const problems: SourceProblem[] = this.#dirProblem ? [this.#dirProblem] : [];
    for (const file of [...this.#files.keys()].sort(byCodeUnit)) {
      const entry = this.#files.get(file);
      if (entry?.problem) problems.push(entry.problem);
    }
    for (const byFile of this.#duplicates.values()) problems.push(...byFile.values());
    return problems.sort((a, b) => byCodeUnit(a.origin, b.origin));
  }
}

/** Manifest files under `root`, recursively, sorted; dot-entries and editor temp files skipped. */
async function listManifests(root: string): Promise<Listing> {
  const files: string[] = [];
  const dirs: string[] = [];
  const unreadableDirs: [string, string][] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (dir === root) throw err;
      if (errorCode(err) !== 'ENOENT') unreadableDirs.push([dir, errorCode(err)]); // ENOENT: removed mid-scan
      return;
    }
    dirs.push(dir);
    for (const e of entries) {
      if (e.name.startsWith('.')) continue; // also vim's .x.swp, emacs' .#x, `..data` of ConfigMap volumes
      const full = path.join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      // Symlinks are followed to files only (ConfigMap volumes link each key into `..data/`);
      // symlinked directories are not followed, so a link loop cannot trap the walk.
      else if (isManifestName(e.name) && (e.isFile() || (e.isSymbolicLink() && (await isFile(full))))) files.push(full);
    }
  };
  await walk(root);
  return { files: files.sort(byCodeUnit), dirs, unreadableDirs };
}

function isManifestName(name: string): boolean {
  return (name.endsWith('.yaml') || name.endsWith('.yml')) && !name.startsWith('#');
}

/** What a changed path is now, as the listing would see it: a manifest file (a regular file, or a
 * link to one), a folder to walk, nothing to read, or unknown (it could not be looked at). */
async function entryKind(p: string): Promise<'file' | 'dir' | 'none' | 'unknown'> {
  let st: fs.Stats;
  try {
    st = await fsp.lstat(p);
  } catch (err) {
    return errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR' ? 'none' : 'unknown';
  }
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  return st.isSymbolicLink() && (await isFile(p)) ? 'file' : 'none';
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isFile();
  } catch {
    return false; // dangling link
  }
}

function errorCode(err: unknown): string {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.message : String(err);
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sameProblems(a: readonly SourceProblem[], b: readonly SourceProblem[]): boolean {
  return a.length === b.length && a.every((p, i) => p.origin === b[i]?.origin && p.message === b[i]?.message);
}

function sameObject(a: SourceObject, b: SourceObject): boolean {
  if (a === b) return true; // an unchanged file keeps its objects
  if (a.origin !== b.origin || !sameRecord(a.labels, b.labels, (x, y) => x === y)) return false;
  // A ConfigMap's lines in its file count too: its errors name them.
  if (a.kind === 'ConfigMap' && b.kind === 'ConfigMap') {
    return sameRecord(a.data, b.data, (x, y) => x === y) && sameRecord(a.binaryData ?? {}, b.binaryData ?? {}, (x, y) => Buffer.from(x).equals(y)) && JSON.stringify(a.file) === JSON.stringify(b.file);
  }
  if (a.kind === 'Secret' && b.kind === 'Secret') return a.type === b.type && sameRecord(a.data, b.data, (x, y) => Buffer.from(x).equals(y));
  return false;
}

function sameRecord<T>(a: Readonly<Record<string, T>>, b: Readonly<Record<string, T>>, eq: (x: T, y: T) => boolean): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => k in b && eq(a[k] as T, b[k] as T));
}
