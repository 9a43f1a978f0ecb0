/**
 * Bytes allocated and promoted per signal on the hot path, under the load of `bench/scheduler.ts` scenario 3:
 * PBX batches of 100 through the real HTTP route at 300 batches/s (30 k signals/s) from the load generator
 * process, with one SSE client (a PBX key), 1,000 desk-phone people, plus 50,000 people with a state in memory
 * as the scheduler scenarios hold. Allocation per signal hardly depends on other processes (timing figures
 * do), so this is the figure to compare two trees on a busy machine.
 *
 * Heap figures come from `v8.GCProfiler` (heap in use before and after every GC): allocated = what the heap
 * grew by between GCs; promoted = what old space grew by across each scavenge.
 *
 *   npx tsx bench/alloc.ts [seconds=15] [batches per second=300] [--profile alloc.heapprofile]
 *
 * `--profile <file>` also samples every allocation in the window (collected ones included) into a heap profile
 * (open it in Chrome DevTools, Memory tab): who allocates.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { GCProfiler } from 'node:v8';
import type { SignalChange } from '../services/merger/apply-changes.js';
import { LoadGen } from './lib/loadgen-client.js';
import { pbxKey, seedPeople, startBenchHub } from './lib/hub.js';
import { Interference, fmt, header, pct, sleep, table } from './lib/report.js';

const profileAt = process.argv.indexOf('--profile');
const profileFile = profileAt > 0 ? process.argv[profileAt + 1] : undefined;
const args = process.argv.slice(2, profileAt > 0 ? profileAt : undefined);
const seconds = Number(args[0] ?? 15);
const rate = Number(args[1] ?? 300);
const WARMUP_MS = 3000;
const OLD_SPACES = new Set(['old_space', 'code_space', 'large_object_space', 'trusted_space', 'trusted_large_object_space']);

interface HeapAt {
  usedHeapSize: number;
}
interface SpaceAt {
  spaceName: string;
  spaceUsedSize: number;
}
interface GcEntry {
  gcType: string;
  cost: number;
  beforeGC: { heapStatistics: HeapAt; heapSpaceStatistics: SpaceAt[] };
  afterGC: { heapStatistics: HeapAt; heapSpaceStatistics: SpaceAt[] };
}

const oldUsed = (spaces: SpaceAt[]) => spaces.reduce((a, s) => a + (OLD_SPACES.has(s.spaceName) ? s.spaceUsedSize : 0), 0);

await header(`Allocation per signal: PBX batches at ${rate}/s through HTTP + 1 SSE client, ${seconds} s`);
const h = await startBenchHub();
const { engine } = h.running.hub;
await seedPeople(h, 1000, { desk: true });
await seedPeople(h, 50_000, { desk: true, from: 100_000 });
// Every one of the 50 k people gets a state, as the scheduler's scheduled people have.
for (let i = 100_000; i < 150_000; i++) await engine.apply('bench', `p${i}`, []);
const key = await pbxKey(h);
const url = await h.listen();

let signals = 0;
let counting = false;
const apply = engine.apply.bind(engine);
const gen = new LoadGen();
const load = gen.run({ url, ...key, streamKey: key.secret, people: 1000, batchSize: 100, connections: 16, rate, warmupMs: 0, durationMs: WARMUP_MS + seconds * 1000 + 2000, seqStart: 0 });
// The generator's process takes a while to start on a busy machine: the warm-up runs from its first batch.
let started = 0;
engine.apply = (tenantId: string, pid: string, changes: readonly SignalChange[], outcomes?: Uint8Array) => {
  started++;
  if (counting) signals += changes.length;
  return apply(tenantId, pid, changes, outcomes);
};
while (started === 0) await sleep(20);
await sleep(WARMUP_MS);
const profiler = new GCProfiler();
const heap0 = process.memoryUsage().heapUsed;
const probe = new Interference();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const session = profileFile ? new Session() : undefined;
if (session) {
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}
counting = true;
profiler.start();
await sleep(seconds * 1000);
const heap1 = process.memoryUsage().heapUsed;
const data = profiler.stop() as unknown as { statistics: GcEntry[] };
counting = false;
if (session) {
  const { profile } = await session.post('HeapProfiler.stopSampling');
  writeFileSync(profileFile!, JSON.stringify(profile));
  session.disconnect();
}
const cpu = process.cpuUsage(cpu0);
const windowMs = performance.now() - t0;
const r = await load;
const others = probe.share((r.cpuMs * windowMs) / r.elapsedMs);
gen.close();
await h.stop();

let allocated = 0;
let promoted = 0;
let prevAfter = heap0;
let scavenges = 0;
let majors = 0;
let gcMs = 0;
for (const g of data.statistics) {
  allocated += Math.max(0, g.beforeGC.heapStatistics.usedHeapSize - prevAfter);
  prevAfter = g.afterGC.heapStatistics.usedHeapSize;
  gcMs += g.cost / 1000;
  if (g.gcType === 'Scavenge' || g.gcType === 'MinorMarkSweep') {
    scavenges++;
    promoted += Math.max(0, oldUsed(g.afterGC.heapSpaceStatistics) - oldUsed(g.beforeGC.heapSpaceStatistics));
  } else if (g.gcType === 'MarkSweepCompact') majors++;
}
allocated += Math.max(0, heap1 - prevAfter);

const per100k = (x: number) => (x / signals) * 1e5;
table(
  ['signals', 'bytes allocated / signal', 'bytes promoted / signal', 'scavenges / 100k signals', 'mark-compacts / 100k signals', 'GC ms / 100k signals', 'CPU µs / signal', 'signals/s in the window', 'others'],
  [[signals, allocated / signals, promoted / signals, per100k(scavenges), per100k(majors), per100k(gcMs), (cpu.user + cpu.system) / signals, (signals / windowMs) * 1000, pct(others)]],
);
console.log(`promoted: old space growth across scavenges, ${fmt(promoted / 2 ** 20)} MB in all; GC ms and CPU are wall/CPU time and depend on the machine's load.`);
