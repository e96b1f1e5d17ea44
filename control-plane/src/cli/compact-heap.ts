// V8 grows its young generation for a burst of allocation (start-up: Envoy's API, the schemas, the
// first build; a thousand Envoys connecting at once) to 25-130 MB, and keeps it at that size while
// the process idles. A full GC of the "last resort" kind also shrinks it. It runs once after
// start-up, and again whenever the process has been idle for a while with a young generation grown
// past YOUNG_LIMIT: a pause of some milliseconds while nothing else happens. `gc` is reached the
// documented way for a flag set at run time: the flag applies to contexts made afterwards.
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

type Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

const CHECK_EVERY_MS = 2_000;
/** The event loop was busy less than this share of the last interval. */
const IDLE_UTILIZATION = 0.02;
const YOUNG_LIMIT = 16 * 2 ** 20;

let gc: Gc | undefined;

export function compactHeap(): void {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as Gc;
  }
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

/** Compacts now, then whenever idle with a grown young generation; returns the stop function. */
export function compactWhenIdle(): () => void {
  compactHeap();
  let last = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    if (busy > IDLE_UTILIZATION) return;
    const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.physical_space_size ?? 0;
    if (young > YOUNG_LIMIT) compactHeap();
  }, CHECK_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
