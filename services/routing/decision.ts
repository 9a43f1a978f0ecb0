import type { Availability } from '../../shared/domain/activity.js';
import type { Strategy } from '../../shared/domain/group.js';
import type { EndpointKind, Source } from '../../shared/domain/signal.js';
import type { Detail } from '../api/views.js';

/** Something to ring: a SIP URI for a desk phone or softphone, a phone number for a mobile app. */
export interface Contact {
  endpointId: string;
  kind: EndpointKind;
  uri: string;
}

/** One person on the ring list. People with the same `step` ring together. */
export interface RingEntry {
  step: number;
  personId: string;
  name: string;
  priority: number;
  ringTimeoutSeconds: number;
  contacts: Contact[];
  /** Set when the person rings although their presence alone would not allow it. */
  note?: string;
}

export const LEAVE_CODES = [
  'not-in-directory',
  'caller',
  'missing-skill',
  'paused',
  'dnd',
  'in-meeting',
  'on-call',
  'wrap-up',
  'away',
  'off-work',
  'busy',
  'no-reachable-device',
  'unknown',
] as const;
export type LeaveCode = (typeof LEAVE_CODES)[number];

/** A member left off the ring list, and why, in full; the view trims it to what the caller may see. */
export interface LeftOut {
  personId: string;
  name?: string;
  code: LeaveCode;
  reason: string;
  availability?: Availability;
  activity?: string;
  source?: Source;
  until?: number;
  /** When they are expected to be free: the end of the meeting, the call's start plus their typical call length. */
  predictedFreeAt?: number;
  /** Someone paused: what would keep them out once the pause ends (absent: nothing would). Never shown. */
  afterPause?: LeaveCode;
  /** How much of this the caller may see (design §6). */
  detail: Detail;
}

export type FallbackOutcome =
  | { type: 'queue'; maxWaitSeconds: number; predictedWaitSeconds?: number; uri?: string; skipped?: string }
  | { type: 'overflow'; groupId: string; name: string; strategy?: Strategy; ring: RingEntry[]; skipped?: string }
  | { type: 'voicemail'; box: string; uri?: string }
  | { type: 'forward'; number?: string; uri?: string; label?: string }
  | { type: 'hangup'; message: string; sipCode: number };

export interface RouteTarget {
  kind: 'group' | 'person';
  id: string;
  name: string;
  timeZone: string;
}

/** The answer to "who do I ring for this call, and what if nobody answers". Instants are epoch ms. */
export interface RouteDecision {
  at: number;
  dryRun: boolean;
  target: RouteTarget;
  /** `ringing`: someone is on the ring list; `fallback`: nobody is, the chain applies; `closed`: outside the schedule. */
  status: 'ringing' | 'fallback' | 'closed';
  open: boolean;
  closedReason?: string;
  /** When the schedule next opens or closes. */
  scheduleChangesAt?: number;
  strategy: Strategy;
  ringTimeoutSeconds: number;
  /** Sum of the step timeouts: how long the caller hears ringing before the fallback chain. */
  totalRingSeconds: number;
  ring: RingEntry[];
  fallback: FallbackOutcome[];
  leftOut: LeftOut[];
}
