// Runs a real Envoy (the one scripts/setup.sh installs) for a test, and talks to its admin API.
//
//   const [adminPort, listenerPort] = await freePorts(2);
//   const envoy = await startEnvoy({ bootstrap: { admin: { address: { socket_address:
//     { address: '127.0.0.1', port_value: adminPort } } }, ... } });
//   await envoy.waitFor(async () => (await envoy.stats('cluster_manager.active_clusters'))
//     .get('cluster_manager.active_clusters') === 2, 5000, 'two active clusters');
//   afterAll(stopAll);   // from ./processes.ts, or `await envoy.stop()`
//
// Several Envoys can run at once (--disable-hot-restart). The admin port is the bootstrap's
// admin.address.socket_address.port_value; when that is 0, Envoy picks one and we read it back.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProcess } from './processes.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ENVOY_PATH = join(REPO_ROOT, '.tools', 'bin', 'envoy');

export interface StartEnvoyOptions {
  /** The bootstrap (v3), as a plain object; written as JSON to a temp file. */
  bootstrap: object;
  /** For error messages and logs. Default "envoy". */
  name?: string;
  /** --log-level. Default "info" (logs stay in memory; see logs()). */
  logLevel?: string;
  /** --concurrency (worker threads). Default 1: deterministic and light on a 2-core machine. */
  concurrency?: number;
  /** What "started" means. "live" (default): admin GET /ready answers 200 LIVE, i.e. the initial
   * xDS fetch is done. "admin": the admin API answers at all (use it when the control plane
   * starts later). */
  waitUntil?: 'live' | 'admin';
  /** How long to wait for startup. Default 30 s. */
  startTimeoutMs?: number;
  /** More command-line arguments. */
  extraArgs?: readonly string[];
  /** Extra environment variables (merged over the test's own). */
  env?: Readonly<Record<string, string>>;
}

export interface AdminResponse {
  status: number;
  body: string;
}

export interface ConfigDumpOptions {
  /** Adds ?include_eds (endpoint config). */
  includeEds?: boolean;
  /** ?mask=... (field mask, e.g. "dynamic_active_clusters.cluster.name"). */
  mask?: string;
  /** ?name_regex=... */
  nameRegex?: string;
}

export interface EnvoyHandle {
  readonly name: string;
  readonly adminPort: number;
  readonly pid: number;
  /** GET /config_dump as parsed JSON; `resource` selects one field (e.g. "dynamic_active_clusters"). */
  configDump(resource?: string, options?: ConfigDumpOptions): Promise<unknown>;
  /** Counters and gauges from GET /stats?format=json, by name; `filter` is Envoy's regex filter. */
  stats(filter?: string): Promise<Map<string, number>>;
  /** GET /clusters (text). */
  clusters(): Promise<string>;
  /** Any admin request, e.g. admin('/healthcheck/fail', 'POST'). */
  admin(path: string, method?: string): Promise<AdminResponse>;
  /** Polls `predicate` every 20 ms until it returns true. Throws naming `what` on timeout, or at
   * once if Envoy exits. A predicate that throws counts as false (its last error is reported). */
  waitFor(predicate: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void>;
  /** Envoy's stdout + stderr so far. */
  logs(): string;
  /** SIGTERM (SIGKILL after 5 s), then removes the temp bootstrap. */
  stop(): Promise<void>;
}

function readAdminPort(bootstrap: object): number {
  const admin = (bootstrap as { admin?: { address?: { socket_address?: { port_value?: unknown } } } }).admin;
  const port = admin?.address?.socket_address?.port_value;
  if (port === undefined) return 0;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`bootstrap admin.address.socket_address.port_value must be a port number, got ${String(port)}`);
  }
  return port;
}

async function adminRequest(port: number, path: string, method = 'GET'): Promise<AdminResponse> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    signal: AbortSignal.timeout(5000),
  });
  return { status: response.status, body: await response.text() };
}

export async function startEnvoy(options: StartEnvoyOptions): Promise<EnvoyHandle> {
  if (!existsSync(ENVOY_PATH)) {
    throw new Error(`${ENVOY_PATH} not found: run scripts/setup.sh first`);
  }
  const name = options.name ?? 'envoy';
  const configuredAdminPort = readAdminPort(options.bootstrap);
  const dir = await mkdtemp(join(tmpdir(), `xds-${name.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
  const bootstrapPath = join(dir, 'bootstrap.json');
  const adminAddressPath = join(dir, 'admin-address');
  await writeFile(bootstrapPath, JSON.stringify(options.bootstrap, null, 2));

  const proc = startProcess({
    name,
    cmd: ENVOY_PATH,
    args: [
      '-c', bootstrapPath,
      '--disable-hot-restart',
      '--log-level', options.logLevel ?? 'info',
      '--concurrency', String(options.concurrency ?? 1),
      '--admin-address-path', adminAddressPath,
      ...(options.extraArgs ?? []),
    ],
    ...(options.env ? { env: options.env } : {}),
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      await proc.stop('SIGTERM', 5000);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const died = (): Error | undefined => {
    const info = proc.exited();
    if (!info) return undefined;
    return new Error(`${name} exited (code ${info.code}, signal ${info.signal}); output:\n${proc.output()}`);
  };

  let adminPort = configuredAdminPort;
  const waitFor = async (predicate: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      const exitError = died();
      if (exitError) throw new Error(`while waiting for ${what}: ${exitError.message}`);
      try {
        if (await predicate()) return;
        lastError = undefined;
      } catch (error) {
        lastError = error;
      }
      if (Date.now() >= deadline) {
        const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} on ${name}${detail}`);
      }
      await sleep(20);
    }
  };

  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const waitUntil = options.waitUntil ?? 'live';
  try {
    if (adminPort === 0) {
      await waitFor(
        async () => {
          const text = (await readFile(adminAddressPath, 'utf8').catch(() => '')).trim();
          const port = Number(text.slice(text.lastIndexOf(':') + 1));
          if (text === '' || !Number.isInteger(port) || port <= 0) return false;
          adminPort = port;
          return true;
        },
        startTimeoutMs,
        'the admin address file',
      );
    }
    await waitFor(
      async () => {
        const { status, body } = await adminRequest(adminPort, '/ready');
        return waitUntil === 'admin' || (status === 200 && body.trim() === 'LIVE');
      },
      startTimeoutMs,
      waitUntil === 'live' ? 'admin /ready to answer 200 LIVE' : 'the admin API to answer',
    );
  } catch (error) {
    const diedByItself = died() !== undefined; // then the message already holds the output
    await stop();
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${name} did not start: ${message}${diedByItself ? '' : `\noutput:\n${proc.output()}`}`);
  }

  const get = async (path: string): Promise<string> => {
    const { status, body } = await adminRequest(adminPort, path);
    if (status !== 200) throw new Error(`${name} admin GET ${path} answered ${status}: ${body.slice(0, 500)}`);
    return body;
  };

  return {
    name,
    adminPort,
    pid: proc.pid,
    admin: (path, method = 'GET') => adminRequest(adminPort, path, method),
    async configDump(resource?: string, dumpOptions: ConfigDumpOptions = {}): Promise<unknown> {
      const query = new URLSearchParams();
      if (resource !== undefined) query.set('resource', resource);
      if (dumpOptions.mask !== undefined) query.set('mask', dumpOptions.mask);
      if (dumpOptions.nameRegex !== undefined) query.set('name_regex', dumpOptions.nameRegex);
      let search = query.toString();
      if (dumpOptions.includeEds) search = search ? `${search}&include_eds` : 'include_eds';
      return JSON.parse(await get(`/config_dump${search ? `?${search}` : ''}`)) as unknown;
    },
    async stats(filter?: string): Promise<Map<string, number>> {
      const query = new URLSearchParams({ format: 'json' });
      if (filter !== undefined) query.set('filter', filter);
      const parsed = JSON.parse(await get(`/stats?${query.toString()}`)) as { stats?: unknown };
      const result = new Map<string, number>();
      for (const entry of Array.isArray(parsed.stats) ? (parsed.stats as unknown[]) : []) {
        const { name: statName, value } = (entry ?? {}) as { name?: unknown; value?: unknown };
        if (typeof statName === 'string' && typeof value === 'number') result.set(statName, value);
      }
      return result;
    },
    clusters: () => get('/clusters'),
    waitFor,
    logs: () => proc.output(),
    stop,
  };
}
