// This control plane beside go-control-plane, serving the same resources (bytes and versions) to the
// same Go load generator, which behaves as Envoys do over State-of-the-World ADS, one gRPC
// connection per Envoy. Both servers run alone on the machine in turn; each measure is repeated and
// printed as median (min–max) with the ratio of the medians, ours ÷ go-control-plane.
//
// Run: scripts/bench.sh peer   (the first run builds the Go programs from the Go module proxy, about
// a minute; see test/bench/peer/build.sh). Environment knobs, for a quick look:
//   BENCH_REPEAT=5  BENCH_SIZES=100,500,1000  BENCH_SYNC_STREAMS=1000  BENCH_GROUPS=100
//   BENCH_GCP_TYPED=1   go-control-plane gets typed messages and encodes them for every response (as
//                       its users run it) instead of holding the very bytes this project sends
//   BENCH_SCENARIOS=fanout,group,lifecycle   which scenarios (default all)
//   BENCH_SERVERS=theirs,ours                which servers (default both)
//   BENCH_PLAINTEXT=1   both servers plaintext (ours with --insecure) instead of TLS with client
//                       certificates (the default: both verify them against the test CA, ours also
//                       turns them into identities; go-control-plane has no notion of those).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeXdsCredentials } from '../../control-plane/src/demo/xds-credentials.ts';
import { stopAll } from '../helpers/processes.ts';
import { cpuMs, folderChange, LoadGenerator, peerBinaries, rssBytes, startGoControlPlane, startOurs, type Security, type ServerUnderTest } from './peer/harness.ts';
import { machine, percentile, progress, table, type Row } from './peer/report.ts';
import { editSeries } from './peer/edits.ts';
import { setup, type Setup } from './peer/setup.ts';

const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
const SIZES = (process.env.BENCH_SIZES ?? '100,500,1000').split(',').map(Number);
const SYNC_STREAMS = Number(process.env.BENCH_SYNC_STREAMS ?? 1000);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 100);
const PER_GROUP = 10;
const CHURN_SECONDS = 3;
const CHURN_WORKERS = 32;
const LEAK_CYCLES = Number(process.env.BENCH_LEAK_CYCLES ?? 10_000);
const MB = 2 ** 20;
const TYPED = process.env.BENCH_GCP_TYPED === '1';
const SCENARIOS = (process.env.BENCH_SCENARIOS ?? 'fanout,group,lifecycle').split(',');
const SERVERS = (process.env.BENCH_SERVERS ?? 'theirs,ours').split(',') as ('theirs' | 'ours')[];

const work = await mkdtemp(join(tmpdir(), 'xds-peer-bench-'));
const credentials = await makeXdsCredentials(join(work, 'pki'));
const security: Security = process.env.BENCH_PLAINTEXT === '1' ? { kind: 'plaintext' } : { kind: 'tls', credentials };

const bin = await peerBinaries();
const one = await setup(work, 'one', [{ name: 'fan' }]);
const many = await setup(work, 'many', Array.from({ length: GROUPS }, (_, i) => ({ name: `g${i}` })));

type Kind = 'ours' | 'theirs';
const start = async (kind: Kind, s: Setup): Promise<ServerUnderTest> => kind === 'ours'
  // From the state go-control-plane starts in (the dump's): an earlier scenario may have left B.
  ? folderChange(s.dir, s.manifestOf)(s.changing, 'A').then(() => startOurs(['--config-dir', s.dir], security, folderChange(s.dir, s.manifestOf)))
  : startGoControlPlane(bin, s.dump, security, TYPED).then((g) => {
    gcpLine ||= g.identical;
    return g;
  });
let gcpLine = '';

const rows = new Map<string, Row>();
const row = (what: string, unit: string, higherIsBetter = false): Row => {
  let r = rows.get(what);
  if (!r) rows.set(what, (r = { what, unit, ours: [], theirs: [], higherIsBetter }));
  return r;
};
const digests: Record<Kind, { raw: string; canonical: string }> = { ours: { raw: '', canonical: '' }, theirs: { raw: '', canonical: '' } };

/** Fresh server: idle RSS; SYNC_STREAMS Envoys connecting at once (time, CPU, RSS); churn. */
async function lifecycle(kind: Kind): Promise<void> {
  for (let rep = 0; rep < REPEAT; rep++) {
    const server = await start(kind, one);
    const lg = await LoadGenerator.start(bin, server.xdsPort, security);
    try {
      await sleep(1500);
      const idle = await rssBytes(server.proc.pid);
      const cpu0 = await cpuMs(server.proc.pid);
      const opened = await lg.open(SYNC_STREAMS, one.groups);
      const cpu = (await cpuMs(server.proc.pid)) - cpu0;
      if (!digests[kind].raw) digests[kind] = { raw: opened.digests[one.changing] ?? '', canonical: opened.canonical[one.changing] ?? '' };
      await sleep(2000);
      const loaded = await rssBytes(server.proc.pid);
      row(`${SYNC_STREAMS.toLocaleString('en')} Envoys connecting at once: all synced`, 'ms')[kind].push(opened.ms);
      row(`… CPU time of the server for the ${SYNC_STREAMS.toLocaleString('en')} syncs`, 'ms')[kind].push(cpu);
      row('RSS at idle (after start, no Envoy)', 'MB')[kind].push(idle / MB);
      row(`RSS with ${SYNC_STREAMS.toLocaleString('en')} idle Envoys connected`, 'MB')[kind].push(loaded / MB);
      row('… per idle Envoy', 'KB')[kind].push((loaded - idle) / SYNC_STREAMS / 1024);
      await lg.closeAll();
      await sleep(1000);
      const c = await lg.churn({ seconds: CHURN_SECONDS, workers: CHURN_WORKERS, group: one.changing });
      if (c.failed > 0) throw new Error(`${kind}: ${c.failed} churn cycles failed`);
      row(`connect → sync → disconnect cycles per second (${CHURN_WORKERS} at a time)`, '/s', true)[kind].push(c.cycles / c.seconds);
      if (rep === 0 && LEAK_CYCLES > 0) {
        // Memory after many connections came and went: warm up, then LEAK_CYCLES more.
        await lg.churn({ seconds: 600, workers: CHURN_WORKERS, group: one.changing, cycles: 1000 });
        await sleep(1000);
        // Twice: a plateau adds about nothing the second time, a leak as much again.
        for (const when of ['after 1,000', 'a second time']) {
          const before = await rssBytes(server.proc.pid);
          const l = await lg.churn({ seconds: 600, workers: CHURN_WORKERS, group: one.changing, cycles: LEAK_CYCLES });
          if (l.failed > 0) throw new Error(`${kind}: ${l.failed} churn cycles failed`);
          await sleep(1000);
          row(`RSS growth over ${LEAK_CYCLES.toLocaleString('en')} more cycles (${when})`, 'MB')[kind].push(((await rssBytes(server.proc.pid)) - before) / MB);
        }
      }
    } finally {
      await lg.stop();
      await server.stop();
    }
  }
}

/** One server, N Envoys of one group, REPEAT changes of its config. */
async function fanOut(kind: Kind): Promise<void> {
  const server = await start(kind, one);
  const lg = await LoadGenerator.start(bin, server.xdsPort, security);
  try {
    let state: 'A' | 'B' = 'A';
    for (const n of SIZES) {
      await lg.open(n, one.groups);
      for (let rep = 0; rep < REPEAT; rep++) {
        await sleep(300);
        state = state === 'A' ? 'B' : 'A';
        const to = state;
        const r = await lg.measure(one.changing, one.expect[to], () => server.change(one.changing, to));
        row(`${n.toLocaleString('en')} Envoys of one group: change → all converged, p99`, 'ms')[kind].push(percentile(r.ms, 99));
        row(`${n.toLocaleString('en')} Envoys: change → first push received`, 'ms')[kind].push(r.firstMs);
        row(`${n.toLocaleString('en')} Envoys: first push → last converged`, 'ms')[kind].push((r.ms.at(-1) ?? NaN) - r.firstMs);
      }
      await lg.closeAll();
    }
  } finally {
    await lg.stop();
    await server.stop();
  }
}

/** GROUPS groups of PER_GROUP Envoys; one group's config changes. */
async function oneAmongMany(kind: Kind): Promise<void> {
  const server = await start(kind, many);
  const lg = await LoadGenerator.start(bin, server.xdsPort, security);
  try {
    await lg.open(GROUPS * PER_GROUP, many.groups);
    const e = await editSeries(server, lg, many.changing, many.expect, REPEAT);
    row(`one ${PER_GROUP}-Envoy group of ${GROUPS} changes: change → all ${PER_GROUP} converged`, 'ms')[kind].push(...e.converged);
    row(`… change → first push received`, 'ms')[kind].push(...e.first);
    row(`… CPU time of the server for the change`, 'ms')[kind].push(...e.cpu);
  } finally {
    await lg.stop();
    await server.stop();
  }
}

try {
  console.log(`peer benchmark: ${machine()}`);
  console.log(`xDS port: ${security.kind === 'tls' ? 'TLS, client certificates required by both servers' : 'plaintext (ours with --insecure)'}; ${REPEAT} repetitions; median (min–max)`);
  for (const kind of SERVERS) {
    console.log(`== ${kind === 'ours' ? 'xds-ambassador' : 'go-control-plane'}`);
    if (SCENARIOS.includes('fanout')) await fanOut(kind);
    if (SCENARIOS.includes('group')) await oneAmongMany(kind);
    if (SCENARIOS.includes('lifecycle')) await lifecycle(kind);
  }
  const same = (k: 'raw' | 'canonical') => digests.ours[k] === digests.theirs[k] && digests.ours[k] !== '';
  console.log(`go-control-plane ${TYPED ? 'typed' : 'raw'}: ${gcpLine}; what an Envoy received from both: ${same('raw') ? 'the same bytes' : same('canonical') ? 'equal messages (different encodings)' : 'DIFFERENT'}, the same versions`);
  for (const r of rows.values()) progress(r);
  console.log('');
  console.log(table([...rows.values()]));
} finally {
  await stopAll();
  await rm(work, { recursive: true, force: true });
}
