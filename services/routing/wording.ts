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

/**
 * A wall-clock time as a person reading a ring list wants it, in `zone`: `15:00` on the same local day
 * as `ref`, `Tue 09:00` within the week, `12 Mar 09:00` beyond. Seconds only when they are not zero
 * (a wrap-up ending at 14:05:20).
 */
export function clockTime(instant: number, ref: number, zone: string): string {
  const t = DateTime.fromMillis(instant, { zone });
  const r = DateTime.fromMillis(ref, { zone });
  const time = t.toFormat(t.second === 0 ? 'HH:mm' : 'HH:mm:ss');
  if (t.hasSame(r, 'day')) return time;
  const days = t.startOf('day').diff(r.startOf('day'), 'days').days;
  if (days > 0 && days < 7) return `${t.toFormat('ccc')} ${time}`;
  return `${t.toFormat('d LLL')} ${time}`;
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
