import { BUILTIN_ACTIVITIES } from '../../../shared/domain/activity.js';
import type { Person } from '../../../shared/domain/directory.js';
import type { Policy } from '../../../shared/domain/policy.js';
import type { Signal, UntilRule } from '../../../shared/domain/signal.js';
import { unprocessable } from '../../../shared/errors/errors.js';
import { judge } from '../../../shared/merge/freshness.js';
import { endOfWorkingDay } from '../../../shared/merge/working-hours.js';
import type { SignalChange } from '../../merger/apply-changes.js';
import type { ManualStatusInput } from './schema.js';

export const MANUAL_SIGNAL = 'manual';

/** Activities a person may set by hand; the rest are facts reported by phones and calendars. */
export const MANUAL_BUILTINS: ReadonlySet<string> = new Set(['available', 'away', 'break', 'dnd', 'focus', 'in-meeting', 'out-of-office', 'off-work']);

const MAX_AHEAD_MS = 90 * 24 * 3600_000;

function settable(activity: string, policy: Policy): boolean {
  if (MANUAL_BUILTINS.has(activity)) return true;
  return !(BUILTIN_ACTIVITIES as readonly string[]).includes(activity) && activity in policy.activities;
}

/** Resolves a semantic `until` against what is known now; the instant is fixed when the status is set. */
function resolveUntil(input: ManualStatusInput, person: Person, signals: readonly Signal[], policy: Policy, now: number): number | undefined {
  const until = input.until;
  if (until === undefined) return undefined;
  if (until === 'end-of-current-meeting') {
    let end: number | undefined;
    for (const s of signals) {
      if (s.claim.kind !== 'calendar' || s.claim.activity === 'out-of-office' || s.until === undefined) continue;
      if (judge(s, policy, now).state !== 'live') continue;
      if (end === undefined || s.until > end) end = s.until;
    }
    if (end === undefined) throw unprocessable('no_current_meeting', 'there is no meeting in progress to wait for');
    return end;
  }
  if (until === 'end-of-working-day') {
    const end = person.workingHours ? endOfWorkingDay(person.timeZone, person.workingHours, now) : undefined;
    if (end === undefined) throw unprocessable('outside_working_hours', 'the person is not inside working hours now');
    return end;
  }
  const at = Date.parse(until);
  if (at <= now) throw unprocessable('until_in_past', 'until must be in the future');
  if (at > now + MAX_AHEAD_MS) throw unprocessable('until_too_far', 'until may be at most 90 days ahead');
  return at;
}

/** The manual status as one signal (`manual`); DND is its own claim so it ranks in the DND row. */
export function manualStatusChange(
  input: ManualStatusInput,
  person: Person,
  signals: readonly Signal[],
  policy: Policy,
  now: number,
): SignalChange {
  if (!settable(input.activity, policy)) {
    throw unprocessable('unknown_activity', `${input.activity} cannot be set by hand here; see the tenant's activity table`);
  }
  const until = resolveUntil(input, person, signals, policy, now);
  const signal: Signal = {
    id: MANUAL_SIGNAL,
    source: 'manual',
    claim: input.activity === 'dnd' ? { kind: 'dnd' } : { kind: 'status', activity: input.activity },
    observedAt: now,
  };
  if (until !== undefined) {
    signal.until = until;
    signal.untilRule = (input.until?.startsWith('end-') ? input.until : 'instant') as UntilRule;
  }
  if (input.note !== undefined) signal.note = input.note;
  return { op: 'put', signal };
}
