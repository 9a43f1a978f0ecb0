import type { Signal } from '../../../shared/domain/signal.js';
import type { GraphPresence } from './schema.js';

export const TEAMS_SIGNAL = 'teams:presence';

/**
 * Teams activities that tell the phone system something a calendar cannot (design §3 row 3). Compared
 * case-insensitively: the 2025-12 docs use lowerCamel (protocols §1.7). Every other activity (Available,
 * Away, Busy, InAMeeting, OffWork, PresenceUnknown, a value added later …) gives no Teams claim: the
 * calendar, phones and apps already say it, and an unknown Teams value must not outrank them.
 */
const ACTIVITY: Readonly<Record<string, string>> = {
  inacall: 'on-call',
  inaconferencecall: 'on-call',
  presenting: 'presenting',
  donotdisturb: 'dnd',
  urgentinterruptionsonly: 'dnd',
  focusing: 'focus',
};

/** The Teams presence as a status signal, or undefined when Teams says nothing the policy ranks. */
export function mapTeamsPresence(p: GraphPresence, observedAt: number): Signal | undefined {
  const byActivity = p.activity ? ACTIVITY[p.activity.toLowerCase()] : undefined;
  const activity = byActivity ?? (p.availability?.toLowerCase() === 'donotdisturb' ? 'dnd' : undefined);
  if (!activity) return undefined;
  return { id: TEAMS_SIGNAL, source: 'teams', claim: { kind: 'status', activity }, observedAt };
}
