import { DateTime } from 'luxon';
import type { Source } from '../../shared/domain/signal.js';
import type { ClosedBy } from './schedule.js';

/** How a reason names where a fact came from. */
export const SOURCE_LABELS: Readonly<Record<Source, string>> = {
  manual: 'manual',
  pbx: 'PBX',
  mobile: 'mobile app',
  teams: 'Teams',
  outlook: 'Outlook',
  google: 'Google',
  directory: 'working hours',
};

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => (n < 10 ? `0${n}` : String(n));
const dayNumber = (d: DateTime) => Date.UTC(d.year, d.month - 1, d.day) / 86_400_000;

/** One decision words many instants against the same reference: remember the last one. */
let lastRef: { ref: number; zone: string; day: number } | undefined;
function refDay(ref: number, zone: string): number {
  if (lastRef?.ref !== ref || lastRef.zone !== zone) lastRef = { ref, zone, day: dayNumber(DateTime.fromMillis(ref, { zone })) };
  return lastRef.day;
}

/**
 * A wall-clock time as a person reading a ring list wants it, in `zone`: `15:00` on the same local day
 * as `ref`, `Tue 09:00` within the week, `12 Mar 09:00` beyond. Seconds only when they are not zero
 * (a wrap-up ending at 14:05:20). Built from luxon's local fields rather than `toFormat`, which costs ten
 * times more and runs for every member left out of every decision.
 */
export function clockTime(instant: number, ref: number, zone: string): string {
  const t = DateTime.fromMillis(instant, { zone });
  const time = `${two(t.hour)}:${two(t.minute)}${t.second === 0 ? '' : `:${two(t.second)}`}`;
  const days = dayNumber(t) - refDay(ref, zone);
  if (days === 0) return time;
  if (days > 0 && days < 7) return `${WEEKDAYS[t.weekday - 1]} ${time}`;
  return `${t.day} ${MONTHS[t.month - 1]} ${time}`;
}

export function duration(ms: number): string {
  const min = Math.round(ms / 60_000);
  if (ms < 60_000) return `${Math.max(1, Math.round(ms / 1000))} s`;
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
}

export function closedReason(c: ClosedBy, opensAt: number | undefined, at: number, zone: string): string {
  const opens = opensAt === undefined ? '' : `; opens ${clockTime(opensAt, at, zone)}`;
  switch (c.kind) {
    case 'holiday':
      return `closed: ${c.name} (holiday)${opens}`;
    case 'closure':
      return `closed: ${c.name}${opens}`;
    case 'hours':
      return `closed: outside opening hours${opens}`;
  }
}
