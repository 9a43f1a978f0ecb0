import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import { DEFAULT_POLICY, type Policy } from '../../shared/domain/policy.js';
import type { Claim, Signal, Source } from '../../shared/domain/signal.js';
import type { WeeklyHours } from '../../shared/domain/working-hours.js';
import { silentLogger } from '../../shared/log/logger.js';
import { explain, merge, mergeUnexplained } from '../../shared/merge/merge.js';
import { EmbeddedStore } from '../../shared/store/embedded/embedded-store.js';
import { PresenceEngine } from '../../services/merger/engine.js';
import { Metrics } from '../../services/observability/metrics.js';
import { NINE_TO_FIVE } from '../support/signals.js';

/*
 * The merge's and the engine's outputs over a fixed set of pseudo-random cases, recorded as digests of their
 * JSON (so key order, and keys present with nothing in them, count): work that is meant to change no
 * behaviour (allocation, speed) must leave every digest as it is. A case that changed is named in the
 * snapshot diff; print it with `caseOf(n)` / `runOf(n)` to see what changed. Only when a behaviour change is
 * intended: `npx vitest run -u test/merge/recorded-outputs.test.ts`, and say so in the commit.
 */

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** mulberry32: the cases must not depend on a library's generator, which may change between versions. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rnd = () => number;
const pick = <T>(r: Rnd, list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
const int = (r: Rnd, min: number, max: number) => min + Math.floor(r() * (max - min + 1));
const maybe = <T>(r: Rnd, f: () => T): T | undefined => (r() < 0.5 ? f() : undefined);

const SPLIT_SHIFT: WeeklyHours = { mon: [['08:00', '12:00'], ['13:00', '17:30']], tue: [['08:00', '12:00'], ['13:00', '17:30']], sat: [['22:00', '24:00']], sun: [['00:00', '02:00']] };

/** Around the 2026 daylight-saving changes in Europe and the US, and a working day's edges. */
const ANCHORS = ['2026-03-08T06:30:00Z', '2026-03-29T00:30:00Z', '2026-10-25T00:30:00Z', '2026-11-01T05:30:00Z', '2026-03-02T16:59:00Z', '2026-03-06T22:00:00Z'].map(Date.parse);

const POLICIES: Policy[] = [
  DEFAULT_POLICY,
  // A short look-ahead: facts beyond it wake the engine when they come into view.
  { ...DEFAULT_POLICY, lookaheadMs: 2 * HOUR },
  {
    ...DEFAULT_POLICY,
    lookaheadMs: 30 * MIN,
    stale: [...DEFAULT_POLICY.stale, { claim: 'endpoint', afterMs: 20 * MIN }, { claim: 'status', source: 'manual', afterMs: 3 * HOUR }, { claim: 'calendar', afterMs: 5 * HOUR }],
  },
  { ...DEFAULT_POLICY, rules: [...DEFAULT_POLICY.rules].reverse(), activities: { ...DEFAULT_POLICY.activities, 'x-custom': 'available' } },
];

function claimOf(r: Rnd): Claim {
  switch (int(r, 0, 8)) {
    case 0:
      return { kind: 'dnd' };
    case 1:
      return { kind: 'call', state: pick(r, ['ringing', 'on-call', 'on-hold'] as const) };
    case 2:
      return { kind: 'status', activity: pick(r, ['available', 'away', 'break', 'busy', 'lunch', 'dnd', 'x-custom', 'unknown']) };
    case 3:
      return { kind: 'calendar', activity: pick(r, ['in-meeting', 'presenting', 'focus', 'out-of-office', 'unknown'] as const) };
    case 4:
      return { kind: 'wrap-up' };
    case 5:
      return { kind: 'working-hours', zone: pick(r, ['UTC', 'Europe/Berlin', 'America/New_York']), week: pick(r, [NINE_TO_FIVE, SPLIT_SHIFT]) };
    case 8:
      return { kind: 'cleared' };
    default: {
      const kind = pick(r, ['desk', 'softphone', 'mobile'] as const);
      // Now and then two kinds claim one id: the last claim for an id wins.
      const id = r() < 0.3 ? `ep-${int(r, 1, 2)}` : `${kind}-${int(r, 1, 3)}`;
      const contact = maybe(r, () => pick(r, ['sip:a@example.test', 'sip:b@example.test', '+4930123']));
      return { kind: 'endpoint', endpoint: contact === undefined ? { id, kind } : { id, kind, contact }, reachable: r() < 0.7 };
    }
  }
}

function signalOf(r: Rnd, id: string, t0: number, spread: number): Signal {
  const s: Signal = { id, source: pick(r, ['manual', 'pbx', 'mobile', 'teams', 'outlook', 'google', 'directory'] as Source[]), claim: claimOf(r), observedAt: t0 - int(r, 0, spread) };
  const from = maybe(r, () => t0 + int(r, -spread, spread));
  const until = maybe(r, () => t0 + int(r, -spread, spread));
  if (from !== undefined) s.from = from;
  if (until !== undefined) s.until = until;
  if (r() < 0.2) s.note = pick(r, ['dentist', 'back at 3']);
  return s;
}

/** One merge case: signals, policy and instant. */
function caseOf(n: number): { signals: Signal[]; policy: Policy; now: number } {
  const r = random(n + 1);
  const t0 = pick(r, ANCHORS) + int(r, -3 * DAY, 3 * DAY);
  const policy = pick(r, POLICIES);
  const signals: Signal[] = [];
  const count = int(r, 0, 12);
  for (let i = 0; i < count; i++) signals.push(signalOf(r, `s${int(r, 0, 14)}`, t0, pick(r, [10 * MIN, 6 * HOUR, 8 * DAY])));
  // A later signal with the same id replaces the earlier, as the store keeps them.
  const byId = new Map(signals.map((s) => [s.id, s]));
  return { signals: [...byId.values()], policy, now: t0 };
}

/** One engine run: batches of signals applied at moving instants, timers fired on the way, directory edits. */
function runOf(n: number): { policy: Policy; start: number; steps: Array<{ afterMs: number; signals: Signal[]; directoryEdit: boolean }> } {
  const r = random(100_000 + n);
  const start = pick(r, ANCHORS) + int(r, -DAY, DAY);
  const steps = [];
  for (let i = int(r, 1, 10); i > 0; i--) {
    const afterMs = pick(r, [0, int(r, 1, 5 * MIN), int(r, 5 * MIN, 3 * HOUR), int(r, 3 * HOUR, DAY)]);
    const signals = Array.from({ length: int(r, 0, 3) }, () => signalOf(r, `s${int(r, 0, 6)}`, 0, pick(r, [5 * MIN, 2 * HOUR, 2 * DAY])));
    steps.push({ afterMs, signals, directoryEdit: r() < 0.15 });
  }
  return { policy: pick(r, POLICIES), start, steps };
}

const digest = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);

describe('recorded outputs (work meant to change no behaviour leaves them all as they are)', () => {
  it('merge, merge without explanation, explanation', () => {
    const out: Record<string, string> = {};
    for (let n = 0; n < 300; n++) {
      const { signals, policy, now } = caseOf(n);
      out[`case ${n}`] = digest([merge(signals, policy, now), mergeUnexplained(signals, policy, now), explain(signals, policy, now)]);
    }
    expect(out).toMatchSnapshot();
  });

  it('the states the engine stores and publishes', async () => {
    const out: Record<string, string> = {};
    for (let n = 0; n < 30; n++) {
      const { policy, start, steps } = runOf(n);
      const clock = new ManualClock(start);
      const store = new EmbeddedStore(':memory:');
      const engine = new PresenceEngine({ store, clock, metrics: new Metrics(false), log: silentLogger, policyFor: () => policy });
      const seen: unknown[] = [];
      const sub = await store.feed.subscribe('t', (e) => seen.push([e.cause, e.presence, e.presence && Object.keys(e.presence)]));
      for (const step of steps) {
        await clock.advance(step.afterMs);
        const now = clock.now();
        const signals = step.signals.map((s) => {
          // Instants relative to the step's.
          const at: Signal = { ...s, observedAt: now + s.observedAt };
          if (s.from !== undefined) at.from = now + s.from;
          if (s.until !== undefined) at.until = now + s.until;
          return at;
        });
        await engine.apply('t', 'p', signals.map((signal) => ({ op: 'put' as const, signal })));
        if (step.directoryEdit) await engine.directoryChanged('t', 'p');
        seen.push((await engine.read('t', 'p')).presence);
      }
      sub.close();
      engine.stop();
      await store.close();
      out[`run ${n}`] = digest(seen);
    }
    expect(out).toMatchSnapshot();
  });
});
