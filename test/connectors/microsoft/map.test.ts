import { describe, expect, it } from 'vitest';
import { DEFAULT_CALENDAR_POLICY, resolveCalendarPolicy, type CalendarPolicyInput } from '../../../shared/domain/calendar.js';
import { mapGraphEvent } from '../../../services/connectors/microsoft/map.js';
import { mapTeamsPresence } from '../../../services/connectors/microsoft/presence-map.js';
import { fixture } from '../../support/fixtures.js';

const NOW = Date.parse('2026-03-02T09:30:00Z');
const base = fixture('microsoft', 'event-busy');
const at = (iso: string) => Date.parse(iso);

interface Row {
  name: string;
  over: Record<string, unknown>;
  policy?: CalendarPolicyInput;
  zone?: string;
  /** Expected activity and window, or the reason nothing is claimed. */
  want: { activity: string; from: string; until: string } | { reason: RegExp };
}

const busy = { activity: 'in-meeting', from: '2026-03-02T14:00:00.000Z', until: '2026-03-02T15:00:00.000Z' };
const allDay = (over: Record<string, unknown>) => ({
  isAllDay: true,
  start: { dateTime: '2026-03-04T00:00:00.0000000', timeZone: 'UTC' },
  end: { dateTime: '2026-03-05T00:00:00.0000000', timeZone: 'UTC' },
  ...over,
});

// Every provider value the mapper reads, decided explicitly.
const rows: Row[] = [
  { name: 'showAs busy, accepted', over: {}, want: busy },
  { name: 'showAs free', over: { showAs: 'free' }, want: { reason: /free/ } },
  { name: 'showAs workingElsewhere is not busy', over: { showAs: 'workingElsewhere' }, want: { reason: /free/ } },
  { name: 'showAs unknown decides nothing', over: { showAs: 'unknown' }, want: { reason: /unknown/ } },
  { name: 'an unrecognised showAs decides nothing (never a silent busy)', over: { showAs: 'busyish' }, want: { reason: /unknown/ } },
  { name: 'no showAs decides nothing', over: { showAs: undefined }, want: { reason: /unknown/ } },
  { name: 'showAs oof gives out-of-office', over: { showAs: 'oof' }, want: { ...busy, activity: 'out-of-office' } },
  { name: 'showAs tentative counts as busy by default', over: { showAs: 'tentative' }, want: busy },
  { name: 'showAs tentative, policy tentative=free', over: { showAs: 'tentative' }, policy: { tentative: 'free' }, want: { reason: /tentative/ } },
  { name: 'tentativelyAccepted, policy tentative=free', over: { responseStatus: { response: 'tentativelyAccepted' } }, policy: { tentative: 'free' }, want: { reason: /tentative/ } },
  { name: 'notResponded counts as tentative', over: { responseStatus: { response: 'notResponded' } }, policy: { tentative: 'free' }, want: { reason: /tentative/ } },
  { name: 'notResponded is busy when tentative is busy', over: { responseStatus: { response: 'notResponded' } }, want: busy },
  { name: 'declined changes nothing', over: { responseStatus: { response: 'declined' } }, want: { reason: /declined/ } },
  { name: 'declined, even if it still shows busy', over: { showAs: 'busy', responseStatus: { response: 'Declined' } }, want: { reason: /declined/ } },
  { name: 'organizer', over: { responseStatus: { response: 'organizer' } }, want: busy },
  { name: 'response none (own appointment)', over: { responseStatus: { response: 'none' } }, want: busy },
  { name: 'no responseStatus', over: { responseStatus: undefined }, want: busy },
  { name: 'an unrecognised response decides nothing', over: { responseStatus: { response: 'maybeLater' } }, want: { reason: /response/ } },
  { name: 'isCancelled', over: { isCancelled: true }, want: { reason: /cancelled/ } },
  { name: '@removed (deleted or left the window)', over: { '@removed': { reason: 'deleted' } }, want: { reason: /removed/ } },
  { name: 'a series master is skipped (occurrences count)', over: { type: 'seriesMaster' }, want: { reason: /series master/ } },
  { name: 'an occurrence counts', over: { type: 'occurrence' }, want: busy },
  { name: 'an exception counts', over: { type: 'exception' }, want: busy },
  { name: 'sensitivity private counts by default', over: { sensitivity: 'private' }, want: busy },
  { name: 'sensitivity private, policy privateEvents=free', over: { sensitivity: 'private' }, policy: { privateEvents: 'free' }, want: { reason: /private/ } },
  { name: 'sensitivity confidential, policy privateEvents=free', over: { sensitivity: 'confidential' }, policy: { privateEvents: 'free' }, want: { reason: /private/ } },
  { name: 'sensitivity personal is not private', over: { sensitivity: 'personal' }, policy: { privateEvents: 'free' }, want: busy },
  { name: 'an unrecognised sensitivity counts as private', over: { sensitivity: 'secret' }, policy: { privateEvents: 'free' }, want: { reason: /private/ } },
  { name: 'all-day busy is ignored by default', over: allDay({}), want: { reason: /all-day/ } },
  {
    name: 'all-day busy with policy allDay=busy, midnight to midnight in the person’s zone',
    over: allDay({}),
    policy: { allDay: 'busy' },
    zone: 'Europe/Berlin',
    want: { activity: 'in-meeting', from: '2026-03-03T23:00:00.000Z', until: '2026-03-04T23:00:00.000Z' },
  },
  {
    name: 'all-day out-of-office always counts',
    over: allDay({ showAs: 'oof' }),
    zone: 'America/New_York',
    want: { activity: 'out-of-office', from: '2026-03-04T05:00:00.000Z', until: '2026-03-05T05:00:00.000Z' },
  },
  { name: 'buffers widen a meeting', over: {}, policy: { bufferBeforeMinutes: 5, bufferAfterMinutes: 10 }, want: { activity: 'in-meeting', from: '2026-03-02T13:55:00.000Z', until: '2026-03-02T15:10:00.000Z' } },
  { name: 'buffers do not widen out-of-office', over: { showAs: 'oof' }, policy: { bufferBeforeMinutes: 5 }, want: { ...busy, activity: 'out-of-office' } },
  { name: 'a time in another named zone', over: { start: { dateTime: '2026-03-02T15:00:00.0000000', timeZone: 'Europe/Berlin' } }, want: busy },
  { name: 'Graph’s tzone://Microsoft/Utc', over: { end: { dateTime: '2026-03-02T15:00:00.0000000', timeZone: 'tzone://Microsoft/Utc' } }, want: busy },
  { name: 'an unreadable zone decides nothing', over: { start: { dateTime: '2026-03-02T14:00:00.0000000', timeZone: 'Mars Standard Time' } }, want: { reason: /unreadable/ } },
  { name: 'an event already over', over: { start: { dateTime: '2026-03-02T08:00:00.0000000', timeZone: 'UTC' }, end: { dateTime: '2026-03-02T09:00:00.0000000', timeZone: 'UTC' } }, want: { reason: /over/ } },
  { name: 'an event ending before it starts', over: { end: { dateTime: '2026-03-02T13:00:00.0000000', timeZone: 'UTC' } }, want: { reason: /ends before/ } },
];

describe('Graph event → signal, table', () => {
  it.each(rows)('$name', ({ over, policy, zone, want }) => {
    const event = { ...base, ...over };
    for (const [k, v] of Object.entries(over)) if (v === undefined) delete (event as Record<string, unknown>)[k];
    const v = mapGraphEvent(event, { policy: resolveCalendarPolicy(policy), zone: zone ?? 'UTC', observedAt: NOW })!;
    expect(v.id).toBe('outlook:evt:AAMkAGI2TG93AAA=');
    if ('reason' in want) {
      expect('reason' in v ? v.reason : 'a signal').toMatch(want.reason);
      return;
    }
    expect('signal' in v).toBe(true);
    if (!('signal' in v)) return;
    expect(v.signal).toEqual({
      id: 'outlook:evt:AAMkAGI2TG93AAA=',
      source: 'outlook',
      claim: { kind: 'calendar', activity: want.activity },
      observedAt: NOW,
      from: at(want.from),
      until: at(want.until),
    });
  });

  it('keeps only start, end and kind: no title, attendee, location or body reaches the signal', () => {
    const v = mapGraphEvent(base, { policy: DEFAULT_CALENDAR_POLICY, zone: 'UTC', observedAt: NOW })!;
    const text = JSON.stringify(v);
    for (const secret of ['pricing', 'Bob', 'bob.secret', 'Room 4.12', 'Numbers', 'teams.microsoft.com']) expect(text).not.toContain(secret);
  });

  it('skips an item that is not an event at all', () => {
    expect(mapGraphEvent({ nope: true }, { policy: DEFAULT_CALENDAR_POLICY, zone: 'UTC', observedAt: NOW })).toBeUndefined();
  });
});

describe('Teams presence → status signal, table', () => {
  const rows: Array<[availability: string | undefined, activity: string | undefined, want: string | undefined]> = [
    ['Busy', 'InACall', 'on-call'],
    ['Busy', 'InAConferenceCall', 'on-call'],
    ['busy', 'inAConferenceCall', 'on-call'],
    ['DoNotDisturb', 'Presenting', 'presenting'],
    ['DoNotDisturb', 'DoNotDisturb', 'dnd'],
    ['DoNotDisturb', 'UrgentInterruptionsOnly', 'dnd'],
    ['DoNotDisturb', 'focusing', 'focus'],
    ['DoNotDisturb', 'SomethingNew', 'dnd'],
    ['Available', 'Available', undefined],
    ['AvailableIdle', 'Inactive', undefined],
    ['Away', 'Away', undefined],
    ['BeRightBack', 'BeRightBack', undefined],
    ['Busy', 'Busy', undefined],
    ['Busy', 'InAMeeting', undefined],
    ['BusyIdle', 'Inactive', undefined],
    ['Offline', 'OffWork', undefined],
    ['Offline', 'OutOfOffice', undefined],
    ['PresenceUnknown', 'PresenceUnknown', undefined],
    [undefined, undefined, undefined],
  ];
  it.each(rows)('%s / %s → %s', (availability, activity, want) => {
    const s = mapTeamsPresence({ ...(availability ? { availability } : {}), ...(activity ? { activity } : {}) }, NOW);
    expect(s?.claim).toEqual(want === undefined ? undefined : { kind: 'status', activity: want });
    if (s) expect(s).toMatchObject({ id: 'teams:presence', source: 'teams', observedAt: NOW });
  });
});
