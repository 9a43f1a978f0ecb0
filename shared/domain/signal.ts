import type { Activity } from './activity.js';
import type { WeeklyHours } from './working-hours.js';

/** Where a signal came from. `directory` carries facts configured by an administrator (working hours). */
export const SOURCES = ['manual', 'pbx', 'mobile', 'teams', 'outlook', 'google', 'directory'] as const;
export type Source = (typeof SOURCES)[number];

export const ENDPOINT_KINDS = ['desk', 'softphone', 'mobile'] as const;
export type EndpointKind = (typeof ENDPOINT_KINDS)[number];

/** Something a call can be offered to. `contact` is a SIP URI or, for a mobile app, a number. */
export interface Endpoint {
  id: string;
  kind: EndpointKind;
  contact?: string;
}

export const CALL_STATES = ['ringing', 'on-call', 'on-hold'] as const;
export type CallState = (typeof CALL_STATES)[number];

/**
 * `unknown` is what a calendar says when it cannot be read (a broken connection awaiting consent): no
 * default rule matches it, so it decides nothing, but the explanation shows the source as unknown.
 */
export const CALENDAR_ACTIVITIES = ['out-of-office', 'presenting', 'in-meeting', 'focus', 'unknown'] as const;
export type CalendarActivity = (typeof CALENDAR_ACTIVITIES)[number];

/** What a signal claims about a person. The policy matches rules on `kind`. */
export type Claim =
  | { kind: 'dnd' }
  | { kind: 'call'; state: CallState }
  | { kind: 'status'; activity: Activity }
  | { kind: 'calendar'; activity: CalendarActivity }
  | { kind: 'wrap-up' }
  | { kind: 'working-hours'; zone: string; week: WeeklyHours }
  | { kind: 'endpoint'; endpoint: Endpoint; reachable: boolean }
  /** An ended fact kept only so that older, out-of-order events for the same id are recognised. */
  | { kind: 'cleared' };

export type ClaimKind = Claim['kind'];

/**
 * A small typed fact from one source about one person. Instants are epoch milliseconds.
 * A signal with the same `id` replaces the earlier one for that person.
 */
export interface Signal {
  id: string;
  source: Source;
  claim: Claim;
  /** When the source observed it (the PBX's own timestamp for PBX events). */
  observedAt: number;
  /** The claim holds from this instant (a future meeting); absent means since `observedAt`. */
  from?: number;
  /** The claim stops being true at this instant (meeting end, manual expiry, heartbeat TTL). */
  until?: number;
  /** How `until` was chosen, for the explanation: an instant, or a rule resolved when set. */
  untilRule?: UntilRule;
  /** A short, non-sensitive note (a custom reason's text, a device name). Never a meeting title. */
  note?: string;
}

export const UNTIL_RULES = ['instant', 'end-of-current-meeting', 'end-of-working-day'] as const;
export type UntilRule = (typeof UNTIL_RULES)[number];
