import { describe, expect, it } from 'vitest';
import { DEFAULT_CALENDAR_POLICY, resolveCalendarPolicy, type CalendarPolicyInput } from '../../../shared/domain/calendar.js';
import { mapGoogleEvent } from '../../../services/connectors/google/map.js';
import { fixture } from '../../support/fixtures.js';

const NOW = Date.parse('2026-03-02T09:30:00Z');
const base = fixture('google', 'event-busy');
const at = (iso: string) => Date.parse(iso);

interface Row {
  name: string;
  over: Record<string, unknown>;
  policy?: CalendarPolicyInput;
  zone?: string;
  want: { activity: string; from: string; until: string } | { reason: RegExp };
}

const busy = { activity: 'in-meeting', from: '2026-03-02T14:00:00.000Z', until: '2026-03-02T15:00:00.000Z' };
const me = (responseStatus: string) => ({ attendees: [{ email: 'bob.secret@example.com', organizer: true, responseStatus: 'accepted' }, { email: 'alice@example.com', self: true, responseStatus }] });
const allDay = (over: Record<string, unknown>) => ({ start: { date: '2026-03-04' }, end: { date: '2026-03-05' }, ...over });

const rows: Row[] = [
  { name: 'default event, accepted', over: {}, want: busy },
  { name: 'transparency transparent is free', over: { transparency: 'transparent' }, want: { reason: /free/ } },
  { name: 'transparency opaque is busy', over: { transparency: 'opaque' }, want: busy },
  { name: 'an unrecognised transparency decides nothing', over: { transparency: 'translucent' }, want: { reason: /unknown/ } },
  { name: 'status cancelled', over: { status: 'cancelled' }, want: { reason: /cancelled/ } },
  { name: 'status tentative counts as busy by default', over: { status: 'tentative' }, want: busy },
  { name: 'status tentative, policy tentative=free', over: { status: 'tentative' }, policy: { tentative: 'free' }, want: { reason: /tentative/ } },
  { name: 'an unrecognised status decides nothing', over: { status: 'pencilled' }, want: { reason: /unknown/ } },
  { name: 'no status means confirmed', over: { status: undefined }, want: busy },
  { name: 'eventType outOfOffice', over: { eventType: 'outOfOffice' }, want: { ...busy, activity: 'out-of-office' } },
  { name: 'eventType focusTime', over: { eventType: 'focusTime', focusTimeProperties: { chatStatus: 'doNotDisturb' } }, want: { ...busy, activity: 'focus' } },
  { name: 'eventType workingLocation is not busy', over: { eventType: 'workingLocation', workingLocationProperties: { type: 'homeOffice' } }, want: { reason: /free/ } },
  { name: 'eventType birthday is not busy', over: { eventType: 'birthday' }, want: { reason: /free/ } },
  { name: 'eventType fromGmail blocks time', over: { eventType: 'fromGmail' }, want: busy },
  { name: 'an unrecognised eventType decides nothing', over: { eventType: 'holidayParty' }, want: { reason: /unknown/ } },
  { name: 'own response declined changes nothing', over: me('declined'), want: { reason: /declined/ } },
  { name: 'own response tentative, policy tentative=free', over: me('tentative'), policy: { tentative: 'free' }, want: { reason: /tentative/ } },
  { name: 'own response tentative is busy by default', over: me('tentative'), want: busy },
  { name: 'own response needsAction counts as tentative', over: me('needsAction'), policy: { tentative: 'free' }, want: { reason: /tentative/ } },
  { name: 'an unrecognised own response decides nothing', over: me('maybe'), want: { reason: /response/ } },
  { name: 'someone else declining changes nothing for the person', over: { attendees: [{ email: 'bob@example.com', responseStatus: 'declined' }, { email: 'alice@example.com', self: true, responseStatus: 'accepted' }] }, want: busy },
  { name: 'own event without attendees', over: { attendees: undefined, organizer: { email: 'alice@example.com', self: true } }, want: busy },
  { name: 'visibility private counts by default', over: { visibility: 'private' }, want: busy },
  { name: 'visibility private, policy privateEvents=free', over: { visibility: 'private' }, policy: { privateEvents: 'free' }, want: { reason: /private/ } },
  { name: 'visibility confidential, policy privateEvents=free', over: { visibility: 'confidential' }, policy: { privateEvents: 'free' }, want: { reason: /private/ } },
  { name: 'visibility public is not private', over: { visibility: 'public' }, policy: { privateEvents: 'free' }, want: busy },
  { name: 'an unrecognised visibility counts as private', over: { visibility: 'hidden' }, policy: { privateEvents: 'free' }, want: { reason: /private/ } },
  { name: 'all-day is ignored by default', over: allDay({}), want: { reason: /all-day/ } },
  { name: 'all-day with policy allDay=busy, in the person’s zone', over: allDay({}), policy: { allDay: 'busy' }, zone: 'Europe/Berlin', want: { activity: 'in-meeting', from: '2026-03-03T23:00:00.000Z', until: '2026-03-04T23:00:00.000Z' } },
  { name: 'all-day out-of-office always counts', over: allDay({ eventType: 'outOfOffice' }), zone: 'Asia/Tokyo', want: { activity: 'out-of-office', from: '2026-03-03T15:00:00.000Z', until: '2026-03-04T15:00:00.000Z' } },
  { name: 'buffers widen a meeting', over: {}, policy: { bufferBeforeMinutes: 10, bufferAfterMinutes: 5 }, want: { activity: 'in-meeting', from: '2026-03-02T13:50:00.000Z', until: '2026-03-02T15:05:00.000Z' } },
  { name: 'buffers do not widen focus time', over: { eventType: 'focusTime' }, policy: { bufferBeforeMinutes: 10 }, want: { ...busy, activity: 'focus' } },
  { name: 'a dateTime without offset is read in the event’s zone', over: { start: { dateTime: '2026-03-02T09:00:00', timeZone: 'America/New_York' }, end: { dateTime: '2026-03-02T10:00:00', timeZone: 'America/New_York' } }, want: busy },
  { name: 'a dateTime without offset or zone is read in the person’s zone', over: { start: { dateTime: '2026-03-02T23:00:00' }, end: { dateTime: '2026-03-03T00:00:00' } }, zone: 'Asia/Tokyo', want: busy },
  { name: 'missing start', over: { start: undefined }, want: { reason: /no start/ } },
];

describe('Google event → signal, table', () => {
  it.each(rows)('$name', ({ over, policy, zone, want }) => {
    const event = { ...base, ...over };
    for (const [k, v] of Object.entries(over)) if (v === undefined) delete (event as Record<string, unknown>)[k];
    const v = mapGoogleEvent(event, { policy: resolveCalendarPolicy(policy), zone: zone ?? 'UTC', observedAt: NOW })!;
    expect(v.id).toBe('google:evt:4q8v2c1l5mbn0qf6hs1k0d3r5g');
    if ('reason' in want) {
      expect('reason' in v ? v.reason : 'a signal').toMatch(want.reason);
      return;
    }
    expect('signal' in v ? v.signal : v).toEqual({
      id: 'google:evt:4q8v2c1l5mbn0qf6hs1k0d3r5g',
      source: 'google',
      claim: { kind: 'calendar', activity: want.activity },
      observedAt: NOW,
      from: at(want.from),
      until: at(want.until),
    });
  });

  it('keeps only start, end and kind', () => {
    const text = JSON.stringify(mapGoogleEvent(base, { policy: DEFAULT_CALENDAR_POLICY, zone: 'UTC', observedAt: NOW }));
    for (const secret of ['layoffs', 'bob.secret', 'Room 4.12', 'Agenda', 'meet.google.com']) expect(text).not.toContain(secret);
  });
});
