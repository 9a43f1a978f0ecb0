import { emptyMemberState, type AgentCallState, type GroupRoutingState, type MemberRoutingState } from '../../shared/store/routing-state.js';
import type { CallOutcome } from '../connectors/pbx/call-outcomes.js';
import { own } from '../../shared/domain/own.js';

const NOTHING_DROPPED: ReadonlyArray<keyof AgentCallState> = [];

/**
 * `{ ...s, ...set }` without the `drop` keys, in the key order the spread leaves (and `delete` would):
 * `delete` of a property other than the last one added turns an object into a slow dictionary, several
 * times larger, and every PBX call outcome makes one of these.
 */
function edited(s: AgentCallState, set: Partial<AgentCallState>, drop: ReadonlyArray<keyof AgentCallState>): AgentCallState {
  const out: Record<string, unknown> = {};
  for (const k in s) if (!drop.includes(k as keyof AgentCallState)) out[k] = k in set ? set[k as keyof AgentCallState] : s[k as keyof AgentCallState];
  for (const k in set) if (!(k in out) && !drop.includes(k as keyof AgentCallState)) out[k] = set[k as keyof AgentCallState];
  return out as unknown as AgentCallState;
}

/**
 * A person's call statistics after one outcome: the call in progress on `answered`; on the `hangup` of
 * that call, the end of their last call and its length towards their typical call length. A hangup of a
 * call they never answered (it rang out) is not a call they had. `ended` says whether this outcome ended
 * an answered call. Events older than the last recorded end are duplicates or out of order.
 */
export function applyOutcomeToAgent(s: AgentCallState, o: CallOutcome): { next: AgentCallState; ended: boolean } {
  // A call may be answered in the very millisecond the previous one ended; a hangup may not repeat.
  const stale = s.lastCallEndAt !== undefined && (o.type === 'answered' ? o.at < s.lastCallEndAt : o.at <= s.lastCallEndAt);
  if (stale) return { next: s, ended: false };
  if (o.type === 'answered') {
    if (s.callStartedAt !== undefined && s.callId === o.callId) return { next: s, ended: false };
    const next = o.callId !== undefined ? edited(s, { callStartedAt: o.at, callId: o.callId }, NOTHING_DROPPED) : edited(s, { callStartedAt: o.at }, ['callId']);
    return { next, ended: false };
  }
  const sameCall = s.callStartedAt !== undefined && (o.callId === undefined || s.callId === undefined || o.callId === s.callId);
  if (!sameCall || o.at < s.callStartedAt!) return { next: s, ended: false };
  const next = edited(s, { lastCallEndAt: o.at, talkMs: s.talkMs + (o.at - s.callStartedAt!), talkCalls: s.talkCalls + 1 }, ['callStartedAt', 'callId']);
  return { next, ended: true };
}

/**
 * A group member's strategy state after one outcome of a call from that group: any offer in flight is
 * settled (the call reached them or rang out), and the end of an answered call counts a completed call on
 * the group's local `day` and is the instant their wrap-up (as long as the PBX said, else the group's)
 * and idle time run from.
 */
export function applyOutcomeToMember(s: GroupRoutingState, o: CallOutcome, day: string, endedAnsweredCall: boolean): GroupRoutingState {
  const m = own(s.members, o.personId) ?? emptyMemberState();
  if (!endedAnsweredCall || (m.lastCallEndAt !== undefined && o.at <= m.lastCallEndAt)) {
    if (m.offers.length === 0) return s;
    return { ...s, members: { ...s.members, [o.personId]: { ...m, offers: [] } } };
  }
  const callsToday = (m.day === day ? m.callsToday : 0) + 1;
  const next: MemberRoutingState = { ...m, day, callsToday, lastCallEndAt: o.at, offers: [] };
  if (o.wrapUpSeconds !== undefined) next.wrapUpSeconds = o.wrapUpSeconds;
  else delete next.wrapUpSeconds;
  return { ...s, members: { ...s.members, [o.personId]: next } };
}
