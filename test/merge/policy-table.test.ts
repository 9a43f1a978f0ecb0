import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../shared/domain/policy.js';
import { merge } from '../../shared/merge/merge.js';
import type { Signal } from '../../shared/domain/signal.js';
import { HOUR, MIN, T0, call, desk, dnd, manual, meeting, mobile, teams, unregistered, workingHours, wrapUp } from '../support/signals.js';

const OFF_HOURS_NOW = Date.parse('2026-03-02T20:00:00Z'); // Monday 20:00 UTC, outside 09–17

interface Row {
  row: string;
  signals: Signal[];
  now?: number;
  availability: string;
  activity: string;
  routable: boolean;
  source?: string;
  rule?: string;
}

// One row per line of design §3 (highest first), each shown beating the rows below it.
const table: Row[] = [
  { row: '1 manual DND beats a call', signals: [desk(), call('on-call'), dnd('manual')], availability: 'dnd', activity: 'dnd', routable: false, source: 'manual', rule: 'dnd' },
  { row: '1 DND from a phone', signals: [desk(), dnd('pbx'), manual('available')], availability: 'dnd', activity: 'dnd', routable: false, source: 'pbx', rule: 'dnd' },
  { row: '2 on a call beats Teams', signals: [desk(), call('on-call'), teams('presenting')], availability: 'busy', activity: 'on-call', routable: false, source: 'pbx', rule: 'call' },
  { row: '2 ringing', signals: [desk(), call('ringing')], availability: 'busy', activity: 'ringing', routable: false, rule: 'call' },
  { row: '2 on hold', signals: [desk(), call('on-hold')], availability: 'busy', activity: 'on-hold', routable: false, rule: 'call' },
  { row: '2 ringing older than 2 min is stale', signals: [desk(), call('ringing', { observedAt: T0 - 3 * MIN })], availability: 'available', activity: 'available', routable: true },
  { row: '2 on-call with no update for hours is stale', signals: [desk(), call('on-call', { observedAt: T0 - 5 * HOUR })], availability: 'available', activity: 'available', routable: true },
  { row: '3 Teams presenting beats a manual status', signals: [desk(), teams('presenting'), manual('available')], availability: 'dnd', activity: 'presenting', routable: false, source: 'teams', rule: 'teams' },
  { row: '3 Teams in a call', signals: [desk(), teams('on-call')], availability: 'busy', activity: 'on-call', routable: false, source: 'teams' },
  { row: '4 manual Away beats out-of-office', signals: [desk(), manual('away'), meeting('out-of-office', T0 - HOUR, T0 + HOUR)], availability: 'away', activity: 'away', routable: false, source: 'manual', rule: 'manual' },
  { row: '4 manual Available overrides a meeting', signals: [desk(), manual('available'), meeting('in-meeting', T0 - HOUR, T0 + HOUR)], availability: 'available', activity: 'available', routable: true, source: 'manual' },
  { row: '4 manual Available set after a queue call ended ends its wrap-up ("ready")', signals: [desk(), wrapUp(T0 + MIN, { observedAt: T0 - 30_000 }), manual('available', { observedAt: T0 - 10_000 })], availability: 'available', activity: 'available', routable: true, source: 'manual', rule: 'manual' },
  { row: '4 manual break', signals: [desk(), manual('break')], availability: 'away', activity: 'break', routable: false },
  { row: '4 manual Available without a reachable endpoint is not available', signals: [manual('available')], availability: 'unknown', activity: 'unknown', routable: false },
  { row: '5 out-of-office beats a meeting', signals: [desk(), meeting('out-of-office', T0 - HOUR, T0 + 8 * HOUR), meeting('in-meeting', T0 - HOUR, T0 + HOUR)], availability: 'away', activity: 'out-of-office', routable: false, rule: 'calendar-out-of-office' },
  { row: '6 meeting beats wrap-up', signals: [desk(), meeting('in-meeting', T0 - HOUR, T0 + HOUR), wrapUp(T0 + MIN)], availability: 'busy', activity: 'in-meeting', routable: false, source: 'outlook', rule: 'calendar-meeting' },
  { row: '6 presenting beats in-meeting', signals: [desk(), meeting('in-meeting', T0 - HOUR, T0 + HOUR), meeting('presenting', T0 - MIN, T0 + MIN)], availability: 'dnd', activity: 'presenting', routable: false },
  { row: '6 focus time', signals: [desk(), meeting('focus', T0 - HOUR, T0 + HOUR)], availability: 'dnd', activity: 'focus', routable: false },
  { row: '6 a future meeting does not decide yet', signals: [desk(), meeting('in-meeting', T0 + HOUR, T0 + 2 * HOUR)], availability: 'available', activity: 'available', routable: true },
  { row: '6 a past meeting does not decide', signals: [desk(), meeting('in-meeting', T0 - 2 * HOUR, T0 - HOUR)], availability: 'available', activity: 'available', routable: true },
  { row: '7 wrap-up beats off-work', now: OFF_HOURS_NOW, signals: [desk(), wrapUp(OFF_HOURS_NOW + MIN, { observedAt: OFF_HOURS_NOW - MIN }), workingHours()], availability: 'busy', activity: 'wrap-up', routable: false, rule: 'wrap-up' },
  { row: '7 wrap-up beats a manual Available set before the call it follows', signals: [desk(), manual('available', { observedAt: T0 - HOUR }), wrapUp(T0 + MIN, { observedAt: T0 - 30_000 })], availability: 'busy', activity: 'wrap-up', routable: false, source: 'pbx', rule: 'wrap-up' },
  { row: '7 wrap-up, not a meeting ranked between, takes the place of a manual Available set before the call', signals: [desk(), manual('available', { observedAt: T0 - HOUR }), meeting('in-meeting', T0 - HOUR, T0 + HOUR), wrapUp(T0 + MIN, { observedAt: T0 - 30_000 })], availability: 'busy', activity: 'wrap-up', routable: false, source: 'pbx', rule: 'wrap-up' },
  { row: '7 wrap-up, not out-of-office, takes the place of a manual Available set before the call', signals: [desk(), manual('available', { observedAt: T0 - HOUR }), meeting('out-of-office', T0 - HOUR, T0 + 8 * HOUR), wrapUp(T0 + MIN, { observedAt: T0 - 30_000 })], availability: 'busy', activity: 'wrap-up', routable: false, source: 'pbx', rule: 'wrap-up' },
  { row: '8 outside working hours', now: OFF_HOURS_NOW, signals: [desk(), workingHours()], availability: 'offline', activity: 'off-work', routable: false, source: 'directory', rule: 'off-work' },
  { row: '8 inside working hours changes nothing', signals: [desk(), workingHours()], availability: 'available', activity: 'available', routable: true },
  { row: '9 a registered phone', signals: [desk()], availability: 'available', activity: 'available', routable: true },
  { row: '9 a mobile heartbeat within its TTL', signals: [mobile()], availability: 'available', activity: 'available', routable: true },
  { row: '10 phone unregistered', signals: [unregistered()], availability: 'offline', activity: 'offline', routable: false },
  { row: '10 mobile heartbeat past its TTL', signals: [mobile({ until: T0 - 1 })], availability: 'offline', activity: 'offline', routable: false },
  { row: '– nothing known', signals: [], availability: 'unknown', activity: 'unknown', routable: false },
  { row: '– every source stale', signals: [call('ringing', { observedAt: T0 - 10 * MIN })], availability: 'unknown', activity: 'unknown', routable: false },
];

describe('default policy decision table (design §3)', () => {
  it.each(table)('row $row', (r) => {
    const d = merge(r.signals, DEFAULT_POLICY, r.now ?? T0);
    expect({ availability: d.availability, activity: d.activity, routable: d.routable }).toEqual({
      availability: r.availability,
      activity: r.activity,
      routable: r.routable,
    });
    if (r.source) expect(d.source).toBe(r.source);
    if (r.rule) expect(d.rule).toBe(r.rule);
    // Every signal is accounted for in the explanation.
    expect(new Set(d.explanation.map((e) => e.signal))).toEqual(new Set(r.signals.map((s) => s.id)));
  });

  it('explains why each signal won, lost or was ignored', () => {
    const d = merge(
      [desk(), call('on-call'), manual('away'), call('ringing', { id: 'pbx:call:old', observedAt: T0 - 10 * MIN }), meeting('in-meeting', T0 + HOUR, T0 + 2 * HOUR)],
      DEFAULT_POLICY,
      T0,
    );
    const verdicts = Object.fromEntries(d.explanation.map((e) => [e.signal, e.verdict]));
    expect(verdicts).toEqual({
      'pbx:reg:desk-1': 'reachable',
      'pbx:call:desk-1:_': 'won',
      manual: 'lost',
      'pbx:call:old': 'stale',
      [`outlook:evt:in-meeting:${T0 + HOUR}`]: 'pending',
    });
  });

  it('reports until and the next known transition', () => {
    const d = merge([desk(), meeting('in-meeting', T0 - HOUR, T0 + HOUR), meeting('presenting', T0 + 2 * HOUR, T0 + 3 * HOUR)], DEFAULT_POLICY, T0);
    expect(d.until).toBe(T0 + HOUR);
    expect(d.next).toEqual({ at: T0 + HOUR, availability: 'available', activity: 'available' });
    expect(d.wakeAt).toBe(T0 + HOUR);
  });

  it('does not announce a heartbeat TTL as a known transition, but wakes for it', () => {
    const d = merge([mobile()], DEFAULT_POLICY, T0);
    expect(d.next).toBeUndefined();
    expect(d.wakeAt).toBe(T0 + MIN);
  });

  it('is data: a tenant can reorder rules and retune availabilities', () => {
    const policy = {
      ...DEFAULT_POLICY,
      rules: [DEFAULT_POLICY.rules.find((r) => r.id === 'calendar-meeting')!, ...DEFAULT_POLICY.rules.filter((r) => r.id !== 'calendar-meeting')],
      activities: { ...DEFAULT_POLICY.activities, 'in-meeting': 'dnd' as const },
    };
    const d = merge([desk(), call('on-call'), meeting('in-meeting', T0 - HOUR, T0 + HOUR)], policy, T0);
    expect([d.availability, d.activity, d.rule]).toEqual(['dnd', 'in-meeting', 'calendar-meeting']);
  });

  it('maps a custom busy reason through the tenant table, and an unmapped one to busy', () => {
    const policy = { ...DEFAULT_POLICY, activities: { ...DEFAULT_POLICY.activities, lunch: 'away' as const } };
    expect(merge([desk(), manual('lunch')], policy, T0).availability).toBe('away');
    expect(merge([desk(), manual('training')], policy, T0).availability).toBe('busy');
  });
});
