// A TLS serving certificate (and optionally the CA that client certificates must chain to) read
// from files, as mounted from a Kubernetes Secret or written by cert-manager, and reloaded when
// they change. A reload is published only when the new certificate and key belong together and
// load: a half-written rotation (certificate renamed in before its key) keeps the previous pair
// until the files agree again, so no connection is refused because of it.
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from '../observe/log.ts';

export interface CertificatePaths {
  certFile: string;
  keyFile: string;
  /** CA bundle that client certificates must chain to (mutual TLS). */
  caFile?: string;
}

export interface LoadedCertificates {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  /** When the serving certificate expires. */
  notAfter: Date;
  /** Hash of the three files' contents: equal contents are not published twice. */
  fingerprint: string;
}

/** How often the files are read even when no watch event arrived (a watch can miss a remount). */
const POLL_MS = 10_000;
/** Quiet time after a watch event: a rotation writes several files. */
const DEBOUNCE_MS = 100;

export class CertificateFiles {
  readonly #paths: CertificatePaths;
  readonly #log: Logger;
  #current: LoadedCertificates;
  readonly #listeners = new Set<(c: LoadedCertificates) => void>();
  readonly #watchers: fs.FSWatcher[] = [];
  readonly #poll: NodeJS.Timeout;
  #debounce: NodeJS.Timeout | undefined;
  #lastProblem: string | undefined;
  #closed = false;

  /** Reads the files once; throws a message naming the file and the fix when they are unusable. */
  static async open(paths: CertificatePaths, log: Logger): Promise<CertificateFiles> {
    const loaded = await load(paths);
    if ('problem' in loaded) throw new Error(loaded.problem);
    return new CertificateFiles(paths, log, loaded);
  }

  private constructor(paths: CertificatePaths, log: Logger, first: LoadedCertificates) {
    this.#paths = paths;
    this.#log = log.child({ component: 'tls-files' });
    this.#current = first;
    // Kubernetes swaps a volume's `..data` symlink: only a watch on the folder sees that.
    const dirs = new Set([paths.certFile, paths.keyFile, ...(paths.caFile ? [paths.caFile] : [])].map((f) => path.dirname(f)));
    for (const dir of dirs) {
      try {
        const w = fs.watch(dir, () => this.#schedule());
        w.on('error', () => w.close()); // the poll still reloads
        this.#watchers.push(w);
      } catch (err) {
        this.#log.warn({ dir, err: (err as Error).message }, `cannot watch ${dir}; certificate changes are picked up by polling every ${POLL_MS / 1000} s`);
      }
    }
    this.#poll = setInterval(() => void this.#reload(), POLL_MS);
    this.#poll.unref();
  }

  current(): LoadedCertificates {
    return this.#current;
  }

  /** Called with every new valid pair; returns an unsubscribe function. */
  onChange(fn: (c: LoadedCertificates) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#poll);
    clearTimeout(this.#debounce);
    for (const w of this.#watchers) w.close();
  }

  #schedule(): void {
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => void this.#reload(), DEBOUNCE_MS);
  }

  async #reload(): Promise<void> {
    if (this.#closed) return;
    const loaded = await load(this.#paths);
    if (this.#closed) return;
    if ('problem' in loaded) {
      if (loaded.problem !== this.#lastProblem) {
        this.#log.warn(`${loaded.problem}; still serving the certificate that expires ${this.#current.notAfter.toISOString()}`);
      }
      this.#lastProblem = loaded.problem;
      return;
    }
    this.#lastProblem = undefined;
    if (loaded.fingerprint === this.#current.fingerprint) return;
    this.#current = loaded;
    this.#log.info({ cert: this.#paths.certFile, not_after: loaded.notAfter.toISOString() }, 'TLS certificate reloaded');
    for (const fn of [...this.#listeners]) fn(loaded);
  }
}

async function load(p: CertificatePaths): Promise<LoadedCertificates | { problem: string }> {
  const read = async (file: string, what: string): Promise<Buffer | string> => {
    try {
      return await readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      return `cannot read the ${what} ${file} (${code})`;
    }
  };
  const [cert, key, ca] = await Promise.all([
    read(p.certFile, 'TLS certificate'),
    read(p.keyFile, 'TLS private key'),
    p.caFile === undefined ? undefined : read(p.caFile, 'client CA bundle'),
  ]);
  for (const v of [cert, key, ca]) if (typeof v === 'string') return { problem: v };
  const c = cert as Buffer;
  const k = key as Buffer;
  const a = ca as Buffer | undefined;
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(c);
  } catch (err) {
    return { problem: `${p.certFile} is not a PEM certificate (${(err as Error).message}): point the flag at the certificate (tls.crt)` };
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(k))) {
      return { problem: `${p.keyFile} is not the private key of ${p.certFile} (a rotation in progress, or mismatched files)` };
    }
  } catch (err) {
    return { problem: `${p.keyFile} is not a PEM private key (${(err as Error).message}): point the flag at the key (tls.key)` };
  }
  try {
    createSecureContext({ cert: c, key: k, ...(a ? { ca: a } : {}) });
  } catch (err) {
    return { problem: `${p.caFile ?? p.certFile} cannot be used for TLS (${(err as Error).message})` };
  }
  if (a !== undefined && !/-----BEGIN CERTIFICATE-----/.test(a.toString('latin1'))) {
    return { problem: `${p.caFile} holds no PEM certificate: point the flag at the CA bundle (ca.crt)` };
  }
  const fingerprint = createHash('sha256').update(c).update('\0').update(k).update('\0').update(a ?? '').digest('hex');
  return { cert: c, key: k, ...(a ? { ca: a } : {}), notAfter: new Date(x509.validTo), fingerprint };
}
