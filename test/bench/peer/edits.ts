// A series of edits of one group's config, each timed by the load generator (the group's Envoys
// must ACK the new versions) and costed in the server's CPU time.
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuMs, type LoadGenerator, type ServerUnderTest } from './harness.ts';

export interface EditSamples {
  /** Change made → the first Envoy received it (ms). */
  first: number[];
  /** Change made → the last of the group's Envoys ACKed it (ms). */
  converged: number[];
  /** The server's CPU time from the change to the last ACK (ms). */
  cpu: number[];
}

/** `repeat` changes of `group`, back and forth between states A and B (it starts in A). */
export async function editSeries(server: ServerUnderTest, lg: LoadGenerator, group: string, expect: Record<'A' | 'B', Record<string, string>>, repeat: number): Promise<EditSamples> {
  const out: EditSamples = { first: [], converged: [], cpu: [] };
  for (let i = 0; i < repeat; i++) {
    await sleep(300);
    const to = i % 2 === 0 ? 'B' : 'A';
    const cpu0 = await cpuMs(server.proc.pid);
    const r = await lg.measure(group, expect[to], () => server.change(group, to));
    out.cpu.push((await cpuMs(server.proc.pid)) - cpu0);
    if (r.others > 0) throw new Error(`${server.name}: ${r.others} responses went to Envoys of other groups`);
    out.first.push(r.firstMs);
    out.converged.push(r.ms.at(-1) ?? NaN);
  }
  // Back to A, so that the next series starts where this one did.
  if (repeat % 2 === 1) await lg.measure(group, expect.A, () => server.change(group, 'A'));
  return out;
}
