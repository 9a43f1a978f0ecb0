import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../shared/domain/policy.js';
import type { WeeklyHours } from '../../shared/domain/working-hours.js';
import { merge } from '../../shared/merge/merge.js';
import { endOfWorkingDay, workingHoursAt } from '../../shared/merge/working-hours.js';
import { desk, workingHours } from '../support/signals.js';

const at = (iso: string) => Date.parse(iso);
const BERLIN = 'Europe/Berlin';

/** Every edge from `from` up to `to`, walking `nextEdge` on one schedule object (its table is reused). */
function edges(zone: string, week: WeeklyHours, from: number, to: number): string[] {
  const out: string[] = [];
  for (let t = from, e = workingHoursAt(zone, week, t).nextEdge; e !== undefined && e < to; t = e, e = workingHoursAt(zone, week, t).nextEdge) {
    out.push(new Date(e).toISOString());
  }
  return out;
}

// Berlin: 2026-03-29 02:00 CET becomes 03:00 CEST; 2026-10-25 03:00 CEST becomes 02:00 CET.
describe('working hours across DST in Europe/Berlin', () => {
  it('spring-forward Sunday: local hours keep their wall-clock times, and the day is an hour shorter', () => {
    const week: WeeklyHours = { fri: [['09:00', '17:00']], sun: [['01:00', '04:00']], mon: [['09:00', '17:00']] };
    expect(edges(BERLIN, week, at('2026-03-27T00:00:00Z'), at('2026-03-31T00:00:00Z'))).toEqual([
      '2026-03-27T08:00:00.000Z', // Fri 09:00 CET
      '2026-03-27T16:00:00.000Z',
      '2026-03-29T00:00:00.000Z', // Sun 01:00 CET
      '2026-03-29T02:00:00.000Z', // Sun 04:00 CEST: two hours of work, not three
      '2026-03-30T07:00:00.000Z', // Mon 09:00 CEST
      '2026-03-30T15:00:00.000Z',
    ]);
  });

  it('a start in the skipped hour moves forward to the same offset after it', () => {
    const week: WeeklyHours = { sun: [['02:30', '05:00']] };
    expect(workingHoursAt(BERLIN, week, at('2026-03-29T00:00:00Z'))).toEqual({ inside: false, nextEdge: at('2026-03-29T01:30:00Z') });
    expect(workingHoursAt(BERLIN, week, at('2026-03-29T02:00:00Z'))).toEqual({ inside: true, nextEdge: at('2026-03-29T03:00:00Z') });
  });

  it('fall-back Sunday: the day is an hour longer, and a period ending at 24:00 ends at local midnight', () => {
    const week: WeeklyHours = { sat: [['22:00', '24:00']], sun: [['01:00', '04:00']] };
    expect(edges(BERLIN, week, at('2026-10-24T12:00:00Z'), at('2026-10-26T00:00:00Z'))).toEqual([
      '2026-10-24T20:00:00.000Z', // Sat 22:00 CEST
      '2026-10-24T22:00:00.000Z', // Sun 00:00 CEST
      '2026-10-24T23:00:00.000Z', // Sun 01:00 CEST
      '2026-10-25T03:00:00.000Z', // Sun 04:00 CET: four hours of work
    ]);
    expect(endOfWorkingDay(BERLIN, week, at('2026-10-25T02:30:00Z'))).toBe(at('2026-10-25T03:00:00Z'));
  });

  it('answers do not depend on which instants were asked before', () => {
    const week: WeeklyHours = { mon: [['09:00', '17:00']], sun: [['01:00', '04:00']] };
    // The same hours, written differently (an empty period), so that no table is shared with `week`.
    const fresh = (t: number) => workingHoursAt(BERLIN, { ...week, tue: [['09:00', '09:00']] }, t);
    // Far ahead, then back before the first question, then across the change of offset.
    for (const iso of ['2026-03-20T10:00:00Z', '2026-06-01T10:00:00Z', '2026-03-01T10:00:00Z', '2026-03-29T01:30:00Z', '2026-03-30T07:30:00Z']) {
      expect(workingHoursAt(BERLIN, week, at(iso)), iso).toEqual(fresh(at(iso)));
    }
  });

  it('the merge wakes at the DST-shifted start of work and announces off-work at its shifted end', () => {
    const week: WeeklyHours = { mon: [['09:00', '17:00']], fri: [['09:00', '17:00']] };
    const signals = [desk({ observedAt: at('2026-03-27T00:00:00Z') }), workingHours(BERLIN, week)];
    const friday = merge(signals, DEFAULT_POLICY, at('2026-03-27T20:00:00Z'));
    expect(friday.activity).toBe('off-work');
    expect(friday.until).toBe(at('2026-03-30T07:00:00Z'));
    expect(friday.next).toEqual({ at: at('2026-03-30T07:00:00Z'), availability: 'available', activity: 'available' });
    const monday = merge(signals, DEFAULT_POLICY, at('2026-03-30T07:00:00Z'));
    expect(monday.activity).toBe('available');
    expect(monday.next).toEqual({ at: at('2026-03-30T15:00:00Z'), availability: 'offline', activity: 'off-work' });
  });
});
