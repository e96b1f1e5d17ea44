// One edit among many ConfigMaps: does a change cost what changed, or what exists? A folder of
// BENCH_CONFIGMAPS manifests (default 2,000: one ambassador of 100 resources that changes, the others
// of 12 each), 10 Envoys of the changing ambassador and one of each of 99 others, which must get
// nothing. go-control-plane holds the same groups' snapshots (its SetSnapshot of one group is the
// reference: it has no source to read). Run: scripts/bench.sh peer-configmaps
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeXdsCredentials } from '../../control-plane/src/demo/xds-credentials.ts';
import { stopAll } from '../helpers/processes.ts';
import { editSeries } from './peer/edits.ts';
import { cpuMs, folderChange, LoadGenerator, peerBinaries, rssBytes, startGoControlPlane, startOurs, type Security } from './peer/harness.ts';
import { machine, progress, table, type Row } from './peer/report.ts';
import { setup } from './peer/setup.ts';

const CONFIGMAPS = Number(process.env.BENCH_CONFIGMAPS ?? 2000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 10);
const ENVOYS = 10;

const work = await mkdtemp(join(tmpdir(), 'xds-peer-bench-'));
try {
  const credentials = await makeXdsCredentials(join(work, 'pki'));
  const security: Security = process.env.BENCH_PLAINTEXT === '1' ? { kind: 'plaintext' } : { kind: 'tls', credentials };
  const bin = await peerBinaries();
  const s = await setup(work, 'configmaps', [{ name: 'fan' }, ...Array.from({ length: CONFIGMAPS - 1 }, (_, i) => ({ name: `c${i}`, upstreams: 5 }))]);
  const n = CONFIGMAPS.toLocaleString('en');
  const rows = {
    first: { what: `one edit among ${n} ConfigMaps: change → first push received`, unit: 'ms', ours: [], theirs: [] } as Row,
    converged: { what: `… change → all ${ENVOYS} Envoys of it converged`, unit: 'ms', ours: [], theirs: [] } as Row,
    cpu: { what: '… CPU time of the server per edit', unit: 'ms', ours: [], theirs: [] } as Row,
    start: { what: `start → serving ${n} ConfigMaps`, unit: 'ms', ours: [], theirs: [] } as Row,
    startCpu: { what: '… CPU time of the server for it', unit: 'ms', ours: [], theirs: [] } as Row,
    rss: { what: `RSS serving ${n} ConfigMaps, ${ENVOYS + 99} Envoys connected`, unit: 'MB', ours: [], theirs: [] } as Row,
  };
  console.log(`peer benchmark, ${n} ConfigMaps in a folder: ${machine()}`);
  for (const kind of ['theirs', 'ours'] as const) {
    const t0 = performance.now();
    const server = kind === 'ours'
      ? await startOurs(['--config-dir', s.dir], security, folderChange(s.dir, s.manifestOf))
      : await startGoControlPlane(bin, s.dump, security, process.env.BENCH_GCP_TYPED === '1');
    rows.start[kind].push(performance.now() - t0);
    rows.startCpu[kind].push(await cpuMs(server.proc.pid));
    const lg = await LoadGenerator.start(bin, server.xdsPort, security);
    try {
      await lg.open(ENVOYS, [s.changing]);
      await lg.open(99, s.groups.slice(1, 100));
      const e = await editSeries(server, lg, s.changing, s.expect, REPEAT);
      rows.first[kind].push(...e.first);
      rows.converged[kind].push(...e.converged);
      rows.cpu[kind].push(...e.cpu);
      rows.rss[kind].push((await rssBytes(server.proc.pid)) / 2 ** 20);
    } finally {
      await lg.stop();
      await server.stop();
    }
  }
  for (const r of Object.values(rows)) progress(r);
  console.log('');
  console.log(table(Object.values(rows)));
} finally {
  await stopAll();
  await rm(work, { recursive: true, force: true });
}
