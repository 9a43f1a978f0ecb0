/**
 * The engine alone, with many people in memory: CPU time and garbage collection per signal.
 * `engine.apply` for 50k people with desk phones, fed the PBX event cycle of bench/ingest.ts in 100-event
 * batches, in process (no HTTP, no SSE). CPU time per signal and GC counts depend far less on other
 * processes than wall-clock figures do, so this is the figure to compare two trees on a busy machine.
 *
 *   npx tsx bench/engine-gc.ts
 */
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';
import { pbxEventChanges } from '../services/connectors/pbx/map.js';
import type { PbxEvent } from '../services/connectors/pbx/schema.js';
import { TENANT, deskId, personId, seedPeople, startBenchHub } from './lib/hub.js';
import { Interference, fmt, header, pct, table } from './lib/report.js';

const PEOPLE = 50_000;
const BATCH = 100;
const MEASURED_BATCHES = 3000;

await header('Engine alone: CPU and GC per signal, 50k people in memory');
const h = await startBenchHub();
await seedPeople(h, PEOPLE, { desk: true });
const { engine } = h.running.hub;
const types = ['ringing', 'answered', 'hangup', 'registered'] as const;
const groups = PEOPLE / BATCH;
let lastAt = 0;

async function batch(k: number): Promise<void> {
  const type = types[Math.floor(k / groups) % types.length]!;
  const at = (lastAt = Math.max(Date.now(), lastAt + 1));
  const work: Array<Promise<unknown>> = [];
  for (let j = 0; j < BATCH; j++) {
    const i = (k % groups) * BATCH + j;
    const e: PbxEvent = type === 'registered' ? { type, device: deskId(i), at, expiresSec: 3600, contact: `sip:d${i}@10.1.0.1;b=${k}` } : { type, device: deskId(i), at };
    work.push(engine.apply(TENANT, personId(i), pbxEventChanges(e, { id: deskId(i), kind: 'desk', contact: e.contact ?? `sip:d${i}@192.0.2.10` }, at, 0)));
  }
  await Promise.all(work);
}

// Warm-up: every person has a state (a full round of the event cycle).
let k = 0;
for (; k < groups * types.length; k++) await batch(k);

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
