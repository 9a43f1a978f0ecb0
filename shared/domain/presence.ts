import type { Activity, Availability } from './activity.js';
import type { ClaimKind, Endpoint, Source } from './signal.js';

export const VERDICTS = ['won', 'lost', 'reachable', 'unreachable', 'stale', 'expired', 'pending', 'inactive'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Why one signal did or did not decide the state. */
export interface ExplanationEntry {
  signal: string;
  source: Source;
  claim: ClaimKind;
  rule?: string;
  verdict: Verdict;
  reason: string;
}

/** A known future transition (RFC 4481 timed-status material). */
export interface NextState {
  at: number;
  availability: Availability;
  activity: Activity;
}

/** What the pure merge decides for one person at one instant. */
export interface Decision {
  availability: Availability;
  activity: Activity;
  routable: boolean;
  endpoints: Endpoint[];
  /** The deciding source and policy rule; absent when nothing decided (baseline rows). */
  source?: Source;
  rule?: string;
  /** The id of the deciding signal. */
  signal?: string;
  until?: number;
  /** The note of the deciding signal (a manual status's, in the person's words). */
  note?: string;
  next?: NextState;
  explanation: ExplanationEntry[];
  /** The next instant at which this decision may change; the scheduler wakes the person then. */
  wakeAt?: number;
}

/** The canonical state of one person, as stored and published. */
export interface Presence extends Decision {
  personId: string;
  /** When this state (availability, activity, until, note, source, endpoints) began. */
  since: number;
  /**
   * When the availability last changed: what views that show only the availability give as `since`, so
   * a change of activity behind it (a meeting ending into a call) does not show. Absent in states stored
   * before it was kept; `since` stands in then.
   */
  availabilitySince?: number;
  /**
   * When the person last went from available to anything else or back: all an external partner sees
   * (available or busy), so a change between busy, away and DND does not show. Absent in states stored
   * before it was kept.
   */
  binarySince?: number;
  /**
   * When the availability, the routability or the endpoints last changed: all a phone system sees of a
   * sensitive person, so its stream is not told when the activity behind them changed. Absent in states
   * stored before it was kept.
   */
  routingSince?: number;
  version: number;
  /**
   * The least version any view of this state shows: the instant of the last directory edit that streams
   * show (a person marked sensitive shows supervisors less, whose version would otherwise go down to when
   * what they still see began). Later states begin after it. Absent until such an edit.
   */
  viewFloor?: number;
  /**
   * The least order of copies of this state (`orderOf` in `store/redis/redis-state.ts`) when above its
   * version: raised by a write that must order after every earlier copy without changing what anyone is
   * shown (the bound after a full outage of Redis, `outage-bound.ts`). Never shown, so no viewer's version
   * moves without an event; the next state's version is above it. Absent otherwise.
   */
  orderFloor?: number;
}
