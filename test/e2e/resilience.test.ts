// Resilience with a real Envoy: a failing endpoint is ejected (outlier detection) or marked
// unhealthy (active health checks) and traffic moves to the healthy one; a circuit breaker
// overflow is answered as Envoy documents it (503 with x-envoy-overloaded: true).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../control-plane/src/demo/upstream.ts';
import type { EnvoyHandle } from '../helpers/envoy.ts';
import { freePorts } from '../helpers/ports.ts';
import { stopAll } from '../helpers/processes.ts';
import { configMap, get, startAmbassador, startControlPlaneProcess, waitUntil, type ControlPlaneProcess } from '../helpers/scenario.ts';

let good: Upstream;
let bad: Upstream;
let sick: Upstream;
let slow: Upstream;
let cp: ControlPlaneProcess;
let envoy: EnvoyHandle;
let ejectPort: number;
let checkPort: number;
let breakerPort: number;

beforeAll(async () => {
  [good, bad, sick, slow] = await Promise.all(['good', 'bad', 'sick', 'slow'].map((name) => startUpstream({ name }))) as [Upstream, Upstream, Upstream, Upstream];
  bad.setBehaviour({ failNext: 1_000_000, failStatus: 503 });
  sick.setBehaviour({ failNext: 1_000_000, failStatus: 500 });
  slow.setBehaviour({ delayMs: 600 });
  [ejectPort, checkPort, breakerPort] = await freePorts(3) as [number, number, number];
  const listener = (name: string, port: number, upstream: string) => `  - name: ${name}\n    port: ${port}\n    routes: [{match: {prefix: /}, upstream: ${upstream}}]`;
  cp = await startControlPlaneProcess({
    'r.yaml': configMap({
      name: 'resilient',
      namespace: 'shop',
      config: `
ambassador: resilient
listeners:
${listener('eject', ejectPort, 'ejecting')}
${listener('check', checkPort, 'checked')}
${listener('breaker', breakerPort, 'limited')}
upstreams:
  ejecting:
    endpoints: ["127.0.0.1:${good.port}", "127.0.0.1:${bad.port}"]
    outlierDetection: {consecutive5xx: 3, interval: 100ms, baseEjectionTime: 30s}
  checked:
    endpoints: ["127.0.0.1:${good.port}", "127.0.0.1:${sick.port}"]
    healthCheck: {path: /healthz, interval: 100ms, timeout: 500ms, unhealthyThreshold: 1}
  limited:
    endpoints: ["127.0.0.1:${slow.port}"]
    circuitBreaker: {maxConnections: 1, maxPendingRequests: 1, maxRequests: 1}`,
    }),
  });
  envoy = await startAmbassador({ xdsPort: cp.xdsPort, ambassador: 'resilient', namespace: 'shop' });
  await waitUntil(async () => (await get(ejectPort)).status !== 404, 10_000, 'the listeners');
});

afterAll(async () => {
  await stopAll();
  await Promise.all([good, bad, sick, slow].map((u) => u?.close()));
});

describe('resilience', () => {
  it('ejects an endpoint that keeps answering 5xx, and traffic moves to the healthy one', async () => {
    await waitUntil(async () => {
      await get(ejectPort);
      return (await envoy.stats('outlier_detection\\.ejections_enforced_total')).get('cluster.shop/resilient/ejecting.outlier_detection.ejections_enforced_total') === 1;
    }, 5000, 'the failing endpoint to be ejected');
    const replies = await Promise.all(Array.from({ length: 40 }, () => get(ejectPort)));
    expect(replies.map((r) => r.upstream)).toEqual(Array(40).fill('good'));
  });

  it('stops sending to an endpoint that fails its active health checks', async () => {
    await waitUntil(async () => (await envoy.clusters()).includes(`shop/resilient/checked::127.0.0.1:${sick.port}::health_flags::/failed_active_hc`), 5000, 'the sick endpoint marked unhealthy');
    sick.reset();
    sick.setBehaviour({ failNext: 1_000_000, failStatus: 500 });
    const replies = await Promise.all(Array.from({ length: 40 }, () => get(checkPort)));
    expect(replies.map((r) => r.upstream)).toEqual(Array(40).fill('good'));
    // The sick endpoint saw health checks only.
    expect(sick.requests.every((q) => q.path === '/healthz')).toBe(true);
    expect((await envoy.stats('health_check\\.failure')).get('cluster.shop/resilient/checked.health_check.failure')).toBeGreaterThanOrEqual(1);
  });

  it('answers breaker overflow with 503 and x-envoy-overloaded, as Envoy documents', async () => {
    const replies = await Promise.all(Array.from({ length: 6 }, () => get(breakerPort)));
    const overloaded = replies.filter((r) => r.status === 503 && r.headers['x-envoy-overloaded'] === 'true');
    const seen = JSON.stringify(replies.map((r) => [r.status, r.headers['x-envoy-overloaded'] ?? null, r.body.slice(0, 80)]));
    expect(overloaded.length, `replies (status, x-envoy-overloaded, body): ${seen}`).toBeGreaterThanOrEqual(1);
    expect(replies.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(1);
    expect((await envoy.stats('upstream_rq_pending_overflow')).get('cluster.shop/resilient/limited.upstream_rq_pending_overflow')).toBeGreaterThanOrEqual(1);
  });
});
