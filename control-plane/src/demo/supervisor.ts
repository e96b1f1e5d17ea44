// Runs the demo's and the recipes' processes in the foreground: each one's output prefixed with its
// name, the control plane's JSON logs made readable, and everything stopped on Ctrl-C or when one exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBootstrap, sdsFiles, type BootstrapOptions } from '../cli/bootstrap.ts';
import { makeXdsCredentials, type XdsCredentials } from './xds-credentials.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export class Supervisor {
  private readonly children: ChildProcess[] = [];
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  private stopping = false;
  private credentials?: XdsCredentials;

  constructor() {
    process.on('SIGINT', () => void this.stop(0));
    process.on('SIGTERM', () => void this.stop(0));
  }

  /** Starts a process whose lines are printed as "[name] line" (or dropped when `show` returns undefined). */
  start(name: string, cmd: string, args: string[], show: (line: string) => string | undefined = (l) => l, env?: Record<string, string>): ChildProcess {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
    this.children.push(child);
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = '';
      stream?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          const shown = show(line);
          if (shown !== undefined) process.stdout.write(`[${name}] ${shown}\n`);
        }
      });
    }
    child.on('exit', (code, signal) => {
      if (!this.stopping) {
        process.stdout.write(`[${name}] exited (${signal ?? `code ${code}`}); stopping\n`);
        void this.stop(1);
      }
    });
    return child;
  }

  /** Something else to undo on stop (an in-process server, a temp folder). */
  onStop(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  /** The control plane serving a folder of manifests on 127.0.0.1 over TLS, Envoys authenticated by
   * client certificates of a throwaway CA; resolves once it is ready. */
  async startControlPlane(configDir: string, ports: { xds: number; http: number }): Promise<XdsCredentials> {
    const dir = mkdtempSync(path.join(tmpdir(), 'xds-ambassador-pki-'));
    this.onStop(() => rmSync(dir, { recursive: true, force: true }));
    this.credentials = await makeXdsCredentials(dir);
    this.start('control-plane', process.execPath, [path.join(ROOT, 'control-plane/bin/xds-ambassador.js'), 'serve', '--config-dir', configDir,
      ...this.credentials.serveArgs(), '--xds-port', String(ports.xds), '--http-port', String(ports.http), '--bind-address', '127.0.0.1'], controlPlaneLine);
    await waitForHttp(`http://127.0.0.1:${ports.http}/readyz`, 20_000);
    return this.credentials;
  }

  /** An Envoy from our generated bootstrap (written to `bootstrapFile`, its SDS file beside it) with
   * the client certificate of `serviceAccount` in its namespace, and `env` added to its environment;
   * resolves once it is ready. */
  async startEnvoy(bootstrapFile: string, o: Omit<BootstrapOptions, 'auth'> & { serviceAccount: string }, env?: Record<string, string>): Promise<void> {
    if (!this.credentials) throw new Error('startControlPlane() first');
    const auth = await this.credentials.clientAuth(o.namespace, o.serviceAccount, path.dirname(bootstrapFile));
    for (const [file, doc] of sdsFiles(auth)) writeFileSync(file, JSON.stringify(doc, null, 2));
    writeFileSync(bootstrapFile, JSON.stringify(buildBootstrap({ ...o, auth }), null, 2));
    this.start('envoy', path.join(ROOT, '.tools/bin/envoy'), ['-c', bootstrapFile, '--disable-hot-restart', '--log-level', 'warning', '--concurrency', '1'], envoyLine, env);
    await waitForHttp(`http://127.0.0.1:${o.adminPort}/ready`, 20_000);
  }

  async stop(code: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await Promise.all(this.children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => {
      c.once('exit', r);
      c.kill('SIGTERM');
      setTimeout(() => c.kill('SIGKILL'), 5000).unref();
    })));
    for (const fn of this.cleanups.reverse()) await fn();
    process.exit(code);
  }
}

/** The control plane's JSON log lines, as one readable line each (debug and trace dropped). */
export function controlPlaneLine(line: string): string | undefined {
  try {
    const entry = JSON.parse(line) as { level: number; msg: string; [k: string]: unknown };
    if (entry.level < 30) return undefined;
    const { level: _l, time: _t, svc: _s, pid: _p, hostname: _h, msg, ...rest } = entry;
    const detail = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    return `${msg}${detail ? `  ${detail}` : ''}`;
  } catch {
    return line;
  }
}

/** Envoy's lines, without the one warning every bootstrap without an overload manager gets. */
export function envoyLine(line: string): string | undefined {
  return line.includes('no configured limit to the number of allowed active downstream connections') ? undefined : line;
}

export async function assertFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', () => reject(new Error(`port ${port} (${what}) is in use on 127.0.0.1; stop whatever uses it and run again`)));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
}

export async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}
