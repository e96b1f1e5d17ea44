// The Kubernetes source: a ConfigMap edited through a real kube-apiserver (test/kube) → the first
// Envoy has it. 10 Envoys of the edited ambassador; first with that one ConfigMap alone, then among
// BENCH_CONFIGMAPS (default 2,000; the others of 12 resources each, one Envoy on each of 99 of them,
// which must get nothing). go-control-plane has no Kubernetes source: its SetSnapshot → first push,
// with the same groups, is printed as the reference. Run: scripts/bench.sh peer-kubernetes
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeXdsCredentials } from '../../control-plane/src/demo/xds-credentials.ts';
import { stopAll } from '../helpers/processes.ts';
import { startKubeApiServer, type KubeApiServer } from '../kube/apiserver.ts';
import { kubeJson } from '../kube/rest.ts';
import { editSeries } from './peer/edits.ts';
import { ReferenceWatch } from './peer/reference-watch.ts';
import { LoadGenerator, peerBinaries, startGoControlPlane, startOurs, type Security, type ServerUnderTest } from './peer/harness.ts';
import { machine, progress, table, type Row } from './peer/report.ts';
import { ambassadorConfig, NAMESPACE } from './peer/resources.ts';
import { setup, type Setup } from './peer/setup.ts';

const CONFIGMAPS = Number(process.env.BENCH_CONFIGMAPS ?? 2000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 10);
const ENVOYS = 10;

const work = await mkdtemp(join(tmpdir(), 'xds-peer-bench-'));
let kube: KubeApiServer | undefined;
try {
  const credentials = await makeXdsCredentials(join(work, 'pki'));
  const security: Security = process.env.BENCH_PLAINTEXT === '1' ? { kind: 'plaintext' } : { kind: 'tls', credentials };
  const bin = await peerBinaries();
  const others = Array.from({ length: CONFIGMAPS - 1 }, (_, i) => ({ name: `c${i}`, upstreams: 5 }));
  const alone = await setup(work, 'alone', [{ name: 'fan' }]);
  const crowd = await setup(work, 'crowd', [{ name: 'fan' }, ...others]);
  kube = await startKubeApiServer();
  const api = kube;
  await kubeJson(api, { method: 'POST', path: '/api/v1/namespaces', token: api.adminToken, body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } } });
  const configMap = (name: string, text: string) => ({
    apiVersion: 'v1', kind: 'ConfigMap',
    metadata: { name, namespace: NAMESPACE, labels: { 'xds-ambassador.io/config': 'true' } },
    data: { 'ambassador.yaml': text },
  });
  const create = (name: string, text: string) => kubeJson(api, { method: 'POST', path: `/api/v1/namespaces/${NAMESPACE}/configmaps`, token: api.adminToken, body: configMap(name, text) });
  // A kubectl edit / apply of the data: one PATCH of the stored object, timed to when a plain watch
  // of it has the change (`delivered`, while `watch` is open).
  let watch: ReferenceWatch | undefined;
  const delivered: number[] = [];
  const change: ServerUnderTest['change'] = async (group, state) => {
    const name = group.slice(group.indexOf('/') + 1);
    const arrived = watch?.next();
    const t0 = performance.now();
    await kubeJson(api, {
      method: 'PATCH', path: `/api/v1/namespaces/${NAMESPACE}/configmaps/${name}`, token: api.adminToken,
      contentType: 'application/merge-patch+json', body: { data: { 'ambassador.yaml': ambassadorConfig(name, state as 'A' | 'B', name === 'fan' ? 49 : 5) } },
    });
    if (arrived) delivered.push((await arrived) - t0);
  };
  await create('fan', ambassadorConfig('fan', 'A'));

  const rows: Row[] = [];
  const measure = async (label: string, s: Setup, extra: number) => {
    const first: Row = { what: `${label}: edit through the API server → first push received`, unit: 'ms', ours: [], theirs: [] };
    const apiPart: Row = { what: '… of which the API server: edit → a plain watch has it', unit: 'ms', ours: [], theirs: [] };
    const fromWatch: Row = { what: '… watch event → first push received (ours: the first row less the API server\'s part)', unit: 'ms', ours: [], theirs: [] };
    const converged: Row = { what: `… → all ${ENVOYS} Envoys of it converged`, unit: 'ms', ours: [], theirs: [] };
    const cpu: Row = { what: '… CPU time of the server per edit', unit: 'ms', ours: [], theirs: [] };
    for (const kind of ['theirs', 'ours'] as const) {
      const server = kind === 'ours'
        ? await startOurs(['--kubernetes', '--kubeconfig', api.kubeconfigPath, '--namespace', NAMESPACE], security, change)
        : await startGoControlPlane(bin, s.dump, security, process.env.BENCH_GCP_TYPED === '1');
      const lg = await LoadGenerator.start(bin, server.xdsPort, security);
      if (kind === 'ours') watch = await ReferenceWatch.open(api, NAMESPACE, s.changing.slice(s.changing.indexOf('/') + 1));
      delivered.length = 0;
      try {
        await lg.open(ENVOYS, [s.changing]);
        if (extra > 0) await lg.open(extra, s.groups.slice(1, 1 + extra));
        const e = await editSeries(server, lg, s.changing, s.expect, REPEAT);
        first[kind].push(...e.first);
        converged[kind].push(...e.converged);
        cpu[kind].push(...e.cpu);
        if (kind === 'ours') {
          apiPart.ours.push(...delivered.slice(0, e.first.length));
          fromWatch.ours.push(...e.first.map((ms, i) => ms - (delivered[i] ?? NaN)));
        } else fromWatch.theirs.push(...e.first);
      } finally {
        watch?.close();
        watch = undefined;
        await lg.stop();
        await server.stop();
      }
    }
    rows.push(first, apiPart, fromWatch, converged, cpu);
    for (const r of [first, apiPart, fromWatch, converged, cpu]) progress(r);
  };

  console.log(`peer benchmark, Kubernetes source (kube-apiserver ${api.url}): ${machine()}`);
  await measure('one ConfigMap', alone, 0);
  for (let i = 0; i < others.length; i += 50) {
    await Promise.all(others.slice(i, i + 50).map((o) => create(o.name, ambassadorConfig(o.name, 'A', 5))));
  }
  await measure(`one of ${CONFIGMAPS.toLocaleString('en')} ConfigMaps`, crowd, Math.min(99, others.length));
  console.log('');
  console.log(table(rows));
} finally {
  await stopAll();
  await kube?.stop();
  await rm(work, { recursive: true, force: true });
}
