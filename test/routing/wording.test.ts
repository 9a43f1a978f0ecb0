import { describe, expect, it } from 'vitest';
import { clockTime, duration } from '../../services/routing/wording.js';

const at = (iso: string) => Date.parse(iso);

describe('how reasons word instants', () => {
  it.each([
    // Same local day, then the week, then a date; seconds only when they are not zero.
    ['2026-03-02T14:00:00Z', '2026-03-02T09:00:00Z', 'Europe/Berlin', '15:00'],
    ['2026-03-02T14:05:20Z', '2026-03-02T09:00:00Z', 'Europe/Berlin', '15:05:20'],
    ['2026-03-03T08:00:00Z', '2026-03-02T09:00:00Z', 'Europe/Berlin', 'Tue 09:00'],
    ['2026-03-12T08:00:00Z', '2026-03-02T09:00:00Z', 'Europe/Berlin', '12 Mar 09:00'],
    // Local midnight, not UTC midnight, separates days.
    ['2026-03-02T23:30:00Z', '2026-03-02T22:00:00Z', 'Europe/Berlin', 'Tue 00:30'],
    ['2026-03-02T23:30:00Z', '2026-03-02T22:00:00Z', 'UTC', '23:30'],
    // Either side of both DST changes in Berlin.
    ['2026-03-29T00:59:00Z', '2026-03-29T00:00:00Z', 'Europe/Berlin', '01:59'],
    ['2026-03-29T01:00:00Z', '2026-03-29T00:00:00Z', 'Europe/Berlin', '03:00'],
    ['2026-10-25T00:30:00Z', '2026-10-25T00:00:00Z', 'Europe/Berlin', '02:30'],
    ['2026-10-25T01:30:00Z', '2026-10-25T00:00:00Z', 'Europe/Berlin', '02:30'],
    // Zones off the hour, and a half-hour DST shift (Lord Howe: +11 in summer, +10:30 in winter).
    ['2026-03-02T09:00:00Z', '2026-03-02T09:00:00Z', 'Asia/Kathmandu', '14:45'],
    ['2026-04-04T14:59:00Z', '2026-04-04T14:00:00Z', 'Australia/Lord_Howe', '01:59'],
    ['2026-04-04T15:00:00Z', '2026-04-04T14:00:00Z', 'Australia/Lord_Howe', '01:30'],
  ])('%s from %s in %s is %s', (instant, ref, zone, expected) => {
    expect(clockTime(at(instant), at(ref), zone)).toBe(expected);
  });

  it('words durations', () => {
    expect([30_000, 300_000, 3_600_000, 5_400_000].map(duration)).toEqual(['30 s', '5 min', '1 h', '1 h 30 min']);
  });
});
