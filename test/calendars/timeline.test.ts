import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { GRAPH, onlyLoopback, settle, startCalendarHub, type CalendarTestHub } from '../support/calendar-hub.js';
import { fixture } from '../support/fixtures.js';
import { consentMicrosoft, notification, seedAliceForCalendar } from '../connectors/microsoft/consent.js';
import { EVENTS, consentGoogle } from '../connectors/google/consent.js';

/** A Graph event as calendarView delta returns it, times in UTC (no Prefer: outlook.timezone). */
function graphEvent(id: string, start: string, end: string, over: Record<string, unknown> = {}) {
  const base = fixture<Record<string, unknown>>('microsoft', 'event-busy');
  return { ...base, id, start: { dateTime: `${start}.0000000`, timeZone: 'UTC' }, end: { dateTime: `${end}.0000000`, timeZone: 'UTC' }, ...over };
}

const page = (value: unknown[], token = 'R0usmci39OQxqJrxK4') => ({ value, '@odata.deltaLink': `https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken=${token}` });

describe('calendar events become on-time transitions (fake clock, no polling)', () => {
  let h: CalendarTestHub;
  afterEach(async () => {
    nock.cleanAll();
    await h.stop();
  });

  const state = async () => {
    const p = (await h.get('/v1/presence/alice').expect(200)).body;
    return { availability: p.availability, activity: p.activity, since: p.since };
  };

  async function start(events: unknown[], now = '2026-03-02T09:30:00Z') {
    onlyLoopback();
    h = await startCalendarHub({ now });
    await seedAliceForCalendar(h);
    await consentMicrosoft(h, { pages: [page(events)] });
  }

  /** A change notification, then the delta Graph answers with. */
  async function change(events: unknown[], token = 'R0usmci39OQxqJrxK5') {
    nock(GRAPH).get('/v1.0/me/calendarView/delta').query(true).reply(200, page(events, token));
    await h.http.post('/v1/webhooks/microsoft').set('Content-Type', 'application/json').send(JSON.stringify(notification('secret-1'))).expect(202);
    await settle(h, 1000);
    expect(nock.pendingMocks()).toEqual([]);
  }

  it('a 14:00–15:00 meeting flips the person to in-meeting at 14:00 and back at 15:00', async () => {
    await start([graphEvent('m1', '2026-03-02T14:00:00', '2026-03-02T15:00:00')]);
    // Reconciliation keeps running hourly in between; the delta says nothing new.
    nock(GRAPH).get('/v1.0/me/calendarView/delta').query(true).reply(200, page([])).persist();
    nock('https://login.microsoftonline.com').post('/organizations/oauth2/v2.0/token').reply(200, { access_token: 'a-n', expires_in: 3599 }).persist();
    await h.clock.advanceTo('2026-03-02T13:59:59.999Z');
    expect(await state()).toMatchObject({ availability: 'available', activity: 'available' });
    await h.clock.advanceTo('2026-03-02T14:00:00Z');
    expect(await state()).toEqual({ availability: 'busy', activity: 'in-meeting', since: '2026-03-02T14:00:00.000Z' });
    await h.clock.advanceTo('2026-03-02T14:59:59.999Z');
    expect((await state()).activity).toBe('in-meeting');
    await h.clock.advanceTo('2026-03-02T15:00:00Z');
    expect(await state()).toEqual({ availability: 'available', activity: 'available', since: '2026-03-02T15:00:00.000Z' });
  });

  it('a move to 16:00 is followed, and so is a cancellation', async () => {
    await start([graphEvent('m1', '2026-03-02T14:00:00', '2026-03-02T15:00:00'), graphEvent('m2', '2026-03-02T18:00:00', '2026-03-02T19:00:00')]);
    await change([graphEvent('m1', '2026-03-02T16:00:00', '2026-03-02T17:00:00')]);
    await h.clock.advanceTo('2026-03-02T10:00:00Z');
    await change([{ '@odata.type': '#microsoft.graph.event', id: 'm2', '@removed': { reason: 'deleted' } }], 'R0usmci39OQxqJrxK6');
    // From here on the hourly reconciliation hears nothing new.
    nock(GRAPH).get('/v1.0/me/calendarView/delta').query(true).reply(200, page([], 'R0usmci39OQxqJrxK6')).persist();
    nock('https://login.microsoftonline.com').post('/organizations/oauth2/v2.0/token').reply(200, { access_token: 'a-n', expires_in: 3599 }).persist();
    await h.clock.advanceTo('2026-03-02T14:00:00Z');
    expect((await state()).activity).toBe('available');
    await h.clock.advanceTo('2026-03-02T16:00:00Z');
    expect(await state()).toEqual({ availability: 'busy', activity: 'in-meeting', since: '2026-03-02T16:00:00.000Z' });
    await h.clock.advanceTo('2026-03-02T17:00:00Z');
    expect((await state()).activity).toBe('available');
    await h.clock.advanceTo('2026-03-02T18:30:00Z');
    expect(await state()).toEqual({ availability: 'available', activity: 'available', since: '2026-03-02T17:00:00.000Z' });
  });

  it('a declined or free event changes nothing; an isCancelled one neither', async () => {
    await start([
      graphEvent('declined', '2026-03-02T14:00:00', '2026-03-02T15:00:00', { responseStatus: { response: 'declined' } }),
      graphEvent('free', '2026-03-02T15:00:00', '2026-03-02T16:00:00', { showAs: 'free' }),
      graphEvent('cancelled', '2026-03-02T16:00:00', '2026-03-02T17:00:00', { isCancelled: true }),
    ]);
    const before = await state();
    for (const t of ['2026-03-02T14:00:00Z', '2026-03-02T15:00:00Z', '2026-03-02T16:00:00Z', '2026-03-02T16:59:00Z']) {
      await h.clock.advanceTo(t);
      expect(await state()).toEqual(before);
    }
    expect((await h.get('/v1/presence/alice')).body.next).toBeUndefined();
  });

  it('an out-of-office event gives out-of-office, and a meeting inside it does not outrank it', async () => {
    await start([graphEvent('ooo', '2026-03-02T12:00:00', '2026-03-02T18:00:00', { showAs: 'oof' }), graphEvent('m1', '2026-03-02T14:00:00', '2026-03-02T15:00:00')]);
    await h.clock.advanceTo('2026-03-02T12:00:00Z');
    expect(await state()).toEqual({ availability: 'away', activity: 'out-of-office', since: '2026-03-02T12:00:00.000Z' });
    await h.clock.advanceTo('2026-03-02T14:30:00Z');
    expect((await state()).activity).toBe('out-of-office');
    await h.clock.advanceTo('2026-03-02T18:00:00Z');
    expect((await state()).activity).toBe('available');
  });

  it('the tenant policy applies: buffers, tentative as free, meetings as dnd', async () => {
    await start([graphEvent('m1', '2026-03-02T14:00:00', '2026-03-02T15:00:00'), graphEvent('t1', '2026-03-02T16:00:00', '2026-03-02T17:00:00', { showAs: 'tentative' })]);
    nock(GRAPH).get('/v1.0/me/calendarView/delta').query((q) => q.startDateTime !== undefined).reply(200, page([graphEvent('m1', '2026-03-02T14:00:00', '2026-03-02T15:00:00'), graphEvent('t1', '2026-03-02T16:00:00', '2026-03-02T17:00:00', { showAs: 'tentative' })]));
    await h.put('/v1/tenant', { name: 'Acme', settings: { calendar: { bufferBeforeMinutes: 5, bufferAfterMinutes: 10, tentative: 'free', meetingAs: 'dnd' } } }).expect(200);
    // A policy change resyncs every calendar of the tenant in full.
    await settle(h, 1000);
    expect(nock.pendingMocks()).toEqual([]);
    await h.clock.advanceTo('2026-03-02T13:55:00Z');
    expect(await state()).toEqual({ availability: 'dnd', activity: 'in-meeting', since: '2026-03-02T13:55:00.000Z' });
    nock(GRAPH).get('/v1.0/me/calendarView/delta').query(true).reply(200, page([])).persist();
    nock('https://login.microsoftonline.com').post('/organizations/oauth2/v2.0/token').reply(200, { access_token: 'a-n', expires_in: 3599 }).persist();
    await h.clock.advanceTo('2026-03-02T15:09:59Z');
    expect((await state()).activity).toBe('in-meeting');
    await h.clock.advanceTo('2026-03-02T15:10:00Z');
    expect((await state()).activity).toBe('available');
    await h.clock.advanceTo('2026-03-02T16:30:00Z');
    expect((await state()).activity).toBe('available');
  });

  it('a DST-crossing day stays right in the person’s zone (Europe/Berlin, 29 March 2026)', async () => {
    onlyLoopback();
    h = await startCalendarHub({ now: '2026-03-28T12:00:00Z' });
    await seedAliceForCalendar(h);
    // Graph: an all-day out-of-office on Sunday the 29th is 23 hours long in Berlin.
    const oooSunday = graphEvent('ooo-sun', '2026-03-29T00:00:00', '2026-03-30T00:00:00', { isAllDay: true, showAs: 'oof' });
    await consentMicrosoft(h, { pages: [page([oooSunday])], subscriptionExpires: '2026-03-31T08:00:00Z' });
    // Google: a meeting at 14:00 Berlin wall time on Monday the 30th (CEST, UTC+2) given without offset.
    const meeting = { ...fixture<Record<string, unknown>>('google', 'event-busy'), id: 'mon-1400', start: { dateTime: '2026-03-30T14:00:00', timeZone: 'Europe/Berlin' }, end: { dateTime: '2026-03-30T15:00:00', timeZone: 'Europe/Berlin' } };
    await consentGoogle(h, { pages: [{ kind: 'calendar#events', timeZone: 'Europe/Berlin', items: [meeting], nextSyncToken: 'dst-token' }], channelExpiresAt: Date.parse('2026-04-04T00:00:00Z') });
    nock(GRAPH).get('/v1.0/me/calendarView/delta').query(true).reply(200, page([oooSunday])).persist();
    // Reconciliation (hourly) and the daily full sync keep hearing the same calendar.
    nock(`https://www.googleapis.com`).get(EVENTS).query(true).reply(200, { kind: 'calendar#events', items: [meeting], nextSyncToken: 'dst-token' }).persist();
    nock('https://login.microsoftonline.com').post('/organizations/oauth2/v2.0/token').reply(200, { access_token: 'a-n', expires_in: 3599 }).persist();
    nock('https://oauth2.googleapis.com').post('/token').reply(200, { access_token: 'g-n', expires_in: 3599 }).persist();

    await h.clock.advanceTo('2026-03-28T22:59:59.999Z');
    expect((await state()).activity).toBe('available');
    await h.clock.advanceTo('2026-03-28T23:00:00Z'); // Sunday 00:00 CET
    expect(await state()).toEqual({ availability: 'away', activity: 'out-of-office', since: '2026-03-28T23:00:00.000Z' });
    await h.clock.advanceTo('2026-03-29T21:59:59.999Z');
    expect((await state()).activity).toBe('out-of-office');
    await h.clock.advanceTo('2026-03-29T22:00:00Z'); // Monday 00:00 CEST: 23 hours later
    expect(await state()).toEqual({ availability: 'available', activity: 'available', since: '2026-03-29T22:00:00.000Z' });
    await h.clock.advanceTo('2026-03-30T11:59:59.999Z');
    expect((await state()).activity).toBe('available');
    await h.clock.advanceTo('2026-03-30T12:00:00Z'); // 14:00 CEST
    expect(await state()).toEqual({ availability: 'busy', activity: 'in-meeting', since: '2026-03-30T12:00:00.000Z' });
    await h.clock.advanceTo('2026-03-30T13:00:00Z');
    expect((await state()).activity).toBe('available');
  });
});
