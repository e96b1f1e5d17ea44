import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeXdsCredentials } from '../../control-plane/src/demo/xds-credentials.ts';
import { stopAll } from '../helpers/processes.ts';
import { cpuMs, folderChange, LoadGenerator, peerBinaries, rssBytes, startOurs, type Security } from './peer/harness.ts';
import { setup } from './peer/setup.ts';
const work = await mkdtemp(join(tmpdir(), 'probe-'));
const credentials = await makeXdsCredentials(join(work, 'pki'));
const security: Security = process.env.BENCH_PLAINTEXT === '1' ? { kind: 'plaintext' } : { kind: 'tls', credentials };
const bin = await peerBinaries();
const one = await setup(work, 'one', [{ name: 'fan' }]);
const N = Number(process.env.N ?? 1000);
try {
  const server = await startOurs(['--config-dir', one.dir], security, folderChange(one.dir, one.manifestOf));
  const lg = await LoadGenerator.start(bin, server.xdsPort, security);
  await sleep(1500);
  const probe = async (what: string) => { if (!process.env.PROBE) return; process.kill(server.proc.pid, 'SIGUSR2'); await sleep(500); console.log(what, (await rssBytes(server.proc.pid)) / 2 ** 20, server.proc.output().split('\n').filter((l) => l.includes('MEMPROBE')).at(-1)); };
  console.log('idle', (await rssBytes(server.proc.pid)) / 2 ** 20);
  await probe('idle');
  const c0 = await cpuMs(server.proc.pid);
  if (process.env.PROFILE) process.kill(server.proc.pid, 'SIGUSR1');
  const o = await lg.open(N, one.groups);
  console.log('open ms', o.ms, 'cpu', (await cpuMs(server.proc.pid)) - c0);
  await sleep(2000);
  console.log('loaded', (await rssBytes(server.proc.pid)) / 2 ** 20);
  await probe('loaded');
  await lg.closeAll();
  await sleep(1000);
  if (process.env.CHURN) {
    const c1 = await cpuMs(server.proc.pid);
    const c = await lg.churn({ seconds: 3, workers: 32, group: one.changing });
    console.log('churn', c.cycles / c.seconds, '/s', 'failed', c.failed, 'cpu', (await cpuMs(server.proc.pid)) - c1);
  }
  await probe('after');
  await lg.stop();
  await server.stop();
} finally {
  await stopAll();
}
