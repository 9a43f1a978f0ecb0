import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GRAPH, LOGIN, onlyLoopback, settle, startCalendarHub, unmatched, type CalendarTestHub } from '../../support/calendar-hub.js';
import { fixture } from '../../support/fixtures.js';
import { DELTA_LINK, consentMicrosoft, seedAliceForCalendar } from './consent.js';

const presenceOf = async (h: CalendarTestHub) => (await h.get('/v1/presence/alice').expect(200)).body;

describe('a calendar connection over its life', () => {
  let h: CalendarTestHub | undefined;
  let dir: string;
  let misses: string[];
  beforeEach(() => {
    onlyLoopback();
    misses = unmatched();
    dir = mkdtempSync(join(tmpdir(), 'ph-cal-'));
  });
  afterEach(async () => {
    nock.cleanAll();
    nock.emitter.removeAllListeners('no match');
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('survives a restart: tokens still open, signals kept, renewal rescheduled, and a catch-up sync at start', async () => {
    const env = { ENCRYPTION_KEY: randomBytes(32).toString('base64') };
    h = await startCalendarHub({ env, dir });
    await seedAliceForCalendar(h);
    await consentMicrosoft(h);
    await h.stop();

    nock(GRAPH).get('/v1.0/me/calendarView/delta').query({ $deltatoken: 'R0usmci39OQxqJrxK4' }).matchHeader('authorization', /access-1$/).reply(200, fixture('microsoft', 'delta-changes-moved'));
    h = await startCalendarHub({ env, dir, now: '2026-03-02T10:00:00Z' });
    await settle(h);
    expect(nock.pendingMocks()).toEqual([]);
    expect((await presenceOf(h)).next.at).toBe('2026-03-02T16:00:00.000Z');
    const [sub] = await h.hub.store.directory.list('calendarSubscriptions', 'acme');
    expect(h.hub.calendars.service.jobs.dueAt(`renew:acme/${sub!.id}`)).toBe(Date.parse('2026-03-04T20:00:00Z'));
    expect(misses).toEqual([]);
  });

  it('a broken connection is repaired by consenting again: connected, subscribed, the calendar known again', async () => {
    h = await startCalendarHub({ dir });
    await seedAliceForCalendar(h);
    await consentMicrosoft(h);
    nock(LOGIN).post('/organizations/oauth2/v2.0/token').reply(400, fixture('microsoft', 'invalid-grant'));
    await settle(h, 3600_000);
    expect((await h.get('/v1/people/alice/calendar')).body.connections[0].status).toBe('broken');

    await h.clock.advance(15 * 60_000);
    await consentMicrosoft(h, { pages: [{ value: (fixture('microsoft', 'delta-page-1') as { value: unknown[] }).value, '@odata.deltaLink': DELTA_LINK }] });
    const conn = (await h.get('/v1/people/alice/calendar')).body.connections[0];
    expect(conn).toMatchObject({ status: 'connected', connectedAt: '2026-03-02T10:45:00.000Z', sync: { state: 'ok' }, subscriptions: [{ kind: 'events' }] });
    expect(conn.brokenReason).toBeUndefined();
    expect(conn.brokenAt).toBeUndefined();
    // The admin sees the same: connected since the new consent, nothing broken.
    const admin = (await h.get('/v1/calendars').expect(200)).body;
    expect(admin.summary).toEqual({ connected: 1, broken: 0 });
    expect(admin.connections[0]).toEqual({ personId: 'alice', ...conn });
    const p = await presenceOf(h);
    expect(p.explanation.some((e: { signal: string }) => e.signal === 'outlook:connection')).toBe(false);
    expect(p.next.at).toBe('2026-03-02T14:00:00.000Z');
  });

  it("a new time zone moves all-day events: the person's calendars sync in full", async () => {
    h = await startCalendarHub({ dir });
    await seedAliceForCalendar(h);
    await consentMicrosoft(h);
    const oooFrom = async () => (await h!.hub.engine.read('acme', 'alice')).signals.find((s) => s.id === 'outlook:evt:AAMkAGI2TG95AAA=')?.from;
    expect(await oooFrom()).toBe(Date.parse('2026-03-03T23:00:00Z'));
    nock(GRAPH).get('/v1.0/me/calendarView/delta').query((q) => q.startDateTime !== undefined).reply(200, fixture('microsoft', 'delta-page-2'));
    await h.put('/v1/people/alice', { name: 'Alice Example', email: 'alice@contoso.example', timeZone: 'America/New_York', extension: '1001' }).expect(200);
    await settle(h, 1000);
    expect(nock.pendingMocks()).toEqual([]);
    expect(await oooFrom()).toBe(Date.parse('2026-03-04T05:00:00Z'));
  });
});

describe('without calendar configuration', () => {
  it('says so instead of failing, and the webhooks still answer', async () => {
    const { startTestHub } = await import('../../support/hub.js');
    const h = await startTestHub();
    try {
      await h.put('/v1/people/alice', { name: 'Alice' }).expect(201);
      const r = await h.post('/v1/people/alice/connect-link', {}).expect(503);
      expect(r.body.error.code).toBe('calendars_not_configured');
      expect((await h.get('/v1/people/alice/calendar').expect(200)).body).toEqual({ personId: 'alice', providers: [], connections: [] });
      expect((await h.post('/v1/calendars/microsoft/admin-consent', {}).expect(503)).body.error.code).toBe('calendars_not_configured');
      expect((await h.http.post('/v1/webhooks/microsoft?validationToken=abc').expect(200)).text).toBe('abc');
      expect((await h.http.get('/oauth/microsoft/callback?code=x&state=y').expect(404)).text).toContain('provider_not_configured');
    } finally {
      await h.stop();
    }
  });
});
