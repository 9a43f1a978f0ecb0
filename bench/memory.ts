/**
 * Heap and RSS per tracked person at 10k and 100k people, each with three live signals (desk phone
 * registration, mobile heartbeat, a meeting later today) and a pending transition (the heartbeat's TTL),
 * built through `hub.engine.apply`. Each size runs in a fresh `node --expose-gc` process; figures are
 * `process.memoryUsage()` after forced GCs, minus the same process's baseline before the people were added.
 *
 *   npx tsx bench/memory.ts [people ...]
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { header, record, table, type SummaryRow } from './lib/report.js';

const SIZES = process.argv.slice(2).map(Number).filter((n) => n > 0);
if (SIZES.length === 0) SIZES.push(10_000, 100_000);
const TARGET_HEAP_BYTES = 2048;

interface Usage {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}
interface ChildResult {
  people: number;
  base: Usage;
  state: Usage;
  withDir: Usage;
  applyMs: number;
  dirMs: number;
  pending: number;
  heapEntries: number;
  breakdown: { timeline: number; feedHistory: number; presence: number; signalsAndMapEntry: number };
  sample: { signals: number; explanation: number; json: number; activity: string; next?: string };
}

await header('3. Memory per tracked person (3 live signals + a pending transition, built through engine.apply)');
const child = fileURLToPath(new URL('./memory-child.ts', import.meta.url));
const repo = fileURLToPath(new URL('..', import.meta.url));
const results: ChildResult[] = [];
for (const n of SIZES) {
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', child, String(n)], { cwd: repo, encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = out.trim().split('\n').pop()!;
  results.push(JSON.parse(line) as ChildResult);
}

const s = results[0]!.sample;
console.log(
  `each person: ${s.signals} signals; stored presence ${s.activity}${s.next ? ` (next: ${s.next})` : ''} with ${s.explanation} explanation entries (${s.json} bytes as JSON)\n`,
);
const per = (a: number, b: number, n: number) => (a - b) / n;
table(
  ['people', 'heap/person B', 'RSS/person B', 'heap/person incl. directory B', 'RSS/person incl. directory B', 'total heap MB', 'pending transitions', 'timeline heap entries', 'apply µs/person'],
  results.map((r) => [
    r.people,
    per(r.state.heapUsed, r.base.heapUsed, r.people),
    per(r.state.rss, r.base.rss, r.people),
    per(r.withDir.heapUsed, r.base.heapUsed, r.people),
    per(r.withDir.rss, r.base.rss, r.people),
    r.withDir.heapUsed / 2 ** 20,
    r.pending,
    r.heapEntries,
    (r.applyMs * 1000) / r.people,
  ]),
);
console.log('\nwhere the engine-state heap goes (bytes per person; diagnostic, by removing each part and re-measuring):');
table(
  ['people', '3 signals + state map entry', 'presence (explanation worked out on reading)', 'timeline entry', 'feed history share'],
  results.map((r) => [r.people, r.breakdown.signalsAndMapEntry, r.breakdown.presence, r.breakdown.timeline, r.breakdown.feedHistory]),
);
console.log('(the feed history is the last FEED_BUFFER_EVENTS = 10,000 changes kept for Last-Event-ID resume: a fixed cost, so it weighs more per person at 10k)');
const rows: SummaryRow[] = [];
for (const r of results) {
  const heap = per(r.state.heapUsed, r.base.heapUsed, r.people);
  console.log(`${r.people} people: ${heap.toFixed(0)} B heap per person (target <= ${TARGET_HEAP_BYTES}: ${heap <= TARGET_HEAP_BYTES ? 'met' : 'MISSED'})`);
  rows.push(
    { benchmark: 'memory', metric: `heap per person at ${r.people} (engine state)`, value: heap, unit: 'B', target: `<= ${TARGET_HEAP_BYTES}`, met: heap <= TARGET_HEAP_BYTES },
    { benchmark: 'memory', metric: `RSS per person at ${r.people} (engine state)`, value: per(r.state.rss, r.base.rss, r.people), unit: 'B' },
    { benchmark: 'memory', metric: `heap per person at ${r.people} incl. directory records`, value: per(r.withDir.heapUsed, r.base.heapUsed, r.people), unit: 'B' },
  );
}
record(rows);
