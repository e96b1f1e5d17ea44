import { defineConfig } from 'vitest/config';

// The end-to-end files that run a real Envoy run twice: in project "all" (with every other test)
// their Envoys speak State-of-the-World ADS, in project "e2e-delta" Delta ADS (XDS_MODE=delta makes
// test/helpers/scenario.ts's startAmbassador() write Delta bootstraps). Left out of "e2e-delta",
// because they never start an Envoy through startAmbassador(), or test nothing of the protocol:
const NOT_PER_PROTOCOL = [
  'test/e2e/admission-webhook.test.ts', // the API server and the webhook; no Envoy
  'test/e2e/cli.test.ts', // the command line itself (bootstrap --delta is tested there)
  'test/e2e/token-verifier.test.ts', // TokenReview against the API server; no Envoy
  'test/e2e/xds-limits.test.ts', // raw clients that stop reading (Delta: test/unit/delta-protocol.test.ts)
  'test/e2e/xds-security.test.ts', // raw attacking clients (Delta: test/unit/delta-protocol.test.ts)
  'test/e2e/hostile-input.test.ts', // hostile manifests stopped by the parser, before any protocol
  'test/e2e/kubernetes-hostile.test.ts', // the same through the API server
  'test/e2e/render-cli.test.ts', // the render command's output; no Envoy
  'test/e2e/peer-bench.test.ts', // the peer benchmark's harness: its load generator speaks State-of-the-World
];

// test/kube/cluster.test.ts runs deploy/ on a whole single-node cluster (a kubelet, containerd,
// the control plane's Pods, Envoys): on two cores that load would skew every timing the other files
// measure, and theirs its own (a reconnection within about a second, an edit within one). So it
// runs alone, once (its sidecars speak the deploy's protocol), after the other projects.
const CLUSTER = 'test/kube/cluster.test.ts';

export default defineConfig({
  test: {
    // End-to-end tests start real Envoy processes; two cores do not gain from running many at once.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'all', include: ['test/**/*.test.ts'], exclude: [CLUSTER] } },
      {
        extends: true,
        test: { name: 'e2e-delta', include: ['test/e2e/*.test.ts'], exclude: NOT_PER_PROTOCOL, env: { XDS_MODE: 'delta' } },
      },
      { extends: true, test: { name: 'cluster', include: [CLUSTER], sequence: { groupOrder: 1 } } },
    ],
  },
});
