import { MEETING_ACTIVITIES } from '../../shared/domain/activity.js';
import type { Person } from '../../shared/domain/directory.js';
import type { GroupMember } from '../../shared/domain/group.js';
import { own } from '../../shared/domain/own.js';
import { pausedFor, type QueuePause } from '../../shared/domain/queue-pause.js';
import { endsWrapUp } from '../../shared/merge/ready.js';
import type { AgentCallState, MemberRoutingState } from '../../shared/store/routing-state.js';
import { seesActivity, type Detail } from '../api/views.js';
import type { Contact, LeaveCode, LeftOut } from './decision.js';
import type { PresenceAt } from './presence-at.js';
import { clockTime, SOURCE_LABELS } from './wording.js';

export interface MemberFacts {
  member: GroupMember;
  person: Person | undefined;
  presence: PresenceAt;
  agent: AgentCallState;
  /** What this group's strategy state says about the member (its last call, for wrap-up). */
  memberState: MemberRoutingState | undefined;
  /** Their pause from group calls, if they set one (or a supervisor did). */
  pause?: QueuePause | undefined;
}

export interface EligibilityRules {
  at: number;
  /** Reasons are worded in this zone (the group's, or the dialled person's). */
  zone: string;
  leaveWhen: { dnd: boolean; meeting: boolean };
  /** Minimum levels: the group's own requirement and the caller's, combined. */
  requiredSkills: Readonly<Record<string, number>>;
  /** Seconds after a call from this group before the member is offered the next one. */
  wrapUpSeconds: number;
  /** The group being decided; absent for a dialled person, whom a pause from group calls does not concern. */
  groupId?: string;
  /** The caller's extension, number or SIP URI: a member calling their own group is not rung. */
  caller?: string;
  detailFor: (person: Person) => Detail;
}

export type Eligibility = { eligible: true; contacts: Contact[]; note?: string } | { eligible: false; leftOut: LeftOut };

const CALL = new Set(['on-call', 'on-hold', 'ringing']);
const AWAY = new Set(['away', 'break', 'out-of-office']);

const LABELS: Record<string, string> = {
  dnd: 'DND',
  'in-meeting': 'in meeting',
  presenting: 'presenting',
  focus: 'focus time',
  'on-call': 'on a call',
  'on-hold': 'on hold',
  ringing: 'ringing',
  'wrap-up': 'wrap-up',
  away: 'away',
  break: 'on a break',
  'out-of-office': 'out of office',
  'off-work': 'off work',
};

function isDnd(p: PresenceAt): boolean {
  return p.activity === 'dnd' || (p.availability === 'dnd' && !MEETING_ACTIVITIES.has(p.activity));
}

function codeOf(p: PresenceAt): LeaveCode {
  if (MEETING_ACTIVITIES.has(p.activity)) return 'in-meeting';
  if (isDnd(p)) return 'dnd';
  if (CALL.has(p.activity)) return 'on-call';
  if (p.activity === 'wrap-up') return 'wrap-up';
  if (AWAY.has(p.activity)) return 'away';
  if (p.activity === 'off-work') return 'off-work';
  if (p.availability === 'offline' || p.availability === 'available') return 'no-reachable-device';
  if (p.availability === 'unknown') return 'unknown';
  return 'busy';
}

export function contactsOf(p: PresenceAt): Contact[] {
  const out: Contact[] = [];
  for (const e of p.endpoints) if (e.contact) out.push({ endpointId: e.id, kind: e.kind, uri: e.contact });
  return out;
}

function typicalCallMs(agent: AgentCallState): number | undefined {
  return agent.talkCalls > 0 ? agent.talkMs / agent.talkCalls : undefined;
}

function missingSkill(facts: MemberFacts, person: Person, required: Readonly<Record<string, number>>): string | undefined {
  for (const [skill, min] of Object.entries(required)) {
    const level = own(facts.member.skills, skill) ?? own(person.skills, skill) ?? 0;
    if (level < min) return level === 0 ? `lacks skill ${skill}` : `skill ${skill} at level ${level}, needs ${min}`;
  }
  return undefined;
}

function isCaller(person: Person, caller: string | undefined): boolean {
  if (!caller) return false;
  return caller === person.extension || caller === person.sipUri || caller === person.mobileNumber || caller === person.id;
}

function leave(person: Person | undefined, personId: string, code: LeaveCode, reason: string, detail: Detail): Eligibility {
  const leftOut: LeftOut = { personId, code, reason, detail };
  if (person) leftOut.name = person.name;
  return { eligible: false, leftOut };
}

/** Why a presence keeps someone off the ring list, worded for a person reading it. */
function absence(p: PresenceAt, facts: MemberFacts, rules: EligibilityRules, detail: Detail): LeftOut {
  const person = facts.person!;
  const base = { personId: person.id, name: person.name, detail, availability: p.availability };
  const code = codeOf(p);
  const source = p.source ? ` (${SOURCE_LABELS[p.source]})` : '';
  const out: LeftOut = { ...base, code, reason: '', activity: p.activity };
  if (p.source) out.source = p.source;
  if (p.until !== undefined) out.until = p.until;
  if (code === 'no-reachable-device') {
    out.reason = 'no reachable device';
    return out;
  }
  if (code === 'unknown') {
    out.reason = 'presence unknown: no source has said anything recent';
    return out;
  }
  const label = own(LABELS, p.activity) ?? p.activity;
  if (code === 'on-call') {
    const start = facts.agent.callStartedAt ?? p.decidedSince;
    const typical = typicalCallMs(facts.agent);
    out.reason = start !== undefined ? `${label} since ${clockTime(start, rules.at, rules.zone)}${source}` : `${label}${source}`;
    // A ringing call has not begun: taken now, it lasts a typical call from now, however long it has rung.
    const talkFrom = p.activity === 'ringing' ? rules.at : start;
    if (talkFrom !== undefined && typical !== undefined) out.predictedFreeAt = Math.max(rules.at, Math.round(talkFrom + typical));
    return out;
  }
  out.reason = p.until !== undefined ? `${label} until ${clockTime(p.until, rules.at, rules.zone)}${source}` : `${label}${source}`;
  if (p.until !== undefined && p.until > rules.at) out.predictedFreeAt = p.until;
  return out;
}

/** A pause in its own words; its end and reason only for those who may see what someone is doing and until when. */
function paused(pause: QueuePause, facts: MemberFacts, rules: EligibilityRules, detail: Detail): LeftOut {
  const { presence } = facts;
  const person = facts.person!;
  const told = seesActivity(detail);
  const until = pause.until === undefined || !told ? '' : ` until ${clockTime(pause.until, rules.at, rules.zone)}`;
  const why = pause.reason === undefined || !told ? '' : ` (${pause.reason})`;
  const out: LeftOut = { personId: person.id, name: person.name, code: 'paused', reason: `paused from group calls${until}${why}`, detail };
  const busy = presence.routable ? undefined : absence(presence, facts, rules, detail);
  if (busy) out.afterPause = busy.code;
  if (pause.until !== undefined) {
    out.until = pause.until;
    // Free when both the pause and what keeps them busy have ended (a meeting's end, a call's typical length).
    const busyUntil = busy ? busy.predictedFreeAt : pause.until;
    if (busyUntil !== undefined) out.predictedFreeAt = Math.max(pause.until, busyUntil);
  }
  return out;
}

/**
 * Whether one member may be rung at `rules.at`, and if not, why. Presence decides (a member in DND or a
 * meeting leaves the group unless the group says otherwise, and comes back when it ends, because the
 * presence does), then the group's own wrap-up after a call it delivered, unless they said "ready" since.
 */
export function judgeMember(facts: MemberFacts, rules: EligibilityRules): Eligibility {
  const { person, presence: p, member } = facts;
  if (!person) return leave(undefined, member.personId, 'not-in-directory', 'not in the directory', 'availability');
  const detail = rules.detailFor(person);
  if (isCaller(person, rules.caller)) return leave(person, person.id, 'caller', 'is the caller', detail);
  const skill = missingSkill(facts, person, rules.requiredSkills);
  if (skill) return leave(person, person.id, 'missing-skill', skill, detail);
  if (rules.groupId !== undefined && pausedFor(facts.pause, rules.groupId, rules.at)) return { eligible: false, leftOut: paused(facts.pause, facts, rules, detail) };

  const contacts = contactsOf(p);
  if (!p.routable) {
    const keptInMeeting = MEETING_ACTIVITIES.has(p.activity) && !rules.leaveWhen.meeting;
    const keptInDnd = isDnd(p) && !rules.leaveWhen.dnd;
    if ((keptInMeeting || keptInDnd) && contacts.length > 0) {
      return { eligible: true, contacts, note: keptInMeeting ? 'rings during meetings in this group' : 'rings despite DND in this group' };
    }
    return { eligible: false, leftOut: absence(p, facts, rules, detail) };
  }
  if (contacts.length === 0) return leave(person, person.id, 'no-reachable-device', 'no contact address for its reachable devices', detail);

  const lastEnd = facts.memberState?.lastCallEndAt;
  const wrapEnd = lastEnd === undefined ? undefined : lastEnd + (facts.memberState?.wrapUpSeconds ?? rules.wrapUpSeconds) * 1000;
  if (wrapEnd !== undefined && lastEnd! <= rules.at && rules.at < wrapEnd && !endsWrapUp({ ...p, since: p.decidedSince }, lastEnd!)) {
    const reason = `wrap-up until ${clockTime(wrapEnd, rules.at, rules.zone)} (after a call from this group)`;
    const out: LeftOut = { personId: person.id, name: person.name, code: 'wrap-up', reason, detail, availability: 'busy', activity: 'wrap-up', until: wrapEnd, predictedFreeAt: wrapEnd };
    return { eligible: false, leftOut: out };
  }
  return { eligible: true, contacts };
}
