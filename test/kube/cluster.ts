// A real single-node Kubernetes cluster for tests: etcd, kube-apiserver (apiserver.ts),
// kube-controller-manager, kube-scheduler, a kubelet on containerd + runc, CNI bridge + host-local,
// kube-proxy (iptables mode) and CoreDNS, all as processes of the test, on private addresses only:
//
//   Pods           10.244.0.0/24 on a bridge (xdsbr0) that is made here before the CNI bridge
//                  plugin finds it; Pods get routes to the Pods and the Services only (no default
//                  route: nothing outside is reachable)
//   node address   10.244.0.1, the bridge's own address (the Pods' gateway; these kernels have no
//                  dummy interfaces, and the bridge plugin allows no second address): the API
//                  server, the kubelet's API and the cluster DNS listen there
//   Services       10.96.0.0/24, routed by kube-proxy's iptables rules (the host routes the range
//                  to the bridge from the node address, so that its own connections, e.g. the API
//                  server's to a webhook, come from an address the Pods can answer)
//
// Needs root (namespaces, mounts, iptables, cgroups) and the Debian packages containerd, runc,
// containernetworking-plugins, iptables, conntrack, buildah (scripts/setup.sh installs them). The
// images come from test/kube/images.sh (cached). One cluster per machine at a time: a lock file
// makes a second caller wait. stop() ends every process it started — containers and their shims
// included — unmounts, removes the interfaces, the iptables rules, the cgroups and the folder, and
// restores the two sysctls it set; a run that was killed is cleaned up by the next start().
import { mkdir, readFile, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Resolver } from 'node:dns/promises';
import { startProcess } from '../helpers/processes.ts';
import type { TestProcess } from '../helpers/processes.ts';
import { freePorts } from '../helpers/ports.ts';
import { ensureKubeBinaries, run, startKubeApiServer } from './apiserver.ts';
import type { CommandResult, KubeApiServer } from './apiserver.ts';

const here = dirname(fileURLToPath(import.meta.url));

export const NODE_NAME = 'xds-test-node';
// The bridge's own address (the Pods' gateway), which the host-local IPAM never hands out.
export const NODE_IP = '10.244.0.1';
const BRIDGE = 'xdsbr0';
const POD_CIDR = '10.244.0.0/24';
const SERVICE_CIDR = '10.96.0.0/24';
const KUBERNETES_SERVICE_IP = '10.96.0.1';
const CGROUP_ROOT = 'xds-test-node';
const PAUSE_IMAGE = 'localhost/xds-ambassador-test/pause:1';
// Fixed (not mkdtemp): a run that was killed leaves it behind, and the next start() must find it
// to end its shims and unmount what it mounted.
const DIR = join(tmpdir(), 'xds-test-cluster');
const SYSCTLS = ['/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/bridge/bridge-nf-call-iptables'];

export interface KubeCluster {
  readonly api: KubeApiServer;
  /** kubectl as cluster admin; never throws on exit code. */
  kubectl(args: readonly string[], options?: { input?: string; env?: Record<string, string> }): Promise<CommandResult>;
  /** kubectl as a tracked process (for streams such as `exec` of a request loop). */
  kubectlProcess(args: readonly string[]): TestProcess;
  /** kubectl that must succeed: its stdout. */
  kubectlOk(args: readonly string[], options?: { input?: string; env?: Record<string, string> }): Promise<string>;
  /** The last lines of every component's output (for failure messages). */
  logs(): string;
  /** Stops everything (see the file comment). Safe to call twice. */
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function must(cmd: string, args: readonly string[], options: { input?: string } = {}): Promise<string> {
  const result = await run(cmd, args, options);
  if (result.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${result.code}):\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** Polls `probe` until it returns a value; `dead` names a process that exited meanwhile. */
async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, dead: () => string | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const exited = dead();
    if (exited) throw new Error(`${exited} exited while waiting for ${what}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = String(error);
    }
    await sleep(250);
  }
  throw new Error(`${what} not within ${timeoutMs} ms${last ? ` (last: ${last})` : ''}`);
}

/** Holds the machine-wide cluster lock (flock) until the returned process is stopped or dies. */
async function takeLock(): Promise<TestProcess> {
  const lockFile = join(tmpdir(), 'xds-test-cluster.lock');
  const lock = startProcess({ name: 'cluster lock', cmd: 'flock', args: ['--no-fork', lockFile, 'sh', '-c', 'echo locked; exec sleep infinity'] });
  await lock.waitForOutput(/locked/, 30 * 60_000);
  return lock;
}

/** Pids whose command line mentions `needle` (our containerd socket: its shims). */
async function pidsMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').includes(needle)) pids.push(Number(entry));
  }
  return pids;
}

/** The cgroup folders of the node (cgroupRoot), deepest first, in every mounted hierarchy. */
async function nodeCgroups(): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) await walk(join(dir, entry.name));
    found.push(dir);
  };
  for (const hierarchy of await readdir('/sys/fs/cgroup').catch(() => [])) {
    const top = join('/sys/fs/cgroup', hierarchy, CGROUP_ROOT);
    if (await exists(top)) await walk(top);
  }
  return found;
}

/** Ends everything a cluster (this one, or one of a run that was killed) left on the machine. */
async function cleanUp(kubeProxy: string | undefined): Promise<void> {
  // Containers and Pod sandboxes: every process in the node's cgroups.
  for (let round = 0; round < 20; round++) {
    let left = 0;
    for (const cgroup of await nodeCgroups()) {
      const procs = await readFile(join(cgroup, 'cgroup.procs'), 'utf8').catch(() => '');
      for (const pid of procs.split('\n').filter(Boolean)) {
        left++;
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
    if (left === 0) break;
    await sleep(100);
  }
  // The runc shims (re-parented to init, so not our children): by our containerd socket.
  for (const pid of await pidsMentioning(join(DIR, 'containerd', 'containerd.sock'))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  // Mounts under the folder (volumes, root filesystems, network namespaces), deepest first.
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const mounts = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((point): point is string => point !== undefined && (point === DIR || point.startsWith(`${DIR}/`)))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) await run('umount', ['-l', point]);
  for (const cgroup of await nodeCgroups()) await rmdir(cgroup).catch(() => {});
  if (await exists(`/sys/class/net/${BRIDGE}`)) await run('ip', ['link', 'delete', BRIDGE]);
  if (kubeProxy) await run(kubeProxy, ['--cleanup']);
  // What kube-proxy's cleanup leaves: the kubelet's own chains (KUBE-FIREWALL, canaries, hints).
  for (const cmd of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'mangle']) {
      const rules = (await run(`${cmd}-save`, ['-t', table])).stdout.split('\n');
      for (const rule of rules.filter((r) => /^-A (?!KUBE-)\S+ .*-j KUBE-/.test(r))) {
        await run('sh', ['-c', `${cmd} -t ${table} -D ${rule.slice(3)}`]); // iptables-save quotes as sh does
      }
      const chains = rules.map((r) => /^:(KUBE-\S+)/.exec(r)?.[1]).filter((c): c is string => c !== undefined);
      for (const chain of chains) await run(cmd, ['-t', table, '-F', chain]);
      for (const chain of chains) await run(cmd, ['-t', table, '-X', chain]);
    }
  }
  const saved = await readFile(join(DIR, 'sysctls.json'), 'utf8').catch(() => undefined);
  if (saved !== undefined) {
    for (const [path, value] of Object.entries(JSON.parse(saved) as Record<string, string>)) await writeFile(path, value).catch(() => {});
  }
  await rm(DIR, { recursive: true, force: true });
}

/** The kubectl of the cluster (the one test/kube/build.sh built). */
export async function kubectlPath(): Promise<string> {
  return (await ensureKubeBinaries()).kubectl;
}

/** The images deploy/ runs (test/kube/images.sh, cached): [image, tarball] pairs. */
async function buildImages(): Promise<Array<[string, string]>> {
  const proc = startProcess({ name: 'test/kube/images.sh', cmd: 'bash', args: [join(here, 'images.sh')], maxOutputBytes: 256 * 1024 });
  const exit = await proc.waitForExit();
  if (exit.code !== 0) throw new Error(`test/kube/images.sh failed (code ${exit.code}):\n${proc.output()}`);
  return proc
    .output()
    .split('\n')
    .map((line) => line.split(' '))
    .filter((parts): parts is [string, string] => parts.length === 2 && parts[1]!.endsWith('.tar'));
}

function containerdConfig(): string {
  const d = join(DIR, 'containerd');
  return `version = 2
root = "${d}/root"
state = "${d}/state"
[grpc]
  address = "${d}/containerd.sock"
[ttrpc]
  address = "${d}/containerd.sock.ttrpc"
[debug]
  level = "warn"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  netns_mounts_under_state_dir = true
  enable_selinux = false
  # The kubelet asks for negative OOM scores (the sandbox -998), which need CAP_SYS_RESOURCE; these
  # machines do not give root that capability ("failed to update /proc/self/oom_score_adj:
  # Permission denied" from runc). Scores below containerd's own (0) are raised to it instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${DIR}/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
`;
}

function cniConfig(): string {
  const routes = [{ dst: SERVICE_CIDR }];
  return JSON.stringify({
    cniVersion: '0.4.0',
    name: 'xds-test',
    plugins: [
      {
        type: 'bridge',
        bridge: BRIDGE,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: POD_CIDR }]], routes, dataDir: join(DIR, 'cni-ipam') },
      },
      { type: 'loopback' },
    ],
  });
}

/** The kubelet's cgroupRoot must exist in every hierarchy (it makes kubepods/ below it). */
async function makeNodeCgroups(): Promise<void> {
  for (const hierarchy of await readdir('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', hierarchy, CGROUP_ROOT);
    await mkdir(dir, { recursive: true });
    // A new cpuset cgroup has no CPUs and no memory nodes until given its parent's.
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const parent = await readFile(join('/sys/fs/cgroup', hierarchy, file), 'utf8').catch(() => undefined);
      if (parent !== undefined) await writeFile(join(dir, file), parent);
    }
  }
}

function isCgroupV1(): Promise<boolean> {
  return exists('/sys/fs/cgroup/cgroup.controllers').then((v2) => !v2);
}

export async function startKubeCluster(): Promise<KubeCluster> {
  const bins = await ensureKubeBinaries();
  const bin = (name: string): string => join(bins.binDir, name);
  const images = await buildImages();
  const lock = await takeLock();
  await cleanUp(bin('kube-proxy'));

  const procs: TestProcess[] = [];
  let api: KubeApiServer | undefined;
  let stopped = false;
  const dead = (): string | undefined => procs.find((p) => p.exited())?.name;
  const logs = (): string =>
    procs
      .map((p) => `--- ${p.name}${p.exited() ? ` (exited ${JSON.stringify(p.exited())})` : ''}:\n${p.output().split('\n').slice(-15).join('\n')}`)
      .join('\n') + (api ? `\n--- kube-apiserver:\n${api.apiServerOutput().split('\n').slice(-10).join('\n')}` : '');
  const start = (name: string, cmd: string, args: readonly string[]): TestProcess => {
    const proc = startProcess({ name, cmd, args, maxOutputBytes: 512 * 1024 });
    procs.push(proc);
    return proc;
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // The kubelet first (nothing restarts containers any more), then the rest, then what the
    // runtime left: containers, shims, mounts, interfaces, rules.
    const byName = (name: string) => procs.filter((p) => p.name === name);
    for (const p of byName('kubelet')) await p.stop('SIGTERM', 5000);
    await Promise.all(procs.filter((p) => p.name !== 'containerd').map((p) => p.stop('SIGTERM', 5000)));
    await api?.stop();
    for (const p of byName('containerd')) await p.stop('SIGTERM', 5000);
    await cleanUp(bin('kube-proxy'));
    await lock.stop('SIGTERM', 2000);
  };

  try {
    await mkdir(join(DIR, 'cni'), { recursive: true });
    // Host networking: the node address, the Service range's route, forwarding and bridge
    // netfilter (for kube-proxy's rules on Pod-to-Pod traffic); the sysctls are restored by stop().
    const saved: Record<string, string> = {};
    for (const path of SYSCTLS) saved[path] = await readFile(path, 'utf8');
    await writeFile(join(DIR, 'sysctls.json'), JSON.stringify(saved));
    for (const path of SYSCTLS) await writeFile(path, '1');
    await must('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
    await must('ip', ['addr', 'add', `${NODE_IP}/24`, 'dev', BRIDGE]);
    await must('ip', ['link', 'set', BRIDGE, 'up']);
    await must('ip', ['route', 'add', SERVICE_CIDR, 'dev', BRIDGE, 'src', NODE_IP]);
    await writeFile(join(DIR, 'cni', '10-xds-test.conflist'), cniConfig());

    // containerd, and the images in its k8s.io namespace (the CRI's).
    await writeFile(join(DIR, 'containerd.toml'), containerdConfig());
    const sock = join(DIR, 'containerd', 'containerd.sock');
    start('containerd', 'containerd', ['--config', join(DIR, 'containerd.toml')]);
    await waitFor('containerd', 30_000, async () => ((await run('ctr', ['-a', sock, 'version'])).code === 0 ? true : undefined), dead);
    await Promise.all(images.map(([, tarball]) => must('ctr', ['-a', sock, '-n', 'k8s.io', 'images', 'import', tarball])));

    // The control plane of the cluster.
    api = await startKubeApiServer({
      address: NODE_IP,
      extraServingIps: [KUBERNETES_SERVICE_IP],
      extraApiServerArgs: [
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--endpoint-reconciler-type=lease', // the `kubernetes` Service's endpoint: the node address
        '--kubelet-preferred-address-types=InternalIP', // logs and exec: the node's name resolves nowhere
      ],
    });
    const kubeconfig = api.kubeconfigPath;
    const caFile = join(DIR, 'ca.crt');
    await writeFile(caFile, api.caPem);
    const [cmPort, schedPort, kubeletPort, kubeletHealthz, proxyHealthz, proxyMetrics] = (await freePorts(6)) as [number, number, number, number, number, number];
    start('kube-controller-manager', bin('kube-controller-manager'), [
      `--kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${cmPort}`,
      '--leader-elect=false',
      `--root-ca-file=${caFile}`, // published as ConfigMap kube-root-ca.crt in every namespace
      `--service-account-private-key-file=${api.serviceAccountSigningKeyPath}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--allocate-node-cidrs=false',
      // Quick reactions, so tests do not wait on defaults meant for big clusters.
      '--node-monitor-grace-period=20s',
      '--concurrent-deployment-syncs=5',
    ]);
    start('kube-scheduler', bin('kube-scheduler'), [
      `--kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${schedPort}`,
      '--leader-elect=false',
    ]);

    // The node: kubelet on containerd, kube-proxy, CoreDNS.
    const kubeletDir = join(DIR, 'kubelet');
    await mkdir(kubeletDir, { recursive: true });
    const cgroupV1 = await isCgroupV1();
    await makeNodeCgroups();
    await writeFile(
      join(DIR, 'kubelet.yaml'),
      JSON.stringify({
        apiVersion: 'kubelet.config.k8s.io/v1beta1',
        kind: 'KubeletConfiguration',
        // kubelet v1.35 refuses a cgroup v1 host unless told (KEP-5573); these machines are.
        ...(cgroupV1 ? { failCgroupV1: false } : {}),
        cgroupDriver: 'cgroupfs',
        cgroupRoot: `/${CGROUP_ROOT}`,
        containerRuntimeEndpoint: `unix://${sock}`,
        address: NODE_IP, // logs, exec, port-forward: the API server calls the kubelet here
        port: kubeletPort,
        readOnlyPort: 0,
        healthzBindAddress: '127.0.0.1',
        healthzPort: kubeletHealthz,
        // The node address is private to this machine; the API server is the only caller.
        authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
        authorization: { mode: 'AlwaysAllow' },
        clusterDNS: [NODE_IP],
        clusterDomain: 'cluster.local',
        podLogsDir: join(DIR, 'pod-logs'),
        failSwapOn: false,
        // A test node on a shared disk: never evict for the disk's fill level or collect images.
        evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '0%', 'imagefs.available': '0%' },
        imageGCHighThresholdPercent: 100,
        imageGCLowThresholdPercent: 99,
        // Quicker than the defaults: status, config and probe results reach the API sooner.
        nodeStatusUpdateFrequency: '4s',
        syncFrequency: '5s',
        fileCheckFrequency: '5s',
        serializeImagePulls: false,
        resolvConf: join(DIR, 'host-resolv.conf'),
      }),
    );
    // Pods on the cluster DNS only (no upstream resolver: nothing outside is reachable anyway).
    await writeFile(join(DIR, 'host-resolv.conf'), '');
    start('kubelet', bin('kubelet'), [
      `--config=${join(DIR, 'kubelet.yaml')}`,
      `--kubeconfig=${kubeconfig}`,
      `--root-dir=${kubeletDir}`,
      `--cert-dir=${join(DIR, 'kubelet-pki')}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${NODE_IP}`,
      '--v=1',
    ]);
    start('kube-proxy', bin('kube-proxy'), [
      `--kubeconfig=${kubeconfig}`,
      '--proxy-mode=iptables',
      `--hostname-override=${NODE_NAME}`,
      `--cluster-cidr=${POD_CIDR}`,
      `--healthz-bind-address=127.0.0.1:${proxyHealthz}`,
      `--metrics-bind-address=127.0.0.1:${proxyMetrics}`,
      `--nodeport-addresses=${NODE_IP}/32`,
      // Leave the machine's conntrack sysctls alone.
      '--conntrack-max-per-core=0',
      '--conntrack-tcp-timeout-established=0',
      '--conntrack-tcp-timeout-close-wait=0',
      '--iptables-min-sync-period=0s',
    ]);
    await writeFile(
      join(DIR, 'Corefile'),
      `.:53 {
  bind ${NODE_IP}
  errors
  kubernetes cluster.local in-addr.arpa ip6.arpa {
    kubeconfig ${kubeconfig} xds-test
    pods insecure
    fallthrough in-addr.arpa ip6.arpa
  }
  cache 5
}
`,
    );
    start('coredns', bin('coredns'), ['-conf', join(DIR, 'Corefile')]);

    const kubectl = async (args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<CommandResult> =>
      run(bins.kubectl, [`--cache-dir=${join(DIR, 'kubectl-cache')}`, ...args], {
        env: { ...process.env, KUBECONFIG: kubeconfig, ...options.env },
        ...(options.input === undefined ? {} : { input: options.input }),
      });
    const kubectlOk = async (args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<string> => {
      const result = await kubectl(args, options);
      if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${result.code}):\n${result.stdout}${result.stderr}`);
      return result.stdout;
    };

    await waitFor(
      `node ${NODE_NAME} Ready`,
      120_000,
      async () => {
        const out = await kubectlOk(['get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
        return out === 'True' ? true : undefined;
      },
      dead,
    );
    await waitFor(
      'kube-proxy healthy',
      60_000,
      async () => ((await fetch(`http://127.0.0.1:${proxyHealthz}/healthz`, { signal: AbortSignal.timeout(2000) })).ok ? true : undefined),
      dead,
    );
    const resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([NODE_IP]);
    await waitFor('CoreDNS answering', 60_000, async () => ((await resolver.resolve4('kubernetes.default.svc.cluster.local')).includes(KUBERNETES_SERVICE_IP) ? true : undefined), dead);
    // A new namespace's `default` ServiceAccount comes from the controller-manager: wait for it.
    await waitFor('ServiceAccount default/default', 60_000, async () => ((await kubectl(['get', 'serviceaccount', 'default'])).code === 0 ? true : undefined), dead);

    const kubectlProcess = (args: readonly string[]): TestProcess =>
      startProcess({ name: `kubectl ${args[0] ?? ''}`, cmd: bins.kubectl, args: [`--cache-dir=${join(DIR, 'kubectl-cache')}`, ...args], env: { KUBECONFIG: kubeconfig } });

    return { api, kubectl, kubectlProcess, kubectlOk, logs, stop };
  } catch (error) {
    const message = `${String(error)}\n${logs()}`;
    await stop();
    throw new Error(message);
  }
}
