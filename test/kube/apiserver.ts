// A real Kubernetes API server (kube-apiserver + etcd) on loopback, for tests.
//
//   import { afterAll, beforeAll } from 'vitest';
//   import { startKubeApiServer } from '../kube/apiserver.ts';
//   let kube: KubeApiServer;
//   // The first run on a machine builds the binaries from the Go module proxy (test/kube/build.sh):
//   // ~15-25 minutes on two cores. Later runs start in a few seconds.
//   beforeAll(async () => { kube = await startKubeApiServer(); }, 30 * 60_000);
//   afterAll(() => kube?.stop());
//
// Everything listens on 127.0.0.1 at ports chosen at run time; etcd's data, the certificates and
// the kubeconfig live in a temporary folder removed by stop(). There is no controller-manager, no
// scheduler and no kubelet: objects are stored and watched, but nothing reconciles them (no
// `default` ServiceAccount appears in a new namespace, a deleted namespace stays Terminating, Pods
// never run).
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { startProcess } from '../helpers/processes.ts';
import type { TestProcess } from '../helpers/processes.ts';
import { freePorts } from '../helpers/ports.ts';
import { kubeJson, kubeRequest } from './rest.ts';

const here = dirname(fileURLToPath(import.meta.url));
const buildScript = join(here, 'build.sh');

export interface KubeBinaries {
  binDir: string;
  kubeApiServer: string;
  etcd: string;
  kubectl: string;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface KubeApiServer {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** http://127.0.0.1:PORT of etcd (plain HTTP, loopback only). */
  readonly etcdUrl: string;
  /** A kubeconfig for the admin user (group system:masters), current context namespace `default`. */
  readonly kubeconfigPath: string;
  /** PEM of the CA that signed the serving certificate (for https clients). */
  readonly caPem: string;
  /** Bearer token of the admin user (group system:masters). */
  readonly adminToken: string;
  /** The kubectl built with the server (same version), e.g. for `apply --dry-run=server -k`. */
  readonly kubectlPath: string;
  /** The private key the API server signs ServiceAccount tokens with (PEM, RSA), for tests that
   * need a token the TokenRequest API would not issue (e.g. one that expires in seconds). */
  readonly serviceAccountSigningKeyPath: string;
  /** A token for an existing ServiceAccount, from the TokenRequest API (valid for an hour). */
  tokenFor(serviceAccount: string, namespace: string): Promise<string>;
  /** Writes a kubeconfig that authenticates with `token` (e.g. from tokenFor) and returns its path. */
  writeKubeconfig(token: string, namespace?: string): Promise<string>;
  /** Runs kubectl against this server as admin (or with `kubeconfig`); never throws on exit code. */
  kubectl(args: readonly string[], options?: { input?: string; kubeconfig?: string }): Promise<CommandResult>;
  /** Stops kube-apiserver (SIGTERM) and starts it again on the same port with the same etcd;
   * resolves when it is ready. Clients see their connections and watches closed. */
  restart(): Promise<void>;
  /** Output of the current kube-apiserver process (for failure messages). */
  apiServerOutput(): string;
  /** Stops kube-apiserver and etcd and removes the temporary folder. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartKubeApiServerOptions {
  /** Appended to kube-apiserver's arguments (a later flag overrides an earlier one). */
  extraApiServerArgs?: readonly string[];
  /** How long to wait for /readyz after each (re)start. Default 90 s. */
  readyTimeoutMs?: number;
  /** The address kube-apiserver binds to and advertises, and the URL's host. Default 127.0.0.1;
   * a test node (cluster.ts) gives a private address its Pods reach. */
  address?: string;
  /** More IP addresses for the serving certificate (e.g. the `kubernetes` Service's ClusterIP). */
  extraServingIps?: readonly string[];
}

/** Runs a command to its end, collecting its output (no shell). */
export function run(cmd: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const stdin = options.input === undefined ? 'ignore' : 'pipe';
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: [stdin, 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    if (child.stdin) {
      // A command that exits without reading its input must not crash the test run (EPIPE).
      child.stdin.on('error', () => {});
      child.stdin.end(options.input);
    }
  });
}

async function mustRun(cmd: string, args: readonly string[], cwd: string): Promise<void> {
  const result = await run(cmd, args, { cwd });
  if (result.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${result.code}):\n${result.stdout}${result.stderr}`);
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

let binaries: Promise<KubeBinaries> | undefined;

/** The cached binaries; runs test/kube/build.sh first when they are missing (the first time on a
 * machine that takes many minutes: give the caller a long timeout). The build's progress lines go
 * to stderr. */
export function ensureKubeBinaries(): Promise<KubeBinaries> {
  binaries ??= (async (): Promise<KubeBinaries> => {
    const where = await run('bash', [buildScript, '--print-bin-dir']);
    const binDir = where.stdout.trim();
    if (where.code !== 0 || binDir === '') throw new Error(`${buildScript} --print-bin-dir failed: ${where.stderr}`);
    const found: KubeBinaries = {
      binDir,
      kubeApiServer: join(binDir, 'kube-apiserver'),
      etcd: join(binDir, 'etcd'),
      kubectl: join(binDir, 'kubectl'),
    };
    const present = await Promise.all([found.kubeApiServer, found.etcd, found.kubectl].map(isExecutable));
    const complete = await access(join(binDir, '.complete')).then(() => true, () => false);
    if (!complete || present.includes(false)) {
      const build = startProcess({ name: 'test/kube/build.sh', cmd: 'bash', args: [buildScript], maxOutputBytes: 256 * 1024 });
      build.child.stdout?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
      const exit = await build.waitForExit();
      if (exit.code !== 0) {
        throw new Error(`test/kube/build.sh failed (code ${exit.code}, signal ${exit.signal}):\n${build.output()}`);
      }
    }
    return found;
  })();
  binaries.catch(() => {
    binaries = undefined; // let a later call try again
  });
  return binaries;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForEtcd(proc: TestProcess, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc.exited()) throw new Error(`etcd exited before it was healthy:\n${proc.output()}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      last = `${res.status} ${await res.text()}`;
      if (res.ok && last.includes('"health":"true"')) return;
    } catch (error) {
      last = String(error);
    }
    await sleep(100);
  }
  throw new Error(`etcd not healthy within ${timeoutMs} ms (last: ${last}):\n${proc.output()}`);
}

function kubeconfigYaml(server: string, caPem: string, token: string, namespace: string): string {
  const ca = Buffer.from(caPem).toString('base64');
  // JSON-compatible YAML: no quoting questions for the token or the URL.
  return `${JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'xds-test', cluster: { server, 'certificate-authority-data': ca } }],
      users: [{ name: 'xds-test-user', user: { token } }],
      contexts: [{ name: 'xds-test', context: { cluster: 'xds-test', user: 'xds-test-user', namespace } }],
      'current-context': 'xds-test',
    },
    null,
    2,
  )}\n`;
}

/** Self-signed CA, a serving certificate for 127.0.0.1 signed by it, and a ServiceAccount signing
 * key pair, all made with the openssl command in `dir`. */
async function makeCertificates(dir: string, servingIps: readonly string[]): Promise<void> {
  await writeFile(
    join(dir, 'ca.cnf'),
    [
      '[req]',
      'distinguished_name = dn',
      'x509_extensions = v3_ca',
      'prompt = no',
      '[dn]',
      'CN = xds-ambassador test CA',
      '[v3_ca]',
      'basicConstraints = critical,CA:TRUE',
      'keyUsage = critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier = hash',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'server.ext'),
    [
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage = serverAuth',
      `subjectAltName = ${servingIps.map((ip) => `IP:${ip}`).join(',')},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc`,
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      '',
    ].join('\n'),
  );
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await mustRun('openssl', ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-config', 'ca.cnf'], dir);
  await mustRun('openssl', ['req', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver'], dir);
  await mustRun(
    'openssl',
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${randomBytes(8).toString('hex')}`,
      '-days', '3650', '-extfile', 'server.ext', '-out', 'server.crt'],
    dir,
  );
  await mustRun('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir);
  await mustRun('openssl', ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
}

export async function startKubeApiServer(options: StartKubeApiServerOptions = {}): Promise<KubeApiServer> {
  const bins = await ensureKubeBinaries();
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  const dir = await mkdtemp(join(tmpdir(), 'xds-kube-'));
  let etcd: TestProcess | undefined;
  let apiserver: TestProcess | undefined;
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // The API server first (a graceful shutdown needs etcd), then etcd.
    await apiserver?.stop('SIGTERM', 15_000);
    await etcd?.stop('SIGTERM', 5_000);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const [etcdClientPort, etcdPeerPort, port] = (await freePorts(3)) as [number, number, number];
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    etcd = startProcess({
      name: 'etcd',
      cmd: bins.etcd,
      args: [
        '--name=xds-test',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${etcdPeerUrl}`,
        `--initial-advertise-peer-urls=${etcdPeerUrl}`,
        `--initial-cluster=xds-test=${etcdPeerUrl}`,
        '--initial-cluster-state=new',
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      maxOutputBytes: 256 * 1024,
    });

    const address = options.address ?? '127.0.0.1';
    await makeCertificates(dir, [...new Set(['127.0.0.1', address, ...(options.extraServingIps ?? [])])]);
    const caPem = await readFile(join(dir, 'ca.crt'), 'utf8');
    const adminToken = randomBytes(24).toString('hex');
    await writeFile(join(dir, 'tokens.csv'), `${adminToken},xds-test-admin,xds-test-admin,"system:masters"\n`, { mode: 0o600 });
    await waitForEtcd(etcd, etcdUrl, 30_000);

    const url = `https://${address}:${port}`;
    const endpoint = { url, caPem };
    const apiServerArgs = [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${address}`,
      `--advertise-address=${address}`,
      `--secure-port=${port}`,
      `--tls-cert-file=${join(dir, 'server.crt')}`,
      `--tls-private-key-file=${join(dir, 'server.key')}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/24',
      // Endpoints may not hold loopback addresses, so the `kubernetes` Service's endpoints cannot
      // be reconciled to 127.0.0.1; nothing in the tests routes through that Service anyway.
      '--endpoint-reconciler-type=none',
      // Without it, a SIGTERM waits for open watches (the control plane's informers) to end by
      // themselves: restart() and stop() would sit out their whole SIGKILL grace (15 s) instead of ~1 s.
      '--shutdown-watch-termination-grace-period=2s',
      '--profiling=false',
      ...(options.extraApiServerArgs ?? []),
    ];

    const startApiServer = async (): Promise<void> => {
      const proc = startProcess({ name: 'kube-apiserver', cmd: bins.kubeApiServer, args: apiServerArgs, maxOutputBytes: 512 * 1024 });
      apiserver = proc;
      const deadline = Date.now() + readyTimeoutMs;
      let last = '';
      while (Date.now() < deadline) {
        if (proc.exited()) throw new Error(`kube-apiserver exited before it was ready:\n${proc.output()}`);
        try {
          const res = await kubeRequest(endpoint, { path: '/readyz', token: adminToken, timeoutMs: 5000 });
          last = `${res.status} ${res.text}`;
          if (res.status === 200) return;
        } catch (error) {
          last = String(error);
        }
        await sleep(200);
      }
      throw new Error(`kube-apiserver not ready within ${readyTimeoutMs} ms (last /readyz: ${last}):\n${proc.output()}`);
    };
    await startApiServer();

    const writeKubeconfig = async (token: string, namespace = 'default'): Promise<string> => {
      const path = join(dir, `kubeconfig-${randomBytes(6).toString('hex')}.yaml`);
      await writeFile(path, kubeconfigYaml(url, caPem, token, namespace), { mode: 0o600 });
      return path;
    };
    const kubeconfigPath = join(dir, 'kubeconfig.yaml');
    await writeFile(kubeconfigPath, kubeconfigYaml(url, caPem, adminToken, 'default'), { mode: 0o600 });

    return {
      url,
      port,
      etcdUrl,
      kubeconfigPath,
      caPem,
      adminToken,
      kubectlPath: bins.kubectl,
      serviceAccountSigningKeyPath: join(dir, 'sa.key'),
      async tokenFor(serviceAccount: string, namespace: string): Promise<string> {
        const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(serviceAccount)}/token`;
        const review = await kubeJson<{ status?: { token?: string } }>(endpoint, {
          path,
          method: 'POST',
          token: adminToken,
          body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
        });
        const token = review.status?.token;
        if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
        return token;
      },
      writeKubeconfig,
      kubectl(args: readonly string[], runOptions: { input?: string; kubeconfig?: string } = {}): Promise<CommandResult> {
        const env = { ...process.env, KUBECONFIG: runOptions.kubeconfig ?? kubeconfigPath };
        return run(bins.kubectl, [`--cache-dir=${join(dir, 'kubectl-cache')}`, ...args], {
          env,
          ...(runOptions.input === undefined ? {} : { input: runOptions.input }),
        });
      },
      async restart(): Promise<void> {
        if (stopped) throw new Error('restart() after stop()');
        await apiserver?.stop('SIGTERM', 15_000);
        await startApiServer();
      },
      apiServerOutput: () => apiserver?.output() ?? '',
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
