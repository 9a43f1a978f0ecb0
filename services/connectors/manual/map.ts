import { BUILTIN_ACTIVITIES } from '../../../shared/domain/activity.js';
import type { Person } from '../../../shared/domain/directory.js';
import { own } from '../../../shared/domain/own.js';
import type { Policy } from '../../../shared/domain/policy.js';
import type { Signal, UntilRule } from '../../../shared/domain/signal.js';
import { unprocessable } from '../../../shared/errors/errors.js';
import { resolveUntil } from '../../../shared/merge/until-rule.js';
import type { SignalChange } from '../../merger/apply-changes.js';
import type { ManualStatusInput } from './schema.js';

export const MANUAL_SIGNAL = 'manual';

/** Activities a person may set by hand; the rest are facts reported by phones and calendars. */
export const MANUAL_BUILTINS: ReadonlySet<string> = new Set(['available', 'away', 'break', 'dnd', 'focus', 'in-meeting', 'out-of-office', 'off-work']);

function settable(activity: string, policy: Policy): boolean {
  if (MANUAL_BUILTINS.has(activity)) return true;
  return !(BUILTIN_ACTIVITIES as readonly string[]).includes(activity) && own(policy.activities, activity) !== undefined;
}

/** What may be set, for the refusal: staff cannot read the tenant's activity table. */
function settableList(policy: Policy): string {
  const custom = Object.keys(policy.activities).filter((a) => !(BUILTIN_ACTIVITIES as readonly string[]).includes(a));
  return [...MANUAL_BUILTINS, ...custom].join(', ');
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
    throw unprocessable('unknown_activity', `${input.activity} cannot be set by hand; one of: ${settableList(policy)}`);
  }
  const until = resolveUntil(input.until, person, signals, policy, now);
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
