/**
 * The engine alone, with many people in memory: CPU time and garbage collection per signal.
 * `engine.apply` for 50k people with desk phones, fed the PBX event cycle of bench/ingest.ts in 100-event
 * batches, in process (no HTTP, no SSE). CPU time per signal and GC counts depend far less on other
 * processes than wall-clock figures do, so this is the figure to compare two trees on a busy machine.
 *
 *   npx tsx bench/engine-gc.ts
 */
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';
import { CYCLE_LENGTH, engineCycle, seedPeople, startBenchHub } from './lib/hub.js';
import { Interference, fmt, header, pct, table } from './lib/report.js';

const PEOPLE = 50_000;
const BATCH = 100;
const MEASURED_BATCHES = 3000;

await header('Engine alone: CPU and GC per signal, 50k people in memory');
const h = await startBenchHub();
await seedPeople(h, PEOPLE, { desk: true });
const batch = engineCycle(h, PEOPLE, BATCH);

// Warm-up: every person has a state (a full round of the event cycle).
let k = 0;
for (; k < (PEOPLE / BATCH) * CYCLE_LENGTH; k++) await batch(k);

const pauses: Array<{ major: boolean; ms: number }> = [];
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) pauses.push({ major: (e as unknown as { detail: { kind: number } }).detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR, ms: e.duration });
});
obs.observe({ entryTypes: ['gc'] });
const probe = new Interference();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const k0 = k;
while (k - k0 < MEASURED_BATCHES) await batch(k++);
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const others = probe.share(0);
await new Promise((r) => setTimeout(r, 50));
obs.disconnect();

const n = MEASURED_BATCHES * BATCH;
const cpuS = (cpu.user + cpu.system) / 1e6;
const majors = pauses.filter((p) => p.major);
table(
  ['signals', 'CPU µs/signal', 'signals per CPU-s', 'signals/s (wall)', 'GC pauses (major)', 'GC ms per 100k signals', 'longest major ms', 'heap in use MB', 'others'],
  [[n, (cpuS * 1e6) / n, n / cpuS, (n / wall) * 1000, `${pauses.length} (${majors.length})`, (pauses.reduce((a, p) => a + p.ms, 0) / n) * 1e5, Math.max(0, ...majors.map((p) => p.ms)), process.memoryUsage().heapUsed / 2 ** 20, pct(others)]],
);
console.log(`GC pause times are wall-clock: on a busy machine they include time the process waited for a core (${fmt(wall)} ms window).`);
await h.stop();
