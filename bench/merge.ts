/**
 * Pure merge throughput: `merge(signals, DEFAULT_POLICY, now)` for a minimal and some realistic people.
 * Each case is warmed up, then timed in several runs; the median run is reported.
 *
 *   npx tsx bench/merge.ts
 */
import { DEFAULT_POLICY } from '../shared/domain/policy.js';
import type { Signal } from '../shared/domain/signal.js';
import { merge } from '../shared/merge/merge.js';
import { HOUR, MIN, deskRegistration, manualStatus, meeting, mobileHeartbeat, onCall, workingHours } from './lib/people.js';
import { header, median, record, table } from './lib/report.js';

const WARMUP_MS = 1000;
const RUNS = 7;
const RUN_MS = 300;

/** Monday 2026-11-23, 10:30 in Berlin: inside office hours. */
const NOW = Date.parse('2026-11-23T09:30:00Z');
/** Sunday 2026-11-22, 20:00 in Berlin: outside office hours. */
const SUNDAY_EVENING = Date.parse('2026-11-22T19:00:00Z');

interface Case {
  name: string;
  signals: Signal[];
  now: number;
}

function realisticOnCall(now: number, withHours = true): Signal[] {
  const s = [
    deskRegistration('alice-desk', now - 2 * HOUR),
    mobileHeartbeat('alice-phone', now - 30_000, now + 15 * MIN - 30_000),
    onCall('alice-desk', now - 3 * MIN),
    meeting('m1', now - 24 * HOUR, now + 30 * MIN, now + 60 * MIN),
    meeting('m2', now - 24 * HOUR, now + 4 * HOUR, now + 5 * HOUR),
  ];
  if (withHours) s.push(workingHours());
  return s;
}

function realisticManual(now: number): Signal[] {
  return [
    deskRegistration('alice-desk', now - 2 * HOUR),
    mobileHeartbeat('alice-phone', now - 30_000, now + 15 * MIN - 30_000),
    manualStatus('away', now - 5 * MIN, now + 25 * MIN),
    meeting('m1', now - 24 * HOUR, now + 2 * HOUR, now + 3 * HOUR),
    workingHours(),
  ];
}

const CASES: Case[] = [
  { name: 'minimal (desk registration only)', signals: [deskRegistration('bob-desk', NOW - HOUR)], now: NOW },
  { name: 'realistic: desk, mobile, on a call, 2 meetings, hours (Mon 10:30 Berlin)', signals: realisticOnCall(NOW), now: NOW },
  { name: 'realistic: desk, mobile, manual away, 1 meeting, hours (Mon 10:30)', signals: realisticManual(NOW), now: NOW },
  { name: 'realistic, off hours (Sun 20:00 Berlin)', signals: realisticOnCall(SUNDAY_EVENING).filter((s) => s.claim.kind !== 'call'), now: SUNDAY_EVENING },
  { name: 'diagnostic: realistic on a call, without working hours', signals: realisticOnCall(NOW, false), now: NOW },
];

let sink = 0;

/** Merges per second over about `ms` milliseconds. */
function timed(c: Case, ms: number): number {
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < 50; i++) {
      // Vary `now` by a millisecond so nothing can be cached across calls.
      const d = merge(c.signals, DEFAULT_POLICY, c.now + (n & 1023));
      sink += d.explanation.length;
      n++;
    }
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (n / elapsed) * 1000;
}

await header('1. Pure merge: merge(signals, DEFAULT_POLICY, now)');
console.log(`warm-up ${WARMUP_MS} ms, then median of ${RUNS} runs of ${RUN_MS} ms per case\n`);

const rows: Array<Array<string | number>> = [];
const results: Array<{ name: string; signals: number; merges: number }> = [];
for (const c of CASES) {
  const d = merge(c.signals, DEFAULT_POLICY, c.now);
  timed(c, WARMUP_MS);
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(timed(c, RUN_MS));
  const m = median(runs);
  results.push({ name: c.name, signals: c.signals.length, merges: m });
  rows.push([c.name, c.signals.length, `${d.activity}${d.next ? ` -> ${d.next.activity}` : ''}`, m, m * c.signals.length, 1e6 / m, `${((Math.max(...runs) - Math.min(...runs)) / m * 100).toFixed(0)} %`]);
}
table(['case', 'signals', 'decides', 'merges/s', 'signals/s', 'us/merge', 'spread'], rows);
if (sink === 42) console.log('');

record(
  results.slice(0, 4).flatMap((r) => [
    { benchmark: 'merge', metric: `${r.name}: merges/s`, value: r.merges, unit: '/s' },
    { benchmark: 'merge', metric: `${r.name}: signals/s`, value: r.merges * r.signals, unit: '/s' },
  ]),
);
