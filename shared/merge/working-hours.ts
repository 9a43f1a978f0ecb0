import { DateTime } from 'luxon';
import { WEEKDAYS, type WeeklyHours } from '../domain/working-hours.js';

export interface WorkingHoursAt {
  inside: boolean;
  /** The next instant at which `inside` flips (a start or end of working time), within 8 days. */
  nextEdge?: number;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$|^24:00$/;

export function isValidHHMM(value: string): boolean {
  return HHMM.test(value);
}

export function isValidZone(zone: string): boolean {
  return DateTime.now().setZone(zone).isValid;
}

/**
 * Working time around `now` as absolute intervals, built day by day in the person's zone so that DST
 * days come out with their real length (luxon moves a nonexistent local time forward).
 */
function intervalsAround(zone: string, week: WeeklyHours, now: number): Array<[number, number]> {
  const today = DateTime.fromMillis(now, { zone }).startOf('day');
  const out: Array<[number, number]> = [];
  for (let offset = -1; offset <= 8; offset++) {
    const day = today.plus({ days: offset });
    const name = WEEKDAYS[day.weekday - 1]!;
    for (const [start, end] of week[name] ?? []) {
      const from = atLocal(day, start);
      const to = atLocal(day, end);
      if (to > from) out.push([from, to]);
    }
  }
  out.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const iv of out) {
    const last = merged[merged.length - 1];
    if (last && iv[0] <= last[1]) last[1] = Math.max(last[1], iv[1]);
    else merged.push([iv[0], iv[1]]);
  }
  return merged;
}

function atLocal(day: DateTime, hhmm: string): number {
  if (hhmm === '24:00') return day.plus({ days: 1 }).toMillis();
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return day.set({ hour: h, minute: m }).toMillis();
}

export function workingHoursAt(zone: string, week: WeeklyHours, now: number): WorkingHoursAt {
  const intervals = intervalsAround(zone, week, now);
  let inside = false;
  let nextEdge: number | undefined;
  for (const [from, to] of intervals) {
    if (from <= now && now < to) inside = true;
    for (const edge of [from, to]) if (edge > now && (nextEdge === undefined || edge < nextEdge)) nextEdge = edge;
  }
  return nextEdge === undefined ? { inside } : { inside, nextEdge };
}

/** The end of the working period containing `now`, if `now` is inside working hours. */
export function endOfWorkingDay(zone: string, week: WeeklyHours, now: number): number | undefined {
  for (const [from, to] of intervalsAround(zone, week, now)) if (from <= now && now < to) return to;
  return undefined;
}
