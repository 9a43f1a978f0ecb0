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

/** Days looked at around an instant: the day before (a period running past midnight) to eight ahead. */
const DAYS_BEFORE = 1;
const DAYS_AFTER = 8;
/** A table grows a day at a time as the clock moves on; past this many days it starts afresh. */
const MAX_TABLE_DAYS = 64;
const DAY_MS = 86_400_000;

/**
 * One schedule's working time in one zone, local day by local day, as absolute instants. Each day is
 * built with luxon in the person's zone, so DST days come out with their real length (luxon moves a
 * nonexistent local time forward). Zone conversions cost tens of microseconds each, so a table is built
 * once and then only read: a merge asks about many instants, and the same person is merged again and again.
 */
class DayTable {
  /** `starts[i]` is local midnight of day i; `starts[days.length]` ends the last day. */
  private starts: number[] = [];
  private days: Array<Array<[number, number]>> = [];
  /** The merged intervals of days i-1 … i+8, by i, built when first asked for; read-only. */
  private windows: Array<ReadonlyArray<readonly [number, number]> | undefined> = [];
  private first!: DateTime;

  constructor(
    private readonly zone: string,
    private readonly week: WeeklyHours,
  ) {}

  /** Starts afresh around `t`: the table only grows forward, and not without bound. */
  private reset(t: number): void {
    this.first = DateTime.fromMillis(t, { zone: this.zone }).startOf('day').minus({ days: DAYS_BEFORE });
    this.starts = [this.first.toMillis()];
    this.days = [];
    this.windows = [];
  }

  private grow(): void {
    const day = this.first.plus({ days: this.days.length }).startOf('day');
    const intervals: Array<[number, number]> = [];
    for (const [start, end] of this.week[WEEKDAYS[day.weekday - 1]!] ?? []) {
      const from = atLocal(day, start);
      const to = atLocal(day, end);
      if (to > from) intervals.push([from, to]);
    }
    this.days.push(intervals);
    this.starts.push(this.first.plus({ days: this.days.length }).startOf('day').toMillis());
  }

  /** The index of the local day holding `t`, with the days around it built; undefined when before the table. */
  private dayOf(t: number): number | undefined {
    if (this.starts.length === 0 || t < this.starts[0]! || t > this.starts[this.days.length]! + MAX_TABLE_DAYS * DAY_MS) return undefined;
    while (t >= this.starts[this.days.length]!) this.grow();
    let lo = 0;
    let hi = this.days.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= t) lo = mid;
      else hi = mid - 1;
    }
    if (lo < DAYS_BEFORE) return undefined;
    while (this.days.length <= lo + DAYS_AFTER) this.grow();
    return lo;
  }

  /** Working time around `t` as merged absolute intervals. */
  around(t: number): ReadonlyArray<readonly [number, number]> {
    let d = this.days.length > MAX_TABLE_DAYS ? undefined : this.dayOf(t);
    if (d === undefined) {
      this.reset(t);
      d = this.dayOf(t)!;
    }
    return (this.windows[d] ??= this.window(d));
  }

  private window(d: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = d - DAYS_BEFORE; i <= d + DAYS_AFTER; i++) out.push(...this.days[i]!);
    out.sort((a, b) => a[0] - b[0]);
    const merged: Array<[number, number]> = [];
    for (const iv of out) {
      const last = merged[merged.length - 1];
      if (last && iv[0] <= last[1]) last[1] = Math.max(last[1], iv[1]);
      else merged.push([iv[0], iv[1]]);
    }
    return merged;
  }
}

function atLocal(day: DateTime, hhmm: string): number {
  if (hhmm === '24:00') return day.plus({ days: 1 }).startOf('day').toMillis();
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return day.set({ hour: h, minute: m }).toMillis();
}

/**
 * Tables by zone and schedule content: people with the same hours in the same zone share one. Each
 * schedule object remembers its tables (directory records and their signals are immutable), so the
 * content key is worked out once per object.
 */
const shared = new Map<string, DayTable>();
/** Distinct zone-and-schedule pairs shared; past this the oldest is no longer shared. */
const MAX_SHARED = 512;
const byObject = new WeakMap<WeeklyHours, Map<string, DayTable>>();

function tableFor(zone: string, week: WeeklyHours): DayTable {
  let byZone = byObject.get(week);
  if (!byZone) {
    byZone = new Map();
    byObject.set(week, byZone);
  }
  let table = byZone.get(zone);
  if (!table) {
    const key = `${zone} ${JSON.stringify(WEEKDAYS.map((d) => week[d] ?? []))}`;
    table = shared.get(key);
    if (!table) {
      table = new DayTable(zone, week);
      shared.set(key, table);
      if (shared.size > MAX_SHARED) shared.delete(shared.keys().next().value!);
    }
    byZone.set(zone, table);
  }
  return table;
}

function intervalsAround(zone: string, week: WeeklyHours, now: number): ReadonlyArray<readonly [number, number]> {
  return tableFor(zone, week).around(now);
}

export function workingHoursAt(zone: string, week: WeeklyHours, now: number): WorkingHoursAt {
  const intervals = intervalsAround(zone, week, now);
  let inside = false;
  let nextEdge: number | undefined;
  for (const [from, to] of intervals) {
    if (from <= now && now < to) inside = true;
    if (from > now && (nextEdge === undefined || from < nextEdge)) nextEdge = from;
    if (to > now && (nextEdge === undefined || to < nextEdge)) nextEdge = to;
  }
  return nextEdge === undefined ? { inside } : { inside, nextEdge };
}

/**
 * The end of the working day `now` is in, if it is inside working hours: the end of the last period that
 * starts on the local date the current one began. A lunch break does not end the day (someone off "until
 * the end of my working day" at 10:00 is not rung after lunch); a night shift past midnight ends in the morning.
 */
export function endOfWorkingDay(zone: string, week: WeeklyHours, now: number): number | undefined {
  const intervals = intervalsAround(zone, week, now);
  const i = intervals.findIndex(([from, to]) => from <= now && now < to);
  if (i < 0) return undefined;
  const day = (t: number) => DateTime.fromMillis(t, { zone }).toISODate();
  const today = day(intervals[i]![0]);
  let end = intervals[i]![1];
  for (let j = i + 1; j < intervals.length && day(intervals[j]![0]) === today; j++) end = intervals[j]![1];
  return end;
}
