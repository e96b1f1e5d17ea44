// Start-up (Envoy's API, the schemas, the first build) leaves V8's young generation at the size that
// burst needed, some 25 MB that V8 keeps while the process idles. One full GC that also shrinks it
// (the "last resort" kind) gives that memory back. `gc` is reached the documented way for a flag set
// at run time: the flag applies to contexts made afterwards.
import v8 from 'node:v8';
import vm from 'node:vm';

type Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

export function compactHeap(): void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as Gc;
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
