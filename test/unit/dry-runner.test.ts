// The admin API's Validate and Render run in a worker thread: a large hostile manifest neither
// stalls the control plane's event loop nor runs past its deadline, and callers beyond the queue
// are refused. Real worker threads, real parses.
import { afterEach, describe, expect, it } from 'vitest';
import { DryRunError, DryRunner } from '../../control-plane/src/admin/dry-runner.ts';
import { configMap } from '../helpers/scenario.ts';

/** A 0.77 MB flow list in ambassador.yaml: the YAML library needs seconds for it (3-15 s here). */
const HOSTILE = configMap({ name: 'big', namespace: 'shop', config: `ambassador: big\nlisteners: [${Array.from({ length: 60_000 }, (_, i) => `{a${i}: 1}`).join(', ')}]` });
const GOOD = configMap({ name: 'ok', namespace: 'shop', config: `
ambassador: orders
listeners:
  - name: api
    port: 8080
    routes: [{match: {prefix: /}, upstream: backend}]
upstreams:
  backend: {endpoints: ["10.0.0.1:80"]}` });

let runner: DryRunner | undefined;
afterEach(async () => {
  await runner?.close();
  runner = undefined;
});

/** The longest the event loop was late for a 10 ms timer while `work` ran. */
async function maxLagMs<T>(work: Promise<T>): Promise<{ result: PromiseSettledResult<T>; lag: number; elapsed: number }> {
  let lag = 0;
  const start = performance.now();
  let last = start;
  const timer = setInterval(() => {
    const now = performance.now();
    lag = Math.max(lag, now - last - 10);
    last = now;
  }, 10);
  const [result] = await Promise.allSettled([work]);
  clearInterval(timer);
  return { result, lag, elapsed: performance.now() - start };
}

describe('dry runs', () => {
  it('gives up on a manifest that takes longer than the deadline, keeping the event loop free, then works again', async () => {
    runner = new DryRunner({ timeoutMs: 500, maxQueued: 4 });
    const { result, lag, elapsed } = await maxLagMs(runner.validate([{ path: 'big.yaml', content: HOSTILE }]));
    expect(result.status).toBe('rejected');
    const err = (result as PromiseRejectedResult).reason as DryRunError;
    expect(err).toBeInstanceOf(DryRunError);
    expect(err.reason).toBe('deadline');
    expect(err.message).toBe('the manifests are too large or too complex to check within 0.5 s — make them smaller or simpler');
    // Parsed inline, the input would block the loop for the whole call (and seconds more): here no
    // stall takes even half of it. (Relative, since a busy machine delays every timer.)
    expect({ lag, elapsed, stalled: lag > elapsed / 2 }).toMatchObject({ stalled: false });
    // A fresh worker takes the next call.
    expect(await runner.validate([{ path: 'ok.yaml', content: GOOD }])).toEqual({ errors: [], ambassadors: ['shop/orders'] });
  });

  it('runs one call at a time, queues a few and refuses the rest', async () => {
    runner = new DryRunner({ timeoutMs: 30_000, maxQueued: 1 });
    const first = runner.validate([{ path: 'ok.yaml', content: GOOD }]);
    const second = runner.render([{ path: 'ok.yaml', content: GOOD }], { namespace: 'shop', ambassador: 'orders' });
    await expect(runner.validate([{ path: 'ok.yaml', content: GOOD }])).rejects.toThrow('1 dry runs are already waiting; try again shortly');
    expect((await first).errors).toEqual([]);
    const rendered = await second;
    expect(rendered.ok && rendered.rendered.resources.map((r) => r.name)).toEqual(['shop/orders/backend', 'shop/orders/backend', 'shop/orders/api', 'shop/orders/api']);
  });
});
