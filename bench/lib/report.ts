import { appendFileSync } from 'node:fs';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';

/** One line of the final summary: a figure, its unit, and the target it is held against (if any). */
export interface SummaryRow {
  benchmark: string;
  metric: string;
  value: number;
  unit: string;
  /** e.g. ">= 0.5" or "<= 2048"; empty when the figure is informative only. */
  target?: string;
  met?: boolean;
}

export function machine(): string {
  const c = cpus();
  const model = c[0]?.model.trim() ?? 'unknown CPU';
  return `${model}, ${c.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version} (${process.platform}-${process.arch})`;
}

function cpuTicks(): { busy: number; total: number } | undefined {
  if (!existsSync('/proc/stat')) return undefined;
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** CPU ticks (USER_HZ) used by this process and the children it has waited for. */
function ownTicks(): number | undefined {
  if (!existsSync('/proc/self/stat')) return undefined;
  const text = readFileSync('/proc/self/stat', 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
  // Fields 14–17 of proc(5): utime, stime, cutime, cstime; f[0] is field 3.
  return f[11]! + f[12]! + f[13]! + f[14]!;
}

/**
 * Measures how much of the machine other processes used while a benchmark ran (Linux): all busy CPU
 * ticks minus this process's own (and its finished children's), minus `extraMs` of CPU the caller knows
 * its live helpers used (a load generator). A share of the whole machine, 0–1.
 */
export class Interference {
  private readonly a = cpuTicks();
  private readonly own = ownTicks();

  share(extraMs = 0): number | undefined {
    const b = cpuTicks();
    const own = ownTicks();
    if (!this.a || !b || this.own === undefined || own === undefined || b.total === this.a.total) return undefined;
    const hz = 100;
    const others = b.busy - this.a.busy - (own - this.own) - (extraMs / 1000) * hz;
    return Math.max(0, others / (b.total - this.a.total));
  }
}

export function pct(x: number | undefined): string {
  return x === undefined ? '-' : `${(x * 100).toFixed(0)} %`;
}

/** Share of all cores busy over `ms` (Linux; undefined elsewhere), to tell whether others share the machine. */
export async function machineBusy(ms = 1000): Promise<number | undefined> {
  const a = cpuTicks();
  await sleep(ms);
  const b = cpuTicks();
  if (!a || !b || b.total === a.total) return undefined;
  return (b.busy - a.busy) / (b.total - a.total);
}

/** Prints how busy the machine is before a benchmark starts; figures are only good on a quiet machine. */
export async function quietCheck(): Promise<void> {
  const busy = await machineBusy(1000);
  const load = loadavg()[0]!.toFixed(2);
  if (busy === undefined) return void console.log(`load average ${load}`);
  const note = busy > 0.1 ? `  WARNING: other processes are using the CPU; figures will be low and noisy` : '';
  console.log(`machine before start: ${(busy * 100).toFixed(0)} % of all cores busy, load average ${load}${note}`);
}

/** Prints the machine line (unless the runner already did) and how busy the machine is. */
export async function header(title: string): Promise<void> {
  if (!process.env.BENCH_NESTED) console.log(`machine: ${machine()}`);
  console.log(`\n== ${title} ==`);
  await quietCheck();
}

/** Sends summary rows to the runner (a JSON-lines file named by BENCH_RESULTS), if there is one. */
export function record(rows: SummaryRow[]): void {
  const file = process.env.BENCH_RESULTS;
  if (!file) return;
  for (const r of rows) appendFileSync(file, `${JSON.stringify(r)}\n`);
}

export function table(head: string[], rows: Array<Array<string | number>>): void {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${width.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const r of cells) console.log(line(r));
}

/** Thousands separators for big numbers, three significant digits for small ones. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** Nearest-rank quantile of an unsorted sample. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** Quantiles of a large sample held in a typed array (sorted in place). */
export function quantiles(xs: Float64Array, qs: readonly number[]): number[] {
  xs.sort();
  return qs.map((q) => (xs.length === 0 ? NaN : xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1))]!));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Event-loop delay (p99, max) and the longest GC pause while it runs: what stalls a latency tail. */
export function stallProbe(): { stop(): { loopP99: number; loopMax: number; gcMax: number } } {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  let gcMax = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMax = Math.max(gcMax, e.duration);
  });
  loop.enable();
  gc.observe({ entryTypes: ['gc'] });
  return {
    stop() {
      loop.disable();
      gc.disconnect();
      return { loopP99: loop.percentile(99) / 1e6, loopMax: loop.max / 1e6, gcMax };
    },
  };
}
