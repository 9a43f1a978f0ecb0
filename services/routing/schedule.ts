import { DateTime } from 'luxon';
import type { Schedule } from '../../shared/domain/group.js';
import { workingHoursAt } from '../../shared/merge/working-hours.js';

export interface ClosedBy {
  kind: 'hours' | 'holiday' | 'closure';
  /** The holiday's name or the closure's reason. */
  name?: string;
  /** When this particular closure ends (a holiday's local midnight, a closure's `until`). */
  until?: number;
}

export interface ScheduleState {
  open: boolean;
  closedBy?: ClosedBy;
  /** The next instant at which `open` flips, when one is known within `HORIZON_DAYS`. */
  changesAt?: number;
}

const HORIZON_DAYS = 14;
const MAX_STEPS = 128;

function holidayOn(schedule: Schedule, local: DateTime): string | undefined {
  const full = local.toFormat('yyyy-MM-dd');
  const yearly = local.toFormat('MM-dd');
  return schedule.holidays.find((h) => h.date === full || h.date === yearly)?.name;
}

/** Open or closed at one instant, without looking ahead. */
function stateAt(schedule: Schedule, zone: string, at: number): { open: boolean; closedBy?: ClosedBy; edge?: number } {
  const local = DateTime.fromMillis(at, { zone });
  // A holiday is a whole local day: from this midnight to the next, whatever DST does in between.
  const nextMidnight = local.startOf('day').plus({ days: 1 }).toMillis();
  let edge: number | undefined = schedule.holidays.length > 0 ? nextMidnight : undefined;
  const earlier = (t: number | undefined) => {
    if (t !== undefined && t > at && (edge === undefined || t < edge)) edge = t;
  };
  let closedBy: ClosedBy | undefined;
  for (const c of schedule.closures) {
    const from = Date.parse(c.from);
    const until = Date.parse(c.until);
    earlier(from);
    earlier(until);
    if (from <= at && at < until && (!closedBy || until > (closedBy.until ?? 0))) closedBy = { kind: 'closure', name: c.reason, until };
  }
  const holiday = holidayOn(schedule, local);
  if (!closedBy && holiday !== undefined) closedBy = { kind: 'holiday', name: holiday, until: nextMidnight };
  if (schedule.weekly) {
    const hours = workingHoursAt(zone, schedule.weekly, at);
    earlier(hours.nextEdge);
    if (!closedBy && !hours.inside) closedBy = { kind: 'hours' };
  }
  const out: { open: boolean; closedBy?: ClosedBy; edge?: number } = { open: !closedBy };
  if (closedBy) out.closedBy = closedBy;
  if (edge !== undefined) out.edge = edge;
  return out;
}

/**
 * Whether a group takes calls at `at`: inside its weekly opening hours (local wall-clock in its zone, so
 * DST days have their real length), not on a holiday (a whole local day) and not in a one-off closure.
 * No schedule means always open.
 */
export function scheduleAt(schedule: Schedule | undefined, zone: string, at: number): ScheduleState {
  if (!schedule) return { open: true };
  const now = stateAt(schedule, zone, at);
  const out: ScheduleState = { open: now.open };
  if (now.closedBy) out.closedBy = now.closedBy;
  const horizon = at + HORIZON_DAYS * 86_400_000;
  let t = now.edge;
  for (let i = 0; t !== undefined && t <= horizon && i < MAX_STEPS; i++) {
    const s = stateAt(schedule, zone, t);
    if (s.open !== now.open) {
      out.changesAt = t;
      break;
    }
    t = s.edge;
  }
  return out;
}
