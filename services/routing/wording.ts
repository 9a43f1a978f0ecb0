import { IANAZone } from 'luxon';
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
const QUARTER_HOUR = 900_000;
const two = (n: number) => (n < 10 ? `0${n}` : String(n));

/**
 * A zone's UTC offset (minutes) at an instant, through luxon, remembered per quarter hour: every offset
 * change in the IANA rules in use today happens on a quarter hour of UTC, and asking Intl for an offset
 * costs about 10 µs, which a decision would otherwise pay for every member it leaves out.
 */
const offsets = new Map<string, number>();
function offsetMinutes(instant: number, zone: string): number {
  const quarter = Math.floor(instant / QUARTER_HOUR);
  const key = `${zone}|${quarter}`;
  let offset = offsets.get(key);
  if (offset === undefined) {
    offset = IANAZone.create(zone).offset(quarter * QUARTER_HOUR);
    if (offsets.size >= 50_000) offsets.clear();
    offsets.set(key, offset);
  }
  return offset;
}

/** Local wall-clock fields of an instant in a zone (a Date read in UTC after shifting by the offset). */
function local(instant: number, zone: string): Date {
  return new Date(instant + offsetMinutes(instant, zone) * 60_000);
}

const dayNumber = (d: Date) => Math.floor(d.getTime() / 86_400_000);

/**
 * A wall-clock time as a person reading a ring list wants it, in `zone`: `15:00` on the same local day
 * as `ref`, `Tue 09:00` within the week, `12 Mar 09:00` beyond. Seconds only when they are not zero
 * (a wrap-up ending at 14:05:20).
 */
export function clockTime(instant: number, ref: number, zone: string): string {
  const t = local(instant, zone);
  const time = `${two(t.getUTCHours())}:${two(t.getUTCMinutes())}${t.getUTCSeconds() === 0 ? '' : `:${two(t.getUTCSeconds())}`}`;
  const days = dayNumber(t) - dayNumber(local(ref, zone));
  if (days === 0) return time;
  if (days > 0 && days < 7) return `${WEEKDAYS[(t.getUTCDay() + 6) % 7]} ${time}`;
  return `${t.getUTCDate()} ${MONTHS[t.getUTCMonth()]} ${time}`;
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
