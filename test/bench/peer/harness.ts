// The peer benchmark's moving parts: the Go programs (built by build.sh), this project's control
// plane as a real `serve` process, go-control-plane's server, the load generator, and what is read
// of a process from /proc (RSS, CPU time).
import { execFile } from 'node:child_process';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { XdsCredentials } from '../../../control-plane/src/demo/xds-credentials.ts';
import { startProcess, type TestProcess } from '../../helpers/processes.ts';
import { CLI, CLI_NODE_FLAGS, waitUntil } from '../../helpers/scenario.ts';

const BUILD = fileURLToPath(new URL('./build.sh', import.meta.url));

/** The folder of loadgen and gcp-server if they are built and current; never builds. */
export async function cachedPeerBinaries(): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    execFile('bash', [BUILD, '--cached'], (err, out) => {
      if (!err) resolve(out.trim());
      else if (err.code === 3) resolve(undefined);
      else reject(new Error(`${BUILD} --cached failed: ${err.message}`));
    });
  });
}

/** Builds (or finds cached) loadgen and gcp-server; returns their folder. */
export async function peerBinaries(): Promise<string> {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile('bash', [BUILD], { maxBuffer: 1 << 20 }, (err, out, stderr) => {
      process.stderr.write(stderr);
      if (err) reject(new Error(`${BUILD} failed: ${err.message}`));
      else resolve(out);
    });
  });
  return stdout.trim().split('\n').at(-1) ?? '';
}

/** How the xDS port is secured: TLS with client certificates (both servers verify them against the
 * test CA; ours also maps them to identities), or plaintext (`--insecure`). */
export type Security = { kind: 'tls'; credentials: XdsCredentials } | { kind: 'plaintext' };

/** One process's resource use, from /proc. */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}

/** CPU time of every thread of the process so far, in ms (schedstat: nanosecond resolution). */
export async function cpuMs(pid: number): Promise<number> {
  let ns = 0;
  for (const task of await readdir(`/proc/${pid}/task`)) {
    try {
      ns += Number((await readFile(`/proc/${pid}/task/${task}/schedstat`, 'utf8')).split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1e6;
}

/** A server under test: its xDS port, and how to make one group change state. */
export interface ServerUnderTest {
  name: string;
  proc: TestProcess;
  xdsPort: number;
  /** Starts the change of `group` to `state`; resolves once it is handed over (a file renamed into
   * place, an API call answered, SetSnapshot returned). */
  change(group: string, state: string): Promise<void>;
  stop(): Promise<void>;
}

/** This project's `serve` with these source arguments; `change` makes a group's config change state
 * in that source. */
export async function startOurs(sourceArgs: readonly string[], security: Security, change: ServerUnderTest['change']): Promise<ServerUnderTest> {
  const securityArgs = security.kind === 'tls' ? security.credentials.serveArgs() : ['--insecure'];
  const proc = startProcess({
    name: 'xds-ambassador',
    cmd: process.execPath,
    args: [...CLI_NODE_FLAGS, CLI, 'serve', ...sourceArgs, ...securityArgs, '--xds-port', '0', '--http-port', '0', '--bind-address', '127.0.0.1'],
    maxOutputBytes: 64 * 1024,
  });
  const m = await proc.waitForOutput(/"xds_port":(\d+),"http_port":(\d+)/, 60_000);
  const httpPort = Number(m[2]);
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status === 200, 120_000, 'control plane ready', 20);
  return { name: 'xds-ambassador', proc, xdsPort: Number(m[1]), change, stop: async () => { await proc.stop('SIGTERM', 5000); } };
}

/** A change of a folder source: `manifestOf(group, state)` saved as an editor does (a temp file
 * renamed over GROUP's NAME.yaml). */
export function folderChange(dir: string, manifestOf: (group: string, state: string) => string): ServerUnderTest['change'] {
  let serial = 0;
  return async (group, state) => {
    const file = `${group.slice(group.indexOf('/') + 1)}.yaml`;
    const tmp = join(dir, `.${file}.${++serial}.tmp`);
    await writeFile(tmp, manifestOf(group, state));
    await rename(tmp, join(dir, file));
  };
}

/** go-control-plane serving `dumpFile` (every group in its first state): the dumped bytes as they
 * are, or (`typed`) typed messages that it encodes again for every response. */
export async function startGoControlPlane(bin: string, dumpFile: string, security: Security, typed: boolean): Promise<ServerUnderTest & { identical: string }> {
  const securityArgs = security.kind === 'tls'
    ? ['-tls-cert', security.credentials.server.certFile, '-tls-key', security.credentials.server.keyFile, '-client-ca', security.credentials.caFile]
    : ['-insecure'];
  const proc = startProcess({ name: 'go-control-plane', cmd: join(bin, 'gcp-server'), args: ['-dump', dumpFile, ...(typed ? ['-typed'] : []), ...securityArgs], stdin: true });
  const m = await proc.waitForOutput(/listening (\d+)/, 60_000);
  const identical = (await proc.waitForOutput(/resources \d+, sent byte-identical \d+/))[0];
  const lines = createInterface({ input: proc.child.stdout! });
  const answers: ((line: string) => void)[] = [];
  lines.on('line', (line) => { if (line === 'ok' || line.startsWith('error')) answers.shift()?.(line); });
  return {
    name: 'go-control-plane',
    proc,
    xdsPort: Number(m[1]),
    identical,
    change: (group, state) => new Promise((resolve, reject) => {
      answers.push((line) => (line === 'ok' ? resolve() : reject(new Error(line))));
      proc.child.stdin!.write(`set ${group} ${state}\n`);
    }),
    stop: async () => { await proc.stop('SIGTERM', 5000); },
  };
}

export interface OpenResult {
  ms: number;
  synced: number;
  failed: number;
  errors: string[];
  /** Per group, a hash of what one of its Envoys has: as received, and re-encoded by Go (equal messages, equal hash). */
  digests: Record<string, string>;
  canonical: Record<string, string>;
}
export interface Converged { firstMs: number; ms: number[]; streams: number; others: number }
export interface ChurnResult { cycles: number; seconds: number; failed: number }

/** The Go load generator, driven over its stdin/stdout (see loadgen/main.go). */
export class LoadGenerator {
  readonly proc: TestProcess;
  readonly #waiting = new Map<string, ((v: Record<string, unknown>) => void)[]>();

  private constructor(proc: TestProcess) {
    this.proc = proc;
    createInterface({ input: proc.child.stdout! }).on('line', (line) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      const op = String(msg.op);
      if (op === 'error') process.stderr.write(`loadgen: ${String(msg.error)}\n`);
      this.#waiting.get(op)?.shift()?.(msg);
    });
  }

  static async start(bin: string, xdsPort: number, security: Security): Promise<LoadGenerator> {
    const args = ['-addr', `127.0.0.1:${xdsPort}`];
    if (security.kind === 'tls') {
      const c = await security.credentials.client('bench', 'default');
      args.push('-ca', security.credentials.caFile, '-cert', c.certFile, '-key', c.keyFile);
    } else args.push('-insecure');
    return new LoadGenerator(startProcess({ name: 'loadgen', cmd: join(bin, 'loadgen'), args, stdin: true }));
  }

  /** Resolves with the next answer of this kind (or rejects when the load generator exits). */
  #expect<T>(answer: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const exited = setInterval(() => {
        if (!this.proc.exited()) return;
        clearInterval(exited);
        reject(new Error(`loadgen exited: ${this.proc.output().slice(-2000)}`));
      }, 200);
      let list = this.#waiting.get(answer);
      if (!list) this.#waiting.set(answer, (list = []));
      list.push((v) => {
        clearInterval(exited);
        resolve(v as T);
      });
    });
  }

  #ask<T>(cmd: Record<string, unknown>, answer: string): Promise<T> {
    const answered = this.#expect<T>(answer);
    this.proc.child.stdin!.write(`${JSON.stringify(cmd)}\n`);
    return answered;
  }

  /** Opens n streams at once, stream i in groups[i % groups.length]; resolves once all synced. */
  async open(n: number, groups: readonly string[]): Promise<OpenResult> {
    const r = await this.#ask<OpenResult>({ op: 'open', n, groups }, 'open');
    if (r.failed > 0) throw new Error(`${r.failed} of ${n} streams failed to sync: ${r.errors.join('; ')}`);
    return r;
  }

  /** Times one change of `group`: `trigger` makes it, and the group's streams must ACK `expect`. */
  async measure(group: string, expect: Record<string, string>, trigger: () => Promise<void>): Promise<Converged> {
    const result = this.#expect<Converged>('converged');
    await this.#ask({ op: 'mark', group, expect }, 'marked');
    await trigger();
    const r = await result;
    if (r.ms.length < r.streams) throw new Error(`only ${r.ms.length} of ${r.streams} streams converged within 20 s`);
    return r;
  }

  closeAll(): Promise<unknown> {
    return this.#ask({ op: 'closeAll' }, 'closed');
  }

  /** `workers` loops of connect → sync → disconnect, for `seconds` or until `cycles` completed. */
  churn(o: { seconds: number; workers: number; group: string; cycles?: number }): Promise<ChurnResult> {
    return this.#ask<ChurnResult>({ op: 'churn', ...o }, 'churn');
  }

  async stop(): Promise<void> {
    this.proc.child.stdin?.end();
    await this.proc.stop('SIGTERM', 2000);
  }
}
