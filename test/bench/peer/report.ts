// Rows of the peer benchmark: repeated samples of both servers, printed as min / median / max and
// the ratio of the medians, ours ÷ go-control-plane.
import os from 'node:os';
import { execFileSync } from 'node:child_process';

export interface Row {
  what: string;
  unit: string;
  ours: number[];
  theirs: number[];
  /** Whether a larger value is better (cycles per second); the ratio is printed either way. */
  higherIsBetter?: boolean;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** The p-th percentile (nearest rank) of a list of samples. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

const fmt = (x: number): string => (Number.isNaN(x) ? '–' : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));

function spread(xs: readonly number[], unit: string): string {
  if (xs.length === 0) return '–';
  const s = [...xs].sort((a, b) => a - b);
  return `${fmt(median(s))} ${unit} (${fmt(s[0] as number)}–${fmt(s.at(-1) as number)})`;
}

export function ratio(r: Row): string {
  const ours = median(r.ours);
  const theirs = median(r.theirs);
  if (r.theirs.length === 0 || r.ours.length === 0) return '–';
  if (theirs === 0) return ours === 0 ? '1.00×' : '∞';
  return `${(ours / theirs).toFixed(2)}×`;
}

/** A Markdown table: median (min–max) per server, and the ratio of the medians. */
export function table(rows: readonly Row[]): string {
  const lines = ['| | xds-ambassador | go-control-plane | ours ÷ theirs |', '|---|---|---|---|'];
  for (const r of rows) {
    lines.push(`| ${r.what}${r.higherIsBetter ? ' (higher is better)' : ''} | ${spread(r.ours, r.unit)} | ${spread(r.theirs, r.unit)} | ${ratio(r)} |`);
  }
  return lines.join('\n');
}

/** One line per finished row, as the run goes. */
export function progress(r: Row): void {
  process.stdout.write(`  ${r.what}: ours ${spread(r.ours, r.unit)}, go-control-plane ${spread(r.theirs, r.unit)} → ${ratio(r)}\n`);
}

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  let go = '';
  try {
    go = execFileSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' }).trim();
  } catch {
    go = 'go ?';
  }
  return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, Node ${process.version}, ${go}`;
}
