import { own } from '../../../shared/domain/own.js';
import type { CalendarPolicy } from '../../../shared/domain/calendar.js';
import { instantOf, startOfDateIn } from '../../calendars/event-time.js';
import { decideEvent, type EventFacts, type EventGone, type EventVerdict } from '../../calendars/event-facts.js';
import { googleEventSchema, type GoogleEvent } from './schema.js';

export interface MapContext {
  policy: CalendarPolicy;
  /** The person's IANA zone: all-day events are days there, and a dateTime without offset is read there unless the event names a zone. */
  zone: string;
  observedAt: number;
}

/** `status`: confirmed (the default), tentative, cancelled. */
const STATUS: Readonly<Record<string, 'confirmed' | 'tentative' | 'cancelled'>> = { confirmed: 'confirmed', tentative: 'tentative', cancelled: 'cancelled' };

/** `eventType` (guides/event-types). `fromGmail` events (flights, bookings) block time like any other. */
const EVENT_TYPE: Readonly<Record<string, 'default' | EventFacts['show']>> = {
  default: 'default',
  fromgmail: 'default',
  outofoffice: 'out-of-office',
  focustime: 'focus',
  // A working location says where, not that the person is busy.
  workinglocation: 'free',
  birthday: 'free',
};

/** `transparency`: opaque (the default, busy) or transparent (free). */
const TRANSPARENCY: Readonly<Record<string, EventFacts['show']>> = { opaque: 'busy', transparent: 'free' };

/** The person's own `attendees[self].responseStatus`: needsAction, declined, tentative, accepted. */
const RESPONSE: Readonly<Record<string, EventFacts['response']>> = {
  accepted: 'accepted',
  tentative: 'tentative',
  declined: 'declined',
  needsaction: 'unanswered',
};

/** `visibility`: default, public, private, confidential. Unknown counts as private. */
const PRIVATE: Readonly<Record<string, boolean>> = { default: false, public: false, private: true, confidential: true };

function show(e: GoogleEvent): EventFacts['show'] {
  const type = e.eventType === undefined ? 'default' : EVENT_TYPE[e.eventType.toLowerCase()];
  if (type === undefined) return 'unknown';
  if (type !== 'default') return type;
  const busy = e.transparency === undefined ? 'busy' : TRANSPARENCY[e.transparency.toLowerCase()];
  if (busy === undefined) return 'unknown';
  return busy === 'busy' && e.status?.toLowerCase() === 'tentative' ? 'tentative' : busy;
}

function response(e: GoogleEvent): EventFacts['response'] {
  const self = e.attendees?.find((a) => a.self === true);
  // No attendee entry for the owner: their own event (or the organizer's copy).
  if (!self) return e.organizer?.self === true ? 'organizer' : 'none';
  if (self.responseStatus === undefined) return 'none';
  return RESPONSE[self.responseStatus.toLowerCase()] ?? 'unknown';
}

function instant(t: NonNullable<GoogleEvent['start']>, zone: string): { at?: number; allDay: boolean } {
  if (t.date !== undefined) {
    const at = startOfDateIn(t.date, zone);
    return at === undefined ? { allDay: true } : { at, allDay: true };
  }
  if (t.dateTime === undefined) return { allDay: false };
  const at = instantOf(t.dateTime, t.timeZone ?? zone);
  return at === undefined ? { allDay: false } : { at, allDay: false };
}

/** One Google event (a single occurrence, `singleEvents=true`) into the neutral facts, or the reason it is gone. */
export function googleEventFacts(e: GoogleEvent, zone: string): EventFacts | EventGone {
  const status = e.status === undefined ? 'confirmed' : STATUS[e.status.toLowerCase()];
  // Deleted events come back as cancelled with few fields (protocols §2.4).
  if (status === 'cancelled') return { id: e.id, gone: 'cancelled' };
  if (!e.start || !e.end) return { id: e.id, gone: 'no start or end' };
  const start = instant(e.start, zone);
  const end = instant(e.end, zone);
  if (start.at === undefined || end.at === undefined) return { id: e.id, gone: 'unreadable start or end' };
  const visibility = e.visibility?.toLowerCase();
  return {
    id: e.id,
    show: status === undefined ? 'unknown' : show(e),
    response: response(e),
    private: visibility === undefined ? false : (own(PRIVATE, visibility) ?? true),
    allDay: start.allDay,
    start: start.at,
    end: end.at,
  };
}

/** A Google event into a signal, or the reason it decides nothing. */
export function mapGoogleEvent(raw: unknown, ctx: MapContext): EventVerdict | undefined {
  const parsed = googleEventSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  return decideEvent(googleEventFacts(parsed.data, ctx.zone), ctx.policy, 'google', ctx.observedAt);
}
