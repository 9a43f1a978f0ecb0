import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../shared/domain/policy.js';
import type { Decision } from '../../shared/domain/presence.js';
import type { Claim, Signal } from '../../shared/domain/signal.js';
import { judge } from '../../shared/merge/freshness.js';
import { merge } from '../../shared/merge/merge.js';
import { HOUR, NINE_TO_FIVE, T0 } from '../support/signals.js';

const instant = fc.integer({ min: T0 - 6 * HOUR, max: T0 + 6 * HOUR });

const claim: fc.Arbitrary<Claim> = fc.oneof(
  fc.constant<Claim>({ kind: 'dnd' }),
  fc.constantFrom('ringing', 'on-call', 'on-hold').map((state) => ({ kind: 'call', state }) as Claim),
  fc.constantFrom('available', 'away', 'break', 'busy', 'lunch', 'dnd').map((activity) => ({ kind: 'status', activity }) as Claim),
  fc.constantFrom('in-meeting', 'presenting', 'focus', 'out-of-office').map((activity) => ({ kind: 'calendar', activity }) as Claim),
  fc.constant<Claim>({ kind: 'wrap-up' }),
  fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York').map((zone) => ({ kind: 'working-hours', zone, week: NINE_TO_FIVE }) as Claim),
  fc
    .record({ kind: fc.constantFrom('desk', 'softphone', 'mobile'), n: fc.integer({ min: 1, max: 3 }), reachable: fc.boolean() })
    .map(({ kind, n, reachable }) => ({ kind: 'endpoint', endpoint: { id: `${kind}-${n}`, kind }, reachable }) as Claim),
  fc.constant<Claim>({ kind: 'cleared' }),
);

const signal: fc.Arbitrary<Omit<Signal, 'id'>> = fc
  .record({
    source: fc.constantFrom('manual', 'pbx', 'mobile', 'teams', 'outlook', 'google', 'directory'),
    claim,
    observedAt: instant,
    from: fc.option(instant, { nil: undefined }),
    until: fc.option(instant, { nil: undefined }),
  })
  .map((s) => {
    const out: Omit<Signal, 'id'> = { source: s.source, claim: s.claim, observedAt: s.observedAt };
    if (s.from !== undefined) out.from = s.from;
    if (s.until !== undefined) out.until = s.until;
    return out;
  });

const signals = fc.array(signal, { maxLength: 12 }).map((list) => list.map((s, i) => ({ ...s, id: `s${i}` }) as Signal));

function canonical(d: Decision) {
  return { ...d, explanation: [...d.explanation].sort((a, b) => (a.signal < b.signal ? -1 : 1)) };
}

const liveReachable = (list: Signal[], now: number) =>
  list.some((s) => s.claim.kind === 'endpoint' && s.claim.reachable && judge(s, DEFAULT_POLICY, now).state === 'live');

describe('merge properties', () => {
  it('does not depend on the order of signals', () => {
    fc.assert(
      fc.property(signals, instant, fc.infiniteStream(fc.nat()), (list, now, rnd) => {
        const shuffled = [...list].sort(() => (rnd.next().value % 3) - 1);
        expect(canonical(merge(shuffled, DEFAULT_POLICY, now))).toEqual(canonical(merge(list, DEFAULT_POLICY, now)));
      }),
      { numRuns: 500 },
    );
  });

  it('is never available or routable without a reachable endpoint', () => {
    fc.assert(
      fc.property(signals, instant, (list, now) => {
        const d = merge(list, DEFAULT_POLICY, now);
        if (d.availability === 'available' || d.routable) {
          expect(d.endpoints.length).toBeGreaterThan(0);
          expect(liveReachable(list, now)).toBe(true);
        }
        if (d.routable) expect(d.availability).toBe('available');
      }),
      { numRuns: 1000 },
    );
  });

  it('says unknown, never available, when nothing is known', () => {
    fc.assert(
      fc.property(signals, instant, (list, now) => {
        const known = list.filter((s) => s.claim.kind !== 'cleared' && (s.claim.kind === 'endpoint' || judge(s, DEFAULT_POLICY, now).state === 'live'));
        const d = merge(list, DEFAULT_POLICY, now);
        if (known.length === 0) expect([d.availability, d.activity]).toEqual(['unknown', 'unknown']);
        expect(merge([], DEFAULT_POLICY, now).availability).toBe('unknown');
      }),
      { numRuns: 1000 },
    );
  });

  it('never lets an expired, stale or not-yet-started signal decide', () => {
    fc.assert(
      fc.property(signals, instant, (list, now) => {
        const d = merge(list, DEFAULT_POLICY, now);
        const winner = d.explanation.find((e) => e.verdict === 'won');
        if (winner) {
          const s = list.find((x) => x.id === winner.signal)!;
          expect(judge(s, DEFAULT_POLICY, now).state).toBe('live');
        }
        // Dropping the dead (non-endpoint) signals changes nothing about the state.
        const alive = list.filter((s) => s.claim.kind === 'endpoint' || judge(s, DEFAULT_POLICY, now).state === 'live' || judge(s, DEFAULT_POLICY, now).state === 'pending');
        const e = merge(alive, DEFAULT_POLICY, now);
        expect([e.availability, e.activity, e.routable]).toEqual([d.availability, d.activity, d.routable]);
      }),
      { numRuns: 1000 },
    );
  });

  it('wakes no later than the next known transition', () => {
    fc.assert(
      fc.property(signals, instant, (list, now) => {
        const d = merge(list, DEFAULT_POLICY, now);
        if (d.next) {
          expect(d.next.at).toBeGreaterThan(now);
          expect(d.wakeAt).toBeDefined();
          expect(d.wakeAt!).toBeLessThanOrEqual(d.next.at);
        }
      }),
      { numRuns: 500 },
    );
  });
});
