import { describe, expect, it } from 'vitest';
import { scheduleSchema, type Schedule } from '../../shared/domain/group.js';
import { scheduleAt } from '../../services/routing/schedule.js';
import { closedReason } from '../../services/routing/wording.js';

const BERLIN = 'Europe/Berlin';
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

const OFFICE: Schedule = {
  weekly: { mon: [['08:00', '17:00']], tue: [['08:00', '17:00']], wed: [['08:00', '17:00']], thu: [['08:00', '17:00']], fri: [['08:00', '17:00']] },
  holidays: [],
  closures: [],
};

function state(schedule: Schedule, instant: string, zone = BERLIN) {
  const s = scheduleAt(schedule, zone, at(instant));
  return { open: s.open, kind: s.closedBy?.kind, name: s.closedBy?.name, changesAt: iso(s.changesAt) };
}

describe('group schedules, evaluated in the group zone with luxon', () => {
  it('is always open without a schedule', () => {
    expect(scheduleAt(undefined, BERLIN, at('2026-03-01T03:00:00Z'))).toEqual({ open: true });
  });

  // Monday 2 March 2026, Berlin is UTC+1: 08:00 local is 07:00Z, 17:00 local is 16:00Z.
  it.each([
    ['2026-03-02T06:59:59.999Z', { open: false, kind: 'hours', changesAt: '2026-03-02T07:00:00.000Z' }],
    ['2026-03-02T07:00:00.000Z', { open: true, kind: undefined, changesAt: '2026-03-02T16:00:00.000Z' }],
    ['2026-03-02T15:59:59.999Z', { open: true, kind: undefined, changesAt: '2026-03-02T16:00:00.000Z' }],
    ['2026-03-02T16:00:00.000Z', { open: false, kind: 'hours', changesAt: '2026-03-03T07:00:00.000Z' }],
    // Friday evening: closed over the weekend until Monday 08:00.
    ['2026-03-06T16:00:00.000Z', { open: false, kind: 'hours', changesAt: '2026-03-09T07:00:00.000Z' }],
  ])('opening and closing edges: %s', (instant, expected) => {
    expect(state(OFFICE, instant)).toEqual({ name: undefined, ...expected });
  });

  it('closes a whole local day for a holiday, once or every year, and says when it opens again', () => {
    const s: Schedule = { ...OFFICE, holidays: [{ date: '2026-03-03', name: 'Staff day' }, { date: '12-25', name: 'Christmas Day' }] };
    expect(state(s, '2026-03-02T15:59:00Z')).toMatchObject({ open: true, changesAt: '2026-03-02T16:00:00.000Z' });
    // Tuesday is the holiday: closed from 08:00 until Wednesday 08:00.
    expect(state(s, '2026-03-03T09:00:00Z')).toEqual({ open: false, kind: 'holiday', name: 'Staff day', changesAt: '2026-03-04T07:00:00.000Z' });
    // Christmas 2026 is a Friday; every year.
    expect(state(s, '2026-12-25T10:00:00Z')).toMatchObject({ open: false, kind: 'holiday', name: 'Christmas Day', changesAt: '2026-12-28T07:00:00.000Z' });
    expect(state(s, '2027-12-24T10:00:00Z')).toMatchObject({ open: true });
    const c = scheduleAt(s, BERLIN, at('2026-03-03T09:00:00Z'));
    expect(closedReason(c.closedBy!, c.changesAt, at('2026-03-03T09:00:00Z'), BERLIN)).toBe('closed: Staff day (holiday); opens Wed 08:00');
  });

  it('without weekly hours is open around the clock, closed only by holidays and closures', () => {
    const s = scheduleSchema.parse({ holidays: [{ date: '12-25', name: 'Christmas Day' }] });
    expect(state(s, '2026-12-24T03:00:00Z')).toEqual({ open: true, kind: undefined, name: undefined, changesAt: '2026-12-24T23:00:00.000Z' });
    expect(state(s, '2026-12-25T12:00:00Z')).toEqual({ open: false, kind: 'holiday', name: 'Christmas Day', changesAt: '2026-12-25T23:00:00.000Z' });
  });

  it('closes between the instants of a one-off closure', () => {
    const s: Schedule = { ...OFFICE, closures: [{ from: '2026-03-02T12:00:00+01:00', until: '2026-03-02T13:30:00+01:00', reason: 'all-hands meeting' }] };
    expect(state(s, '2026-03-02T10:59:00Z')).toMatchObject({ open: true, changesAt: '2026-03-02T11:00:00.000Z' });
    expect(state(s, '2026-03-02T11:00:00Z')).toEqual({ open: false, kind: 'closure', name: 'all-hands meeting', changesAt: '2026-03-02T12:30:00.000Z' });
    const c = scheduleAt(s, BERLIN, at('2026-03-02T11:00:00Z'));
    expect(closedReason(c.closedBy!, c.changesAt, at('2026-03-02T11:00:00Z'), BERLIN)).toBe('closed: all-hands meeting; opens 13:30');
  });

  describe('daylight saving time in Europe/Berlin', () => {
    const night: Schedule = { weekly: { sun: [['01:00', '04:00']] }, holidays: [], closures: [] };

    it('spring forward (29 March 2026, 02:00 → 03:00): the night shift lasts two real hours', () => {
      // 01:00 CET is 00:00Z; 04:00 CEST is 02:00Z.
      expect(state(night, '2026-03-28T23:59:59Z')).toMatchObject({ open: false, changesAt: '2026-03-29T00:00:00.000Z' });
      expect(state(night, '2026-03-29T00:00:00Z')).toMatchObject({ open: true, changesAt: '2026-03-29T02:00:00.000Z' });
      expect(state(night, '2026-03-29T01:30:00Z')).toMatchObject({ open: true });
      expect(state(night, '2026-03-29T02:00:00Z')).toMatchObject({ open: false });
    });

    it('spring forward: an opening time that does not exist that night opens when the clock has passed it', () => {
      const s: Schedule = { weekly: { sun: [['02:30', '05:00']] }, holidays: [], closures: [] };
      // 02:30 is skipped; luxon moves it forward to 03:30 CEST, 01:30Z.
      expect(state(s, '2026-03-29T00:30:00Z')).toMatchObject({ open: false, changesAt: '2026-03-29T01:30:00.000Z' });
      expect(state(s, '2026-03-29T01:30:00Z')).toMatchObject({ open: true, changesAt: '2026-03-29T03:00:00.000Z' });
    });

    it('spring forward: weekday opening hours move by an hour in UTC', () => {
      expect(state(OFFICE, '2026-03-27T07:00:00Z')).toMatchObject({ open: true, changesAt: '2026-03-27T16:00:00.000Z' });
      // Friday 17:00 CET, then Monday 08:00 CEST is 06:00Z.
      expect(state(OFFICE, '2026-03-27T16:00:00Z')).toMatchObject({ open: false, changesAt: '2026-03-30T06:00:00.000Z' });
      expect(state(OFFICE, '2026-03-30T05:59:59Z')).toMatchObject({ open: false });
      expect(state(OFFICE, '2026-03-30T06:00:00Z')).toMatchObject({ open: true, changesAt: '2026-03-30T15:00:00.000Z' });
    });

    it('fall back (25 October 2026, 03:00 → 02:00): the night shift lasts four real hours', () => {
      // 01:00 CEST is 23:00Z the day before; 04:00 CET is 03:00Z.
      expect(state(night, '2026-10-24T22:59:59Z')).toMatchObject({ open: false, changesAt: '2026-10-24T23:00:00.000Z' });
      expect(state(night, '2026-10-24T23:00:00Z')).toMatchObject({ open: true, changesAt: '2026-10-25T03:00:00.000Z' });
      expect(state(night, '2026-10-25T02:30:00Z')).toMatchObject({ open: true });
      expect(state(night, '2026-10-25T03:00:00Z')).toMatchObject({ open: false });
    });

    it('fall back: a holiday on that day is 25 hours long', () => {
      const s: Schedule = { weekly: { sun: [['00:00', '24:00']], mon: [['00:00', '24:00']] }, holidays: [{ date: '2026-10-25', name: 'Test day' }], closures: [] };
      // Local midnight 25 Oct is 22:00Z (CEST); the next midnight is 23:00Z on the 25th (CET).
      expect(state(s, '2026-10-24T22:00:00Z')).toMatchObject({ open: false, kind: 'holiday', changesAt: '2026-10-25T23:00:00.000Z' });
      expect(state(s, '2026-10-25T22:59:59Z')).toMatchObject({ open: false, kind: 'holiday' });
      expect(state(s, '2026-10-25T23:00:00Z')).toMatchObject({ open: true });
    });
  });
});
