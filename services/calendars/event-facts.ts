import type { CalendarPolicy, CalendarSource } from '../../shared/domain/calendar.js';
import type { CalendarActivity, Signal } from '../../shared/domain/signal.js';

/**
 * What a provider's event says about presence, in one neutral shape. Each provider's `map` decides
 * every one of its values explicitly into these; `decideEvent` then applies the tenant's policy the
 * same way for all providers. Titles, attendees and locations never get this far.
 */
export interface EventFacts {
  /** The provider's id of this occurrence. */
  id: string;
  /** How the event shows the person's time. `unknown` decides nothing. */
  show: 'busy' | 'tentative' | 'free' | 'out-of-office' | 'focus' | 'unknown';
  /** The person's own answer: `organizer` and `none` need no answer; `unanswered` counts as tentative. */
  response: 'organizer' | 'none' | 'accepted' | 'tentative' | 'unanswered' | 'declined' | 'unknown';
  private: boolean;
  allDay: boolean;
  /** Epoch ms; all-day events already resolved in the person's zone. */
  start: number;
  end: number;
}

/** An event that is gone (deleted, cancelled) or cannot be read; it removes any signal it had. */
export interface EventGone {
  id: string;
  gone: string;
}

export type EventVerdict = { id: string; signal: Signal } | { id: string; reason: string };

export function signalIdFor(source: CalendarSource, eventId: string): string {
  return `${source}:evt:${eventId}`;
}

export function signalPrefix(source: CalendarSource): string {
  return `${source}:evt:`;
}

const MIN = 60_000;

/**
 * The tenant's calendar policy applied to one event: a signal `from` start (minus the buffer) `until`
 * end (plus the buffer), or the reason it decides nothing. Only start, end and kind survive.
 */
export function decideEvent(facts: EventFacts | EventGone, policy: CalendarPolicy, source: CalendarSource, observedAt: number): EventVerdict {
  const id = signalIdFor(source, facts.id);
  if ('gone' in facts) return { id, reason: facts.gone };
  if (facts.response === 'declined') return { id, reason: 'declined' };
  if (facts.response === 'unknown') return { id, reason: 'unrecognised response status' };
  let activity: CalendarActivity;
  switch (facts.show) {
    case 'free':
      return { id, reason: 'shows as free' };
    case 'unknown':
      return { id, reason: 'shows as unknown' };
    case 'out-of-office':
      activity = 'out-of-office';
      break;
    case 'focus':
      activity = 'focus';
      break;
    case 'busy':
    case 'tentative':
      activity = 'in-meeting';
      break;
  }
  const tentative = facts.show === 'tentative' || facts.response === 'tentative' || facts.response === 'unanswered';
  if (activity === 'in-meeting' && tentative && policy.tentative === 'free') return { id, reason: 'tentative, and the policy counts tentative as free' };
  if (facts.private && policy.privateEvents === 'free') return { id, reason: 'private, and the policy ignores private events' };
  if (facts.allDay && activity !== 'out-of-office' && policy.allDay === 'free') return { id, reason: 'all-day, and the policy ignores all-day events' };
  let from = facts.start;
  let until = facts.end;
  if (!(until > from)) return { id, reason: 'ends before it starts' };
  if (activity === 'in-meeting' && !facts.allDay) {
    from -= policy.bufferBeforeMinutes * MIN;
    until += policy.bufferAfterMinutes * MIN;
  }
  if (until <= observedAt) return { id, reason: 'already over' };
  return { id, signal: { id, source, claim: { kind: 'calendar', activity }, observedAt, from, until } };
}
