import { own } from '../../../shared/domain/own.js';
import type { CalendarPolicy } from '../../../shared/domain/calendar.js';
import { instantOf, startOfDateIn } from '../../calendars/event-time.js';
import { decideEvent, type EventFacts, type EventGone, type EventVerdict } from '../../calendars/event-facts.js';
import { graphEventSchema, type GraphEvent } from './schema.js';

export interface MapContext {
  policy: CalendarPolicy;
  /** The person's IANA zone: all-day events are days there. */
  zone: string;
  observedAt: number;
}

/** `showAs` (event.md): free, tentative, busy, oof, workingElsewhere, unknown. */
const SHOW_AS: Readonly<Record<string, EventFacts['show']>> = {
  free: 'free',
  tentative: 'tentative',
  busy: 'busy',
  oof: 'out-of-office',
  // Working from somewhere else is not being busy.
  workingelsewhere: 'free',
  unknown: 'unknown',
};

/** `responseStatus.response`: none, organizer, tentativelyAccepted, accepted, declined, notResponded. */
const RESPONSE: Readonly<Record<string, EventFacts['response']>> = {
  none: 'none',
  organizer: 'organizer',
  accepted: 'accepted',
  tentativelyaccepted: 'tentative',
  declined: 'declined',
  notresponded: 'unanswered',
};

/** `sensitivity`: normal, personal, private, confidential (no `isPrivate` in v1.0). Unknown counts as private. */
const PRIVATE: Readonly<Record<string, boolean>> = { normal: false, personal: false, private: true, confidential: true };

/** One Graph event into the neutral facts, or the reason it is gone. */
export function graphEventFacts(e: GraphEvent, zone: string): EventFacts | EventGone {
  if (e['@removed']) return { id: e.id, gone: `removed (${e['@removed'].reason ?? 'deleted'})` };
  if (e.isCancelled === true) return { id: e.id, gone: 'cancelled' };
  // calendarView expands a series into occurrences; a master on its own would double-count.
  if (e.type?.toLowerCase() === 'seriesmaster') return { id: e.id, gone: 'series master (its occurrences count)' };
  if (!e.start || !e.end) return { id: e.id, gone: 'no start or end' };
  const allDay = e.isAllDay === true;
  const start = allDay ? startOfDateIn(e.start.dateTime, zone) : instantOf(e.start.dateTime, e.start.timeZone);
  const end = allDay ? startOfDateIn(e.end.dateTime, zone) : instantOf(e.end.dateTime, e.end.timeZone);
  if (start === undefined || end === undefined) return { id: e.id, gone: 'unreadable start or end' };
  const sensitivity = e.sensitivity?.toLowerCase();
  return {
    id: e.id,
    show: e.showAs === undefined ? 'unknown' : (SHOW_AS[e.showAs.toLowerCase()] ?? 'unknown'),
    response: e.responseStatus?.response === undefined ? 'none' : (RESPONSE[e.responseStatus.response.toLowerCase()] ?? 'unknown'),
    private: sensitivity === undefined ? false : (own(PRIVATE, sensitivity) ?? true),
    allDay,
    start,
    end,
  };
}

/** A Graph event (calendarView delta item) into a signal, or the reason it decides nothing. */
export function mapGraphEvent(raw: unknown, ctx: MapContext): EventVerdict | undefined {
  const parsed = graphEventSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  return decideEvent(graphEventFacts(parsed.data, ctx.zone), ctx.policy, 'outlook', ctx.observedAt);
}
