// A small spawn wrapper for tests that run real processes (Envoy, the control plane, upstreams).
//
// Every process started here is tracked until it exits. Make sure none outlives its test file:
//
//   import { afterAll } from 'vitest';
//   import { startProcess, stopAll } from '../helpers/processes.ts';
//   afterAll(stopAll);          // or afterEach(stopAll) when each test starts its own processes
//
// Safety nets for when a test forgets or the worker dies:
// - on the worker's 'exit' (and on SIGTERM/SIGINT/SIGHUP, which is how vitest ends fork workers),
//   every tracked process still running gets SIGKILL;
// - on Linux, children start under `setpriv --pdeathsig SIGKILL` when available, so the kernel
//   kills them even if the test worker itself is SIGKILLed.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

export interface StartProcessOptions {
  cmd: string;
  args?: readonly string[];
  /** Extra environment variables, merged over process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Used in error messages. */
  name: string;
  cwd?: string;
  /** Bytes of stdout+stderr kept in memory (oldest dropped first). Default 1 MiB. */
  maxOutputBytes?: number;
  /** Gives the process a stdin pipe (child.stdin) instead of none, for commands sent to it. */
  stdin?: boolean;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TestProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout and stderr so far, interleaved in arrival order (capped, oldest output dropped). */
  output(): string;
  /** Resolves with the first match of `pattern` in the output (past or future). Rejects with the
   * output when the process exits first or `timeoutMs` passes. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Set once the process has exited. */
  exited(): ExitInfo | undefined;
  /** Resolves when the process exits. */
  waitForExit(): Promise<ExitInfo>;
  /** Sends `signal`, then SIGKILL if still running after `graceMs`. Resolves when it has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitInfo>;
}

interface Registry {
  running: Set<TestProcess>;
  hooksInstalled: boolean;
  pdeathsig: boolean | undefined;
}

// Shared through globalThis so that several copies of this module (vitest isolates modules per
// test file) use one registry and install the process hooks once.
const registryKey = Symbol.for('xds-ambassador.test.processes');
const globalWithRegistry = globalThis as typeof globalThis & { [registryKey]?: Registry };
const registry: Registry = (globalWithRegistry[registryKey] ??= {
  running: new Set(),
  hooksInstalled: false,
  pdeathsig: undefined,
});

function killAllNow(): void {
  for (const proc of registry.running) {
    try {
      proc.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  killAllNow();
  // Keep the default behaviour (terminate) unless someone else also handles this signal.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHooks(): void {
  if (registry.hooksInstalled) return;
  registry.hooksInstalled = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, onSignal);
  }
}

function canUsePdeathsig(): boolean {
  if (registry.pdeathsig === undefined) {
    registry.pdeathsig = false;
    if (process.platform === 'linux') {
      const probe = spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', 'true'], { stdio: 'ignore', timeout: 5000 });
      registry.pdeathsig = probe.status === 0;
    }
  }
  return registry.pdeathsig;
}

export function startProcess(options: StartProcessOptions): TestProcess {
  installHooks();
  const { name, cmd } = options;
  const args = [...(options.args ?? [])];
  const maxBytes = options.maxOutputBytes ?? 1024 * 1024;
  // setpriv execs the command, so the pid stays the command's own and signals reach it directly.
  const [file, argv] = canUsePdeathsig()
    ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', cmd, ...args]]
    : [cmd, args];
  const child = spawn(file, argv, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });

  let out = '';
  let droppedBytes = 0;
  let exitInfo: ExitInfo | undefined;
  let spawnError: Error | undefined;
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const listener of [...listeners]) listener();
  };
  const append = (chunk: Buffer): void => {
    out += chunk.toString('utf8');
    if (out.length > maxBytes) {
      const cut = out.length - maxBytes;
      droppedBytes += cut;
      out = out.slice(cut);
    }
    notify();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);

  const exitPromise = new Promise<ExitInfo>((resolve) => {
    const finish = (info: ExitInfo): void => {
      if (exitInfo) return;
      exitInfo = info;
      registry.running.delete(proc);
      notify();
      resolve(info);
    };
    // Spawn failure (e.g. ENOENT): no 'exit' event follows.
    child.once('error', (error) => {
      spawnError = error;
      if (child.pid === undefined) finish({ code: null, signal: null });
    });
    // 'close' also waits for stdout/stderr to end, so output() is complete; but a grandchild
    // holding the pipes open must not keep the process "running" forever after its 'exit'.
    child.once('exit', (code, signal) => {
      setTimeout(() => finish({ code, signal }), 500);
    });
    child.once('close', (code, signal) => finish({ code, signal }));
  });

  const output = (): string => (droppedBytes > 0 ? `[... ${droppedBytes} bytes dropped ...]\n${out}` : out);

  const describeExit = (info: ExitInfo): string =>
    spawnError ? `failed to start (${spawnError.message})` : `exited (code ${info.code}, signal ${info.signal})`;

  const proc: TestProcess = {
    name,
    child,
    get pid(): number {
      return child.pid ?? -1;
    },
    output,
    exited: () => exitInfo,
    waitForExit: () => exitPromise,
    waitForOutput(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = out.match(pattern);
          if (match) {
            done();
            resolve(match);
          } else if (exitInfo) {
            done();
            reject(new Error(`${name} ${describeExit(exitInfo)} before printing ${pattern}; output:\n${output()}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name} did not print ${pattern} within ${timeoutMs} ms; output:\n${output()}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<ExitInfo> {
      if (exitInfo) return exitInfo;
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
      const killer = setTimeout(() => {
        try {
          child.kill('SIGKILL');
        } catch {
          // already gone
        }
      }, graceMs);
      try {
        return await exitPromise;
      } finally {
        clearTimeout(killer);
      }
    },
  };
  registry.running.add(proc);
  return proc;
}

/** Stops every process started by this module that is still running (SIGTERM, then SIGKILL after
 * 5 s). Takes no parameters, so it can be passed directly: `afterAll(stopAll)`, `afterEach(stopAll)`. */
export async function stopAll(): Promise<void> {
  await Promise.all([...registry.running].map((proc) => proc.stop('SIGTERM', 5000)));
}

/** The processes started here that have not exited yet. */
export function runningProcesses(): readonly TestProcess[] {
  return [...registry.running];
}
