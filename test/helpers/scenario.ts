// An end-to-end scenario: the real CLI serving a temp folder of manifests, and real Envoy ambassadors
// bootstrapped by our own bootstrap generator.
import { readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBootstrap, sdsFiles, type XdsClientAuth } from '../../control-plane/src/cli/bootstrap.ts';
import { makeXdsCredentials, type XdsCredentials } from '../../control-plane/src/demo/xds-credentials.ts';
import { startEnvoy, type EnvoyHandle } from './envoy.ts';
import { freePort } from './ports.ts';
import { startProcess, type TestProcess } from './processes.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(REPO_ROOT, 'control-plane', 'bin', 'xds-ambassador.js');
/** The Node flags of the CLI's shebang (`#!/usr/bin/env -S node FLAGS`), which users' launchers run
 * it by: `serve` in tests runs as it does for them, on this process's Node. */
export const CLI_NODE_FLAGS: readonly string[] = (() => {
  const m = /^#!\/usr\/bin\/env -S node((?: --[\w-]+(?:=\S+)?)*)\n/.exec(readFileSync(CLI, 'utf8'));
  if (!m) throw new Error(`${CLI}: its first line is not "#!/usr/bin/env -S node [--flag...]"`);
  return m[1]!.split(' ').filter(Boolean);
})();

let credentials: Promise<XdsCredentials> | undefined;
/** One test PKI per test file (vitest gives each file its own module copy): the control planes'
 * TLS certificate, their client CA, and a client certificate per sidecar identity. */
export function xdsCredentials(): Promise<XdsCredentials> {
  credentials ??= makeXdsCredentials().then((c) => {
    process.once('exit', () => rmSync(c.caFile.slice(0, c.caFile.lastIndexOf('/')), { recursive: true, force: true }));
    return c;
  });
  return credentials;
}

/** A ConfigMap manifest carrying an ambassador config, as a user would write it. */
export function configMap(o: { name: string; namespace?: string; config: string }): string {
  const indented = o.config.trim().split('\n').map((l) => `    ${l}`).join('\n');
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${o.name}
  namespace: ${o.namespace ?? 'default'}
  labels:
    xds-ambassador.io/config: "true"
data:
  ambassador.yaml: |
${indented}
`;
}

/** A Secret manifest; values are written as stringData (text), as a user may. */
export function secretManifest(o: { name: string; namespace?: string; type?: string; data: Record<string, string> }): string {
  const lines = Object.entries(o.data).map(([k, v]) => `  ${k}: |-\n${v.trim().split('\n').map((l) => `    ${l}`).join('\n')}`);
  return `apiVersion: v1
kind: Secret
metadata:
  name: ${o.name}
  namespace: ${o.namespace ?? 'default'}
type: ${o.type ?? 'Opaque'}
stringData:
${lines.join('\n')}
`;
}

export interface ControlPlaneProcess extends ServeProcess {
  dir: string;
  /** Writes a manifest atomically (temp file + rename), as editors and kubectl-like tools do. */
  write(file: string, text: string): Promise<void>;
  remove(file: string): Promise<void>;
}

export interface StatusBody {
  ready: boolean;
  groups: { group: string; latest: string; served: string; lastGood?: string; rejected?: { message: string; nodeId: string } }[];
  errors: string[];
  sourceProblems: string[];
}

export interface ServeProcess {
  proc: TestProcess;
  xdsPort: number;
  httpPort: number;
  status(): Promise<StatusBody>;
  stop(): Promise<void>;
}

export interface ServeOptions {
  xdsPort?: number;
  readyTimeoutMs?: number;
  /** Replaces the default security flags (TLS with the test PKI and client certificates). */
  securityArgs?: readonly string[];
}

/** The real CLI's `serve` with these source arguments, on free (or given) ports, once it is ready. */
export async function startServe(sourceArgs: readonly string[], o: ServeOptions = {}): Promise<ServeProcess> {
  const security = o.securityArgs ?? (await xdsCredentials()).serveArgs();
  const proc = startProcess({
    name: 'xds-ambassador',
    cmd: process.execPath,
    args: [...CLI_NODE_FLAGS, CLI, 'serve', ...sourceArgs, ...security, '--xds-port', String(o.xdsPort ?? 0), '--http-port', '0', '--bind-address', '127.0.0.1'],
  });
  const m = await proc.waitForOutput(/"xds_port":(\d+),"http_port":(\d+)/, 30_000);
  const xdsPort = Number(m[1]);
  const httpPort = Number(m[2]);
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status === 200, o.readyTimeoutMs ?? 10_000, 'control plane ready');
  return {
    proc, xdsPort, httpPort,
    async status() {
      const r = await fetch(`http://127.0.0.1:${httpPort}/debug/status`);
      return (await r.json()) as StatusBody;
    },
    async stop() {
      await proc.stop('SIGTERM', 5000);
    },
  };
}

export async function startControlPlaneProcess(files: Record<string, string>, o: { xdsPort?: number; dir?: string; extraArgs?: readonly string[] } = {}): Promise<ControlPlaneProcess> {
  const dir = o.dir ?? await mkdtemp(join(tmpdir(), 'xds-manifests-'));
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  const serve = await startServe(['--config-dir', dir, ...(o.extraArgs ?? [])], o.xdsPort === undefined ? {} : { xdsPort: o.xdsPort });
  let serial = 0;
  return {
    ...serve,
    dir,
    async write(file, text) {
      const tmp = join(dir, `.${file}.${++serial}.tmp`);
      await writeFile(tmp, text);
      await rename(tmp, join(dir, file));
    },
    remove: (file) => rm(join(dir, file), { force: true }),
    async stop() {
      await serve.stop();
      if (!o.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface AmbassadorOptions {
  xdsPort: number;
  ambassador: string;
  namespace?: string;
  nodeId?: string;
  environment?: string;
  /** The identity its client certificate proves (default "default", the namespace's default ServiceAccount). */
  serviceAccount?: string;
  /** Replaces the client certificate of the test PKI: a token file, or insecure. */
  auth?: { kind: 'token'; tokenFile: string } | { kind: 'insecure' };
  /** Passed to startEnvoy: 'admin' when the control plane may not answer yet. */
  waitUntil?: 'live' | 'admin';
  /** Extra environment variables of the Envoy process (e.g. AWS credentials, as a Pod would set them). */
  env?: Readonly<Record<string, string>>;
}

/** Which ADS protocol the ambassadors of a test run speak: XDS_MODE=delta (the vitest project
 * "e2e-delta" sets it) makes every bootstrap of startAmbassador() a Delta one. */
export const XDS_MODE: 'sotw' | 'delta' = process.env.XDS_MODE === 'delta' ? 'delta' : 'sotw';

/** A real Envoy from our own bootstrap generator, authenticated with a client certificate by default. */
export async function startAmbassador(o: AmbassadorOptions): Promise<EnvoyHandle> {
  const adminPort = await freePort();
  const nodeId = o.nodeId ?? `${o.ambassador}-${adminPort}`;
  const namespace = o.namespace ?? 'default';
  let auth: XdsClientAuth = { kind: 'insecure' };
  if (o.auth?.kind !== 'insecure') {
    const creds = await xdsCredentials();
    const sdsDir = join(creds.caFile.slice(0, creds.caFile.lastIndexOf('/')), 'sds', `${nodeId}-${adminPort}`);
    await mkdir(sdsDir, { recursive: true });
    const secure = o.auth?.kind === 'token'
      ? { kind: 'token' as const, tokenFile: o.auth.tokenFile, caFile: creds.caFile, serverName: 'localhost', sdsDir }
      : await creds.clientAuth(namespace, o.serviceAccount ?? 'default', sdsDir);
    for (const [file, doc] of sdsFiles(secure)) await writeFile(file, JSON.stringify(doc));
    auth = secure;
  }
  return startEnvoy({
    name: nodeId,
    bootstrap: buildBootstrap({ nodeId, ambassador: o.ambassador, namespace, ...(o.environment ? { environment: o.environment } : {}), xdsAddress: `127.0.0.1:${o.xdsPort}`, adminPort, auth, delta: XDS_MODE === 'delta' }),
    ...(o.waitUntil ? { waitUntil: o.waitUntil } : {}),
    ...(o.env ? { env: o.env } : {}),
  });
}

export interface Reply {
  status: number;
  upstream?: string;
  headers: Record<string, string>;
  body: string;
}

/** One HTTP request through the ambassador's listener. */
export async function get(port: number, path = '/', headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<Reply> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers, signal: AbortSignal.timeout(timeoutMs) });
  const body = await r.text();
  let upstream: string | undefined;
  try {
    upstream = (JSON.parse(body) as { upstream?: string }).upstream;
  } catch {
    upstream = undefined;
  }
  return { status: r.status, upstream, headers: Object.fromEntries(r.headers), body };
}

export interface RequestLoop {
  /** One entry per request that was not a 200 (from `upstream`, when given): status and upstream, or the error. */
  readonly failures: string[];
  readonly requests: number;
  stop(): Promise<void>;
}

/** Requests through the ambassador's listener back to back until stopped (5 s timeout each). */
export function requestLoop(port: number, upstream?: string): RequestLoop {
  let running = true;
  let requests = 0;
  const failures: string[] = [];
  const done = (async () => {
    while (running) {
      try {
        const r = await get(port, '/', {}, 5000);
        if (r.status !== 200 || (upstream !== undefined && r.upstream !== upstream)) failures.push(`${r.status} ${r.upstream ?? r.body.slice(0, 80)}`);
      } catch (e) {
        failures.push(String((e as Error).cause ?? e));
      }
      requests++;
    }
  })();
  return {
    failures,
    get requests() { return requests; },
    async stop() { running = false; await done; },
  };
}

/** Polls until `predicate` holds; throws naming `what` on timeout. Returns the elapsed milliseconds. */
export async function waitUntil(predicate: () => Promise<boolean>, timeoutMs: number, what: string, everyMs = 10): Promise<number> {
  const start = performance.now();
  let last: unknown;
  for (;;) {
    try {
      if (await predicate()) return performance.now() - start;
    } catch (e) {
      last = e;
    }
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
