import { z } from 'zod';
import { MEETING_ACTIVITIES } from '../domain/activity.js';
import type { Person } from '../domain/directory.js';
import type { Policy } from '../domain/policy.js';
import type { Signal } from '../domain/signal.js';
import { unprocessable } from '../errors/errors.js';
import { judge } from './freshness.js';
import { endOfWorkingDay } from './working-hours.js';

/** How long something a person sets lasts: an instant (RFC 3339 with offset), or a rule fixed when it is set. */
export const untilInputSchema = z.union([z.iso.datetime({ offset: true }), z.enum(['end-of-current-meeting', 'end-of-working-day'])]);
export type UntilInput = z.infer<typeof untilInputSchema>;

const MAX_AHEAD_MS = 90 * 24 * 3600_000;

/**
 * A meeting, presenting or focus time from a calendar, or set by hand ("in meeting until 15:00"): what
 * presence shows as a meeting, so a pause or status until its end never disagrees with what people see.
 */
function inMeeting(s: Signal): boolean {
  return (s.claim.kind === 'calendar' || s.claim.kind === 'status') && MEETING_ACTIVITIES.has(s.claim.activity);
}

/** Resolves a semantic `until` against what is known now; the instant is fixed when it is set. */
export function resolveUntil(until: UntilInput | undefined, person: Person, signals: readonly Signal[], policy: Policy, now: number): number | undefined {
  if (until === undefined) return undefined;
  if (until === 'end-of-current-meeting') {
    let end: number | undefined;
    for (const s of signals) {
      if (!inMeeting(s) || s.until === undefined || judge(s, policy, now).state !== 'live') continue;
      if (end === undefined || s.until > end) end = s.until;
    }
    if (end === undefined) throw unprocessable('no_current_meeting', 'there is no meeting in progress with a known end to wait for');
    return end;
  }
  if (until === 'end-of-working-day') {
    // Without working hours someone is never off work, so their day has no end to wait for.
    if (!person.workingHours) throw unprocessable('no_working_hours', 'the person has no working hours, so their working day has no end');
    const end = endOfWorkingDay(person.timeZone, person.workingHours, now);
    if (end === undefined) throw unprocessable('outside_working_hours', 'the person is not inside working hours now');
    return end;
  }
  const at = Date.parse(until);
  if (at <= now) throw unprocessable('until_in_past', 'until must be in the future');
  if (at > now + MAX_AHEAD_MS) throw unprocessable('until_too_far', 'until may be at most 90 days ahead');
  return at;
}
