// A group's change reaches its many streams a batch per turn of the event loop, so the first
// responses are written while the rest are still being made; every stream is told, none that left.
import { describe, expect, it } from 'vitest';
import { SnapshotCache } from '../../control-plane/src/cache/snapshot-cache.ts';
import { EMPTY_SNAPSHOT } from '../../control-plane/src/cache/snapshot.ts';

const STREAMS = 200;
const turns = async (n: number) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };

function subscribers(cache: SnapshotCache, log: string[]) {
  const calls = new Array<number>(STREAMS).fill(0);
  const subs = calls.map((_, i) => cache.subscribe('shop/orders', `envoy-${i}`, () => {
    calls[i]! += 1;
    log.push(`stream ${i}`);
  }));
  return { calls, subs };
}

describe('telling a group\'s streams of a change', () => {
  it('tells every stream once, letting the event loop run between batches', async () => {
    const cache = new SnapshotCache();
    const log: string[] = [];
    const { calls } = subscribers(cache, log);
    cache.set('shop/orders', EMPTY_SNAPSHOT);
    setImmediate(() => log.push('other work'));
    await turns(STREAMS);
    expect(calls.every((c) => c === 1)).toBe(true);
    const other = log.indexOf('other work');
    expect(other).toBeGreaterThan(0); // after the first batch…
    expect(other).toBeLessThan(log.length - 1); // …before the last stream
  });

  it('does not tell a stream that closed before its batch', async () => {
    const cache = new SnapshotCache();
    const log: string[] = [];
    const { calls, subs } = subscribers(cache, log);
    cache.set('shop/orders', EMPTY_SNAPSHOT);
    await Promise.resolve(); // the first batch has run
    expect(calls[0]).toBe(1);
    subs[STREAMS - 1]!.close();
    await turns(STREAMS);
    expect(calls[STREAMS - 1]).toBe(0);
    expect(calls.slice(0, -1).every((c) => c === 1)).toBe(true);
  });

  it('a newer change starts over: every stream is told once more, after it', async () => {
    const cache = new SnapshotCache();
    const log: string[] = [];
    const { calls } = subscribers(cache, log);
    cache.set('shop/orders', EMPTY_SNAPSHOT);
    await Promise.resolve();
    const before = [...calls];
    cache.remove('shop/orders');
    await turns(STREAMS);
    expect(calls.every((c, i) => c === before[i]! + 1)).toBe(true);
  });
});
