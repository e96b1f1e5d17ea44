// README command 1: the control plane on deploy/examples, two demo upstreams and a real Envoy
// ambassador from a generated bootstrap, all on loopback. Ctrl-C stops everything it started.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { buildBootstrap } from '../cli/bootstrap.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLES = path.join(ROOT, 'deploy', 'examples');
const MANIFEST = path.join('deploy', 'examples', 'movies-ambassador.yaml');
const ENVOY = path.join(ROOT, '.tools', 'bin', 'envoy');
const PORTS = { listener: 8000, v1: 9001, v2: 9002, xds: 18000, http: 19000, admin: 9901 };

const children: ChildProcess[] = [];
const workDir = mkdtempSync(path.join(tmpdir(), 'xds-ambassador-demo-'));

function start(name: string, cmd: string, args: string[], show: (line: string) => string | undefined): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
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
    if (!stopping) {
      process.stdout.write(`[${name}] exited (${signal ?? `code ${code}`}); stopping the demo\n`);
      void stop(1);
    }
  });
  return child;
}

/** The control plane's JSON log lines, as one readable line each. */
function controlPlaneLine(line: string): string | undefined {
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

async function assertFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', () => reject(new Error(`port ${port} (${what}) is in use on 127.0.0.1; stop whatever uses it and run the demo again`)));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const exits = children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => {
    c.once('exit', r);
    c.kill('SIGTERM');
    setTimeout(() => c.kill('SIGKILL'), 5000).unref();
  }));
  await Promise.all(exits);
  rmSync(workDir, { recursive: true, force: true });
  process.exit(code);
}

async function main(): Promise<void> {
  for (const [what, port] of Object.entries(PORTS)) await assertFree(port, what);
  const node = process.execPath;
  for (const v of ['v1', 'v2'] as const) {
    start(`movies-${v}`, node, [path.join(ROOT, 'control-plane/src/demo/upstream-main.ts'), '--name', `movies-${v}`, '--port', String(PORTS[v])], (l) => l);
  }
  start('control-plane', node, [path.join(ROOT, 'control-plane/bin/xds-ambassador.ts'), 'serve', '--config-dir', EXAMPLES,
    '--xds-port', String(PORTS.xds), '--http-port', String(PORTS.http), '--bind-address', '127.0.0.1'], controlPlaneLine);
  await waitForHttp(`http://127.0.0.1:${PORTS.http}/readyz`, 20_000);

  const bootstrapFile = path.join(workDir, 'envoy-bootstrap.yaml');
  const bootstrap = buildBootstrap({ nodeId: 'demo-app-1', ambassador: 'movies', namespace: 'demo', xdsAddress: `127.0.0.1:${PORTS.xds}`, adminPort: PORTS.admin });
  writeFileSync(bootstrapFile, stringify(bootstrap, { aliasDuplicateObjects: false }));
  start('envoy', ENVOY, ['-c', bootstrapFile, '--disable-hot-restart', '--log-level', 'warning', '--concurrency', '1'],
    (l) => (l.includes('no configured limit to the number of allowed active downstream connections') ? undefined : l));
  await waitForHttp(`http://127.0.0.1:${PORTS.admin}/ready`, 20_000);

  process.stdout.write(`
The ambassador is up: Envoy (admin http://127.0.0.1:${PORTS.admin}) gets its whole config from the
control plane (xDS on 127.0.0.1:${PORTS.xds}, status on http://127.0.0.1:${PORTS.http}).

  curl -s localhost:${PORTS.listener}/movies                      # 90% movies-v1, 10% movies-v2
  curl -s -H 'x-canary: 1' localhost:${PORTS.listener}/movies     # always movies-v2
  for i in $(seq 20); do curl -s localhost:${PORTS.listener}/ | grep -o 'movies-v.'; done | sort | uniq -c

Hot reload: edit ${MANIFEST} (e.g. set the weights to 50/50) and save;
the next requests follow the new split — no restart. Break the YAML and save: the error is
printed here and Envoy keeps the last good config.

  curl -s localhost:${PORTS.http}/debug/status                    # versions, errors, rejections
  curl -s localhost:${PORTS.admin}/config_dump | less              # what Envoy applied

Ctrl-C stops everything.
`);
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
main().catch((e: unknown) => {
  process.stderr.write(`demo: ${e instanceof Error ? e.message : String(e)}\n`);
  void stop(1);
});
