// deploy/ on a real node (test/kube/cluster.ts), as README "Run it in a cluster" says to run it:
// the images built from deploy/Dockerfile (test/kube/images.sh), scripts/deploy-certs.sh,
// `kubectl apply -k deploy/`, deploy-certs.sh again (the webhook's caBundle). Then: both control
// plane replicas Ready, the example app's Pods with their bootstrap (init container) and their
// Envoy fetching config through the Service; `kubectl edit` of the ConfigMap re-routes the app's
// requests within a second; deleting a replica, evictions (the PDB) and a rolling restart under a
// steady request loop fail no request; the xDS token authentication and the admission webhook.
//
// The example config's upstream is api.themoviedb.org, which no test may reach: the test's own
// `kubectl edit` points it at an upstream in the cluster (Deployment `upstream` in demo), which is
// what a user would do with their own service.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAll } from '../helpers/processes.ts';
import type { TestProcess } from '../helpers/processes.ts';
import { kubectlPath, startKubeCluster } from './cluster.ts';
import type { KubeCluster } from './cluster.ts';

const ROOT = join(import.meta.dirname, '..', '..');
let cluster: KubeCluster;
let dir: string;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The machine's monotonic clock in ms (/proc/uptime): the containers share the kernel, so the
 * request loops stamp their results with it too, free of the delay of kubectl exec's stream. */
async function uptime(): Promise<number> {
  return Math.round(Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]) * 1000);
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = String(error);
    }
    await sleep(50);
  }
  throw new Error(`${what} not within ${timeoutMs} ms${last ? ` (last: ${last})` : ''}`);
}

function deployCerts(): Promise<string> {
  return new Promise((resolve, reject) => {
    void kubectlPath().then((kubectl) => {
      const child = spawn('bash', [join(ROOT, 'scripts', 'deploy-certs.sh'), '--namespace', 'demo', '--out', join(dir, 'certs')], {
        env: { ...process.env, KUBECTL: kubectl, KUBECONFIG: cluster.api.kubeconfigPath },
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`deploy-certs.sh failed (${code}):\n${out}`))));
    }, reject);
  });
}

const UPSTREAM = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: upstream, namespace: demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: upstream}}
  template:
    metadata: {labels: {app: upstream}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 10001}
      containers:
        - name: upstream
          image: xds-ambassador:0.1.0
          command: [node, -e, "require('node:http').createServer((q, s) => s.end('hello from upstream ' + q.url + ' authorization=' + (q.headers.authorization ?? '-'))).listen(8080)"]
          readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: upstream, namespace: demo}
spec:
  selector: {app: upstream}
  ports: [{port: 8080}]
`;

/** Names of the Pods matching `selector` in `namespace` that are not being deleted. */
async function pods(namespace: string, selector: string): Promise<Array<{ name: string; ip: string; ready: boolean }>> {
  const out = await cluster.kubectlOk(['-n', namespace, 'get', 'pods', '-l', selector, '-o', 'json']);
  const list = JSON.parse(out) as {
    items: Array<{ metadata: { name: string; deletionTimestamp?: string }; status: { podIP?: string; conditions?: Array<{ type: string; status: string }> } }>;
  };
  return list.items
    .filter((p) => !p.metadata.deletionTimestamp)
    .map((p) => ({ name: p.metadata.name, ip: p.status.podIP ?? '', ready: p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false }));
}

/** The control plane replica's `xds_ambassador_streams` (open ADS streams), from its metrics port. */
async function streams(ip: string): Promise<number> {
  const text = await (await fetch(`http://${ip}:19000/metrics`, { signal: AbortSignal.timeout(1000) })).text();
  const line = text.split('\n').find((l) => l.startsWith('xds_ambassador_streams '));
  return Number(line?.split(' ')[1] ?? 'NaN');
}

/** The movies Pod's Envoy admin (127.0.0.1:9901 in the Pod), read from the app container. */
async function envoyAdmin(pod: string, path: string): Promise<string> {
  return cluster.kubectlOk(['-n', 'demo', 'exec', pod, '-c', 'app', '--', 'wget', '-qO-', `http://127.0.0.1:9901${path}`]);
}

/** What the Envoy has: the version of each xDS type (text readouts `*.version_text`). */
async function envoyVersions(pod: string): Promise<Record<string, string>> {
  const out = await envoyAdmin(pod, '/stats?filter=version_text');
  return Object.fromEntries(out.trim().split('\n').map((l) => l.split(': ') as [string, string]));
}

interface RequestLoop {
  /** One entry per request, stamped (uptime()) in the Pod when it completed. */
  readonly results: Array<{ at: number; ok: boolean }>;
  readonly proc: TestProcess;
  /** Ends the loop (kubectl exec) and returns the results. */
  stop(): Promise<Array<{ at: number; ok: boolean }>>;
}

/** The app's own kind of request, in a loop in the app container: GET localhost:8000 through the
 * sidecar every 50 ms for at most `seconds`, one line per request ("ok" or "fail", and the uptime). No `wget -T`:
 * Debian's static busybox 1.35 segfaults with it; the route's 5 s timeout bounds each request. */
function requestLoop(pod: string, seconds: number): RequestLoop {
  const script = `end=$(( $(date +%s) + ${seconds} )); while [ $(date +%s) -lt $end ]; do if wget -q -O /dev/null http://127.0.0.1:8000/3/discover/movie; then r=ok; else r=fail; fi; read up idle </proc/uptime; echo "$r $up"; usleep 50000; done`;
  const proc = cluster.kubectlProcess(['-n', 'demo', 'exec', pod, '-c', 'app', '--', 'sh', '-c', script]);
  const results: Array<{ at: number; ok: boolean }> = [];
  let partial = '';
  proc.child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^(ok|fail) (\d+\.\d+)$/.exec(line);
      if (m) results.push({ at: Math.round(Number(m[2]) * 1000), ok: m[1] === 'ok' });
    }
  });
  return {
    results,
    proc,
    async stop() {
      await proc.stop('SIGTERM', 2000);
      return results;
    },
  };
}

describe('deploy/ on a real node', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'xds-cluster-test-'));
    // A cold machine first builds Kubernetes (test/kube/build.sh, 15-25 min) and the images.
    cluster = await startKubeCluster();
    await deployCerts();
    await cluster.kubectlOk(['apply', '-k', join(ROOT, 'deploy')]);
    await deployCerts(); // again, now that the webhook configuration exists: its caBundle
    await cluster.kubectlOk(['apply', '-f', '-'], { input: UPSTREAM });
  }, 40 * 60_000);

  afterAll(async () => {
    await stopAll();
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('both control plane replicas become Ready; the app Pods start with the bootstrap their init container wrote, their Envoys fetch config through the Service', async () => {
    await cluster.kubectlOk(['-n', 'xds-system', 'rollout', 'status', 'deployment/xds-ambassador', '--timeout=180s']);
    await cluster.kubectlOk(['-n', 'demo', 'rollout', 'status', 'deployment/movies', '--timeout=180s']);
    await cluster.kubectlOk(['-n', 'demo', 'rollout', 'status', 'deployment/upstream', '--timeout=120s']);
    const cps = await pods('xds-system', 'app.kubernetes.io/name=xds-ambassador');
    expect(cps.filter((p) => p.ready)).toHaveLength(2);

    const movies = await pods('demo', 'app=movies');
    expect(movies.filter((p) => p.ready)).toHaveLength(2);
    for (const pod of movies) {
      const init = JSON.parse(await cluster.kubectlOk(['-n', 'demo', 'get', 'pod', pod.name, '-o', 'jsonpath={.status.initContainerStatuses[0].state.terminated}'])) as { exitCode: number };
      expect(init.exitCode).toBe(0);
      const bootstrap = await cluster.kubectlOk(['-n', 'demo', 'exec', pod.name, '-c', 'ambassador', '--', 'cat', '/etc/envoy/envoy.yaml']);
      expect(bootstrap).toContain(`id: ${pod.name}`);
      expect(bootstrap).toContain('xds-ambassador.xds-system.svc');
      // The xDS cluster's one host is the Service's ClusterIP (what the Service name resolves to).
      const serviceIp = await cluster.kubectlOk(['-n', 'xds-system', 'get', 'service', 'xds-ambassador', '-o', 'jsonpath={.spec.clusterIP}']);
      expect(await envoyAdmin(pod.name, '/clusters')).toContain(`xds-ambassador::${serviceIp}:18000::cx_active::1`);
      expect(await envoyAdmin(pod.name, '/stats?filter=control_plane.connected_state')).toContain('control_plane.connected_state: 1');
      expect(await envoyAdmin(pod.name, '/listeners')).toContain('movies::127.0.0.1:8000');
    }
    // Both Envoys' streams are open, on one replica or the other.
    expect((await Promise.all(cps.map((p) => streams(p.ip)))).reduce((a, b) => a + b, 0)).toBe(2);
  }, 300_000);

  it('kubectl edit of the ConfigMap re-routes the app within a second; kubectl describe shows the Events', async () => {
    expect(await cluster.kubectlOk(['-n', 'demo', 'get', 'configmap', 'movies-ambassador', '-o', 'yaml'])).toContain('ambassador: movies');
    const [pod] = await pods('demo', 'app=movies');
    const loop = requestLoop(pod!.name, 20);
    // The example's upstream (api.themoviedb.org) is not reachable from here: requests fail.
    await until('requests answered', 10_000, async () => (loop.results.length >= 3 ? true : undefined));
    expect(loop.results.every((r) => !r.ok)).toBe(true);

    // kubectl edit, with an editor that changes the upstream to the Service of the cluster's own.
    const editor = join(dir, 'edit.sh');
    await writeFile(editor, `#!/bin/sh\nsed -i -e 's|"api.themoviedb.org:443"|"upstream.demo.svc:8080"|' -e '/^ *tls: {}$/d' "$1"\n`, { mode: 0o755 });
    const edit = await cluster.kubectlOk(['-n', 'demo', 'edit', 'configmap', 'movies-ambassador'], { env: { KUBE_EDITOR: editor } });
    const edited = await uptime();
    expect(edit).toContain('configmap/movies-ambassador edited');
    const firstOk = await until('a request through the edited route', 5_000, async () => loop.results.find((r) => r.ok)).catch(async (error: unknown) => {
      const clusters = await envoyAdmin(pod!.name, '/clusters');
      throw new Error(`${String(error)}; ${loop.results.length} requests; Envoy's clusters:\n${clusters}\n${loop.proc.output()}`);
    });
    const after = await loop.stop();
    console.log(`kubectl edit → first request through the new route: ${firstOk.at - edited} ms`);
    expect(firstOk.at - edited).toBeLessThan(1000);
    // Once switched, every request succeeds.
    expect(after.filter((r) => r.at > firstOk.at && !r.ok)).toEqual([]);

    // What the app itself prints (its own loop, every 10 s): the upstream's answer, with the token
    // from the Secret injected by the sidecar.
    await until('the app logs the upstream answer', 20_000, async () => {
      const logs = await cluster.kubectlOk(['-n', 'demo', 'logs', pod!.name, '-c', 'app', '--tail=5']);
      return logs.includes('hello from upstream /3/discover/movie authorization=Bearer replace-me-with-your-tmdb-token') ? true : undefined;
    });
    const describe = await cluster.kubectlOk(['-n', 'demo', 'describe', 'configmap', 'movies-ambassador']);
    expect(describe).toMatch(/Events:[\s\S]*Accepted/);
  }, 120_000);

  it('deleting a control plane Pod under a steady request loop: no failed request, the Envoys reconnect to the other replica within about a second, same versions', async () => {
    const movies = await pods('demo', 'app=movies');
    const cps = await pods('xds-system', 'app.kubernetes.io/name=xds-ambassador');
    const counts = await Promise.all(cps.map((p) => streams(p.ip)));
    const victim = cps[counts[0]! >= counts[1]! ? 0 : 1]!;
    const survivor = cps.find((p) => p !== victim)!;
    const before = await Promise.all(movies.map((p) => envoyVersions(p.name)));

    const loops = movies.map((p) => requestLoop(p.name, 15));
    await until('loops running', 10_000, async () => (loops.every((l) => l.results.length >= 3) ? true : undefined));
    await cluster.kubectlOk(['-n', 'xds-system', 'delete', 'pod', victim.name, '--wait=false']);
    const deleted = await uptime();
    await until('both Envoys on the surviving replica', 10_000, async () => ((await streams(survivor.ip)) === movies.length ? true : undefined));
    const reconnected = (await uptime()) - deleted;
    await sleep(3000); // requests keep flowing after the switch
    const results = await Promise.all(loops.map((l) => l.stop()));

    console.log(`reconnect to the other replica: ${reconnected} ms after kubectl delete; requests: ${results.map((r) => r.length).join(' + ')}`);
    expect(results.flat().filter((r) => !r.ok)).toEqual([]);
    // Requests went through before the delete and after the reconnection, in both Pods.
    for (const r of results) {
      expect(r.filter((x) => x.at < deleted).length).toBeGreaterThan(0);
      expect(r.filter((x) => x.at > deleted + reconnected).length).toBeGreaterThan(2);
    }
    expect(reconnected).toBeLessThan(1500);
    for (const pod of movies) expect(await envoyAdmin(pod.name, '/stats?filter=control_plane.connected_state')).toContain('control_plane.connected_state: 1');
    expect(await Promise.all(movies.map((p) => envoyVersions(p.name)))).toEqual(before);
    // The ReplicaSet brings the second replica back.
    await cluster.kubectlOk(['-n', 'xds-system', 'rollout', 'status', 'deployment/xds-ambassador', '--timeout=120s']);
  }, 180_000);

  it('a rolling restart of the control plane, and evictions, honour the PodDisruptionBudget and fail no request', async () => {
    const movies = await pods('demo', 'app=movies');
    const before = await Promise.all(movies.map((p) => envoyVersions(p.name)));
    const loops = movies.map((p) => requestLoop(p.name, 120));
    await until('loops running', 10_000, async () => (loops.every((l) => l.results.length >= 3) ? true : undefined));

    // Ready control plane endpoints, sampled all along.
    let minReady = Infinity;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const out = await cluster.kubectl(['-n', 'xds-system', 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=xds-ambassador', '-o', 'jsonpath={.items[*].endpoints[*].conditions.ready}']);
        if (out.code === 0) minReady = Math.min(minReady, out.stdout.split(' ').filter((r) => r === 'true').length);
        await sleep(200);
      }
    })();

    await cluster.kubectlOk(['-n', 'xds-system', 'rollout', 'restart', 'deployment/xds-ambassador']);
    await cluster.kubectlOk(['-n', 'xds-system', 'rollout', 'status', 'deployment/xds-ambassador', '--timeout=180s']);

    // Evictions (what `kubectl drain` does) go through the PDB (minAvailable: 1): the first of the
    // two replicas may go, the second may not while the first's replacement is not Ready.
    await until('the PDB allows a disruption', 30_000, async () =>
      (await cluster.kubectlOk(['-n', 'xds-system', 'get', 'pdb', 'xds-ambassador', '-o', 'jsonpath={.status.disruptionsAllowed}'])) === '1' ? true : undefined);
    const cps = await pods('xds-system', 'app.kubernetes.io/name=xds-ambassador');
    const evict = (name: string) =>
      cluster.kubectl(['create', '--raw', `/api/v1/namespaces/xds-system/pods/${name}/eviction`, '-f', '-'], {
        input: JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: 'xds-system' } }),
      });
    const first = await evict(cps[0]!.name);
    expect(first.code, first.stderr).toBe(0);
    const second = await evict(cps[1]!.name);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain('disruption budget');
    await cluster.kubectlOk(['-n', 'xds-system', 'rollout', 'status', 'deployment/xds-ambassador', '--timeout=180s']);
    await until('both replicas Ready', 120_000, async () => ((await pods('xds-system', 'app.kubernetes.io/name=xds-ambassador')).filter((p) => p.ready).length === 2 ? true : undefined));
    await sleep(2000);

    sampling = false;
    await sampler;
    const results = await Promise.all(loops.map((l) => l.stop()));
    console.log(`rolling restart + eviction: requests ${results.map((r) => r.length).join(' + ')}, fewest Ready control plane endpoints ${minReady}`);
    expect(results.flat().filter((r) => !r.ok)).toEqual([]);
    expect(minReady).toBeGreaterThanOrEqual(1);
    for (const pod of movies) expect(await envoyAdmin(pod.name, '/stats?filter=control_plane.connected_state')).toContain('control_plane.connected_state: 1');
    expect(await Promise.all(movies.map((p) => envoyVersions(p.name)))).toEqual(before);
  }, 400_000);

  it('xDS authentication: the Envoys are who their ServiceAccount token says; an Envoy of another ServiceAccount gets nothing', async () => {
    const cps = await pods('xds-system', 'app.kubernetes.io/name=xds-ambassador');
    const logs = (await Promise.all(cps.map((p) => cluster.kubectlOk(['-n', 'xds-system', 'logs', p.name])))).join('\n');
    expect(logs).toMatch(/"client":"demo\/movies \(token\)".*"msg":"ADS stream opened"/);

    // The movies Deployment under another ServiceAccount (not in the config's serviceAccounts).
    const movies = JSON.parse(await cluster.kubectlOk(['-n', 'demo', 'get', 'deployment', 'movies', '-o', 'json'])) as {
      metadata: Record<string, unknown>;
      spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: { serviceAccountName: string } } };
    };
    const intruder = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'intruder', namespace: 'demo' },
      spec: { ...movies.spec, replicas: 1, selector: { matchLabels: { app: 'intruder' } }, template: { ...movies.spec.template, metadata: { labels: { app: 'intruder' } }, spec: { ...movies.spec.template.spec, serviceAccountName: 'intruder' } } },
    };
    await cluster.kubectlOk(['-n', 'demo', 'create', 'serviceaccount', 'intruder']);
    await cluster.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(intruder) });
    const pod = await until('the intruder Pod running', 120_000, async () => {
      const [p] = await pods('demo', 'app=intruder');
      if (!p) return undefined;
      const phase = await cluster.kubectlOk(['-n', 'demo', 'get', 'pod', p.name, '-o', 'jsonpath={.status.phase}']);
      return phase === 'Running' ? p : undefined;
    });
    await until('the intruder refused', 30_000, async () => {
      const text = (await Promise.all(cps.map((p) => cluster.kubectlOk(['-n', 'xds-system', 'logs', p.name])))).join('\n');
      return text.includes(pod.name) && /refus|denied|not allowed/i.test(text.split('\n').filter((l) => l.includes(pod.name)).join('\n')) ? true : undefined;
    });
    // Its Envoy never gets the listener, so it never becomes Ready.
    expect(await envoyAdmin(pod.name, '/listeners')).not.toContain('movies');
    expect((await pods('demo', 'app=intruder'))[0]!.ready).toBe(false);
    await cluster.kubectlOk(['-n', 'demo', 'delete', 'deployment', 'intruder']);
  }, 180_000);

  it('the admission webhook refuses an invalid ConfigMap at kubectl apply, through the Service', async () => {
    const bad = `apiVersion: v1
kind: ConfigMap
metadata:
  name: broken
  namespace: demo
  labels: {xds-ambassador.io/config: "true"}
data:
  ambassador.yaml: |
    ambassador: broken
    listeners:
      - name: api
        port: 8000
        routes:
          - match: {prefix: /}
            upstream: v1
            timeout: soon
    upstreams:
      v1: {endpoints: ["upstream.demo.svc:8080"]}
`;
    const result = await cluster.kubectl(['apply', '-f', '-'], { input: bad });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('admission webhook "configmaps.xds-ambassador.io" denied the request: ConfigMap demo/broken: ambassador.yaml: listeners[0].routes[0].timeout');
  }, 60_000);
});
