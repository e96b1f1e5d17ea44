// A smoke run of the peer benchmark (test/bench/peer.bench.ts) at the smallest sizes, so that its
// harness does not rot: both servers (this control plane's `serve` and go-control-plane) get the
// same resources, the Go load generator syncs a few Envoy-like streams from each over TLS with client
// certificates, receives the same bytes and versions from both, converges after a change, and churns.
// It times nothing.
//
// It never builds the Go programs: test/bench/peer/build.sh takes several minutes on 2 cores from a
// cold Go cache (modules from the Go module proxy, then compiling go-control-plane's Envoy API), which
// the suite's command should not spend. It runs wherever they are built and current (scripts/bench.sh
// peer, or build.sh, once: then ~/.cache/xds-ambassador/bench), and is reported skipped otherwise.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAll } from '../helpers/processes.ts';
import { xdsCredentials } from '../helpers/scenario.ts';
import { cachedPeerBinaries, folderChange, LoadGenerator, startGoControlPlane, startOurs, type Security, type ServerUnderTest } from '../bench/peer/harness.ts';
import { setup, type Setup } from '../bench/peer/setup.ts';

const STREAMS = 4;

const cached = await cachedPeerBinaries();
const bin = cached ?? '';
let work = '';
let security: Security;
let config: Setup;

beforeAll(async () => {
  if (!cached) return;
  work = await mkdtemp(join(tmpdir(), 'xds-peer-smoke-'));
  security = { kind: 'tls', credentials: await xdsCredentials() };
  config = await setup(work, 'smoke', [{ name: 'fan', upstreams: 4 }, { name: 'other', upstreams: 2 }]);
});

afterAll(async () => {
  await stopAll();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Run { digests: Record<string, string>; firstMs: number; converged: number; churned: number }

/** Syncs STREAMS streams (both groups), changes the first group, and churns a little. */
async function run(server: ServerUnderTest): Promise<Run> {
  const lg = await LoadGenerator.start(bin, server.xdsPort, security);
  try {
    const opened = await lg.open(STREAMS, config.groups);
    expect(opened.synced).toBe(STREAMS);
    const changed = await lg.measure(config.changing, config.expect.B, () => server.change(config.changing, 'B'));
    const churn = await lg.churn({ seconds: 20, workers: 2, group: config.changing, cycles: 10 });
    expect(churn.failed).toBe(0);
    return { digests: opened.digests, firstMs: changed.firstMs, converged: changed.ms.length, churned: churn.cycles };
  } finally {
    await lg.stop();
    await server.stop();
  }
}

describe('peer benchmark harness (smoke)', () => {
  it.skipIf(!cached)('(runs once test/bench/peer/build.sh has built the Go programs) syncs, changes and churns the same resources from this control plane and from go-control-plane', async () => {
    const theirs = await startGoControlPlane(bin, config.dump, security, false);
    // Every resource go-control-plane sends is the dumped bytes.
    const [, sent, identical] = /resources (\d+), sent byte-identical (\d+)/.exec(theirs.identical) ?? [];
    expect(Number(identical)).toBe(Number(sent));
    const gcp = await run(theirs);
    const ours = await run(await startOurs(['--config-dir', config.dir], security, folderChange(config.dir, config.manifestOf)));

    for (const r of [ours, gcp]) {
      expect(Object.keys(r.digests).sort()).toEqual([...config.groups].sort());
      expect(r.converged).toBe(STREAMS / config.groups.length);
      expect(r.firstMs).toBeGreaterThan(0);
      expect(r.churned).toBeGreaterThanOrEqual(10);
    }
    // The same bytes (and versions, which the digests cover) in every group.
    expect(ours.digests).toEqual(gcp.digests);
  }, 120_000);
});
