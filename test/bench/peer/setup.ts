// What both servers of a peer benchmark serve: a folder of manifests (every group in state A) for
// this project, and the dump of the same groups' resources for go-control-plane.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ambassadorConfig, changedVersions, dumpState, manifest, NAMESPACE, snapshotOf, writeDump, type DumpedState } from './resources.ts';

export interface Setup {
  /** Groups ("bench/NAME"), the changing one first. */
  groups: string[];
  /** The group whose config changes, and the versions its Envoys must ACK after a change to each state. */
  changing: string;
  expect: Record<'A' | 'B', Record<string, string>>;
  /** The manifest of a group in a state. */
  manifestOf(group: string, state: string): string;
  dir: string;
  dump: string;
}

export interface AmbassadorSpec {
  name: string;
  /** Its number of upstreams (default 49: 100 resources). */
  upstreams?: number;
}

/** The first ambassador is the one that changes (states A and B); the others stay in A. */
export async function setup(work: string, name: string, ambassadors: readonly AmbassadorSpec[]): Promise<Setup> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  const states: DumpedState[] = [];
  const sizes = new Map(ambassadors.map((a) => [a.name, a.upstreams]));
  const config = (amb: string, state: 'A' | 'B') => ambassadorConfig(amb, state, sizes.get(amb));
  const changing = ambassadors[0]?.name ?? '';
  const expect = { A: {}, B: {} } as Setup['expect'];
  for (const { name: amb } of ambassadors) {
    const a = await snapshotOf(amb, config(amb, 'A'));
    states.push(dumpState(`${NAMESPACE}/${amb}`, 'A', a));
    await writeFile(join(dir, `${amb}.yaml`), manifest(amb, config(amb, 'A')));
    if (amb !== changing) continue;
    const b = await snapshotOf(amb, config(amb, 'B'));
    states.push(dumpState(`${NAMESPACE}/${amb}`, 'B', b));
    expect.B = changedVersions(a, b);
    expect.A = changedVersions(b, a);
  }
  const dump = join(work, `${name}.json`);
  await writeDump(dump, states);
  return {
    groups: ambassadors.map((a) => `${NAMESPACE}/${a.name}`),
    changing: `${NAMESPACE}/${changing}`,
    expect,
    manifestOf: (group, state) => {
      const amb = group.slice(group.indexOf('/') + 1);
      return manifest(amb, config(amb, state as 'A' | 'B'));
    },
    dir,
    dump,
  };
}
