import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GOOGLE_API, GOOGLE_OAUTH, onlyLoopback, settle, startCalendarHub, unmatched, type CalendarTestHub } from '../../support/calendar-hub.js';
import { fixture } from '../../support/fixtures.js';
import { series } from '../../support/metrics.js';
import { seedAliceForCalendar } from '../microsoft/consent.js';
import { EVENTS, RESOURCE_ID, SYNC_TOKEN, consentGoogle, push, type GoogleTrace } from './consent.js';

const presenceOf = async (h: CalendarTestHub) => (await h.get('/v1/presence/alice').expect(200)).body;
const calendarOf = async (h: CalendarTestHub) => (await h.get('/v1/people/alice/calendar').expect(200)).body.connections[0];
const emptyPage = (token = SYNC_TOKEN) => ({ kind: 'calendar#events', timeZone: 'Europe/Berlin', items: [], nextSyncToken: token });
const incremental = (token = SYNC_TOKEN) => (q: Record<string, string>) => q.syncToken === token && q.timeMin === undefined;

describe('Google Calendar connector', () => {
  let h: CalendarTestHub;
  let misses: string[];
  let t: GoogleTrace;
  beforeEach(async () => {
    onlyLoopback();
    misses = unmatched();
    h = await startCalendarHub();
    await seedAliceForCalendar(h);
  });
  afterEach(async () => {
    nock.cleanAll();
    nock.emitter.removeAllListeners('no match');
    await h.stop();
  });

  it('consent: offline access, PKCE S256, the verifier sent, a watch channel with a token, a full sync over the window', async () => {
    t = await consentGoogle(h);
    expect(t.authorize.origin + t.authorize.pathname).toBe('https://accounts.google.com/o/oauth2/v2/auth');
    expect(Object.fromEntries(t.authorize.searchParams)).toMatchObject({
      client_id: 'google-client-id.apps.googleusercontent.com',
      redirect_uri: 'https://presence.example.test/oauth/google/callback',
      response_type: 'code',
      scope: 'openid email https://www.googleapis.com/auth/calendar.events.readonly',
      access_type: 'offline',
      prompt: 'consent',
      code_challenge_method: 'S256',
    });
    expect(t.tokenBody).toMatchObject({ grant_type: 'authorization_code', code: '4/0AeaYSHB-code', redirect_uri: 'https://presence.example.test/oauth/google/callback', client_id: 'google-client-id.apps.googleusercontent.com' });
    expect(t.watch).toMatchObject({ type: 'web_hook', address: 'https://presence.example.test/v1/webhooks/google', token: 'secret-1', params: { ttl: '604800' } });
    expect(t.listQueries[0]).toMatchObject({ singleEvents: 'true', maxResults: '250', timeMin: '2026-03-02T09:30:00.000Z', timeMax: '2026-03-16T09:30:00.000Z' });
    expect(nock.pendingMocks()).toEqual([]);
    expect(await calendarOf(h)).toMatchObject({ provider: 'google', status: 'connected', account: { id: '110248495921238986420', email: 'alice@example.com' }, sync: { state: 'ok' }, subscriptions: [{ kind: 'events', expiresAt: '2026-03-09T09:30:00.000Z' }] });
    expect((await presenceOf(h)).next).toEqual({ at: '2026-03-02T14:00:00.000Z', availability: 'busy', activity: 'in-meeting' });
  });

  describe('push notifications', () => {
    beforeEach(async () => {
      t = await consentGoogle(h);
    });

    it('acknowledges a forged channel token or a foreign resource id exactly as an unknown channel (no oracle, no redelivery), counts it, and fetches nothing', async () => {
      const forged = await push(h, { channelId: t.watch!.id, token: 'guessed' }).expect(200);
      const foreign = await push(h, { channelId: t.watch!.id, token: 'secret-1', resourceId: 'someone-else' }).expect(200);
      const missing = await push(h, { channelId: 'stopped-channel', token: 'guessed' }).expect(200);
      expect(forged.body).toEqual({ accepted: false });
      expect(foreign.body).toEqual(forged.body);
      expect(missing.body).toEqual(forged.body);
      expect((await h.http.post('/v1/webhooks/google').send().expect(400)).body.error.code).toBe('invalid_push_headers');
      await settle(h, 5000);
      expect(misses).toEqual([]);
      expect(nock.pendingMocks()).toEqual([]);
      const text = (await h.http.get('/metrics').expect(200)).text;
      expect(series(text, 'presence_calendar_notifications_total', { provider: 'google', outcome: 'forged' })).toBe(2);
      expect(series(text, 'presence_calendar_notifications_total', { provider: 'google', outcome: 'unknown' })).toBe(1);
    });

    it('the first "sync" message fetches nothing; an unknown channel is acknowledged and ignored', async () => {
      await push(h, { channelId: t.watch!.id, token: 'secret-1', state: 'sync', number: 1 }).expect(200);
      expect((await push(h, { channelId: 'stopped-channel', token: 'x' }).expect(200)).body).toEqual({ accepted: false });
      await settle(h, 5000);
      expect(misses).toEqual([]);
    });

    it('"exists" answers 200 at once and syncs incrementally behind: a move is followed', async () => {
      nock(GOOGLE_API).get(EVENTS).query(incremental()).reply(200, fixture('google', 'events-changes-moved'));
      await push(h, { channelId: t.watch!.id, token: 'secret-1', number: 2 }).expect(200);
      expect(nock.pendingMocks()).toHaveLength(1);
      await settle(h, 1000);
      expect(nock.pendingMocks()).toEqual([]);
      expect((await presenceOf(h)).next).toEqual({ at: '2026-03-02T16:00:00.000Z', availability: 'busy', activity: 'in-meeting' });
    });

    it('duplicate and out-of-order messages cause one sync and the latest truth', async () => {
      nock(GOOGLE_API).get(EVENTS).query(incremental()).reply(200, fixture('google', 'events-changes-cancelled'));
      await push(h, { channelId: t.watch!.id, token: 'secret-1', number: 5 }).expect(200);
      expect((await push(h, { channelId: t.watch!.id, token: 'secret-1', number: 5 }).expect(200)).body.duplicate).toBe(true);
      expect((await push(h, { channelId: t.watch!.id, token: 'secret-1', number: 4 }).expect(200)).body.duplicate).toBe(true);
      await settle(h, 1000);
      expect(nock.pendingMocks()).toEqual([]);
      expect(misses).toEqual([]);
      expect((await presenceOf(h)).next).toEqual({ at: '2026-03-03T23:00:00.000Z', availability: 'away', activity: 'out-of-office' });
    });

    it('410 Gone: wipes and syncs in full', async () => {
      nock(GOOGLE_API).get(EVENTS).query(incremental()).reply(410, fixture('google', 'sync-token-gone'));
      nock(GOOGLE_API)
        .get(EVENTS)
        .query((q) => q.syncToken === undefined && q.timeMin === '2026-03-02T09:30:01.000Z')
        .reply(200, { ...fixture('google', 'events-changes-moved'), nextSyncToken: 'fresh-token' });
      await push(h, { channelId: t.watch!.id, token: 'secret-1' }).expect(200);
      await settle(h, 1000);
      expect(nock.pendingMocks()).toEqual([]);
      // Only the moved meeting is left: the out-of-office from the old set is gone with the wipe.
      expect((await presenceOf(h)).next).toEqual({ at: '2026-03-02T16:00:00.000Z', availability: 'busy', activity: 'in-meeting' });
      nock(GOOGLE_API).get(EVENTS).query(incremental('fresh-token')).reply(200, emptyPage('fresh-token'));
      await push(h, { channelId: t.watch!.id, token: 'secret-1', number: 3 }).expect(200);
      await settle(h, 1000);
      expect(nock.pendingMocks()).toEqual([]);
    });
  });

  it('a full list that carries no sync token still counts, and the next read is full again', async () => {
    t = await consentGoogle(h, { pages: [{ ...fixture('google', 'events-full-page-1'), nextPageToken: undefined, nextSyncToken: undefined }] });
    expect((await presenceOf(h)).next.at).toBe('2026-03-02T14:00:00.000Z');
    nock(GOOGLE_API).get(EVENTS).query((q) => q.syncToken === undefined && q.timeMin !== undefined).reply(200, { ...fixture('google', 'events-changes-moved'), nextSyncToken: 'now-a-token' });
    await push(h, { channelId: t.watch!.id, token: 'secret-1' }).expect(200);
    await settle(h, 1000);
    expect(nock.pendingMocks()).toEqual([]);
    expect((await presenceOf(h)).next.at).toBe('2026-03-02T16:00:00.000Z');
  });

  // Outages of hours in steps of minutes, each `settle` waiting up to 400 ms of real time while a retry
  // waits on the fake clock: 10 s and more per test.
  describe('quotas', { timeout: 90_000 }, () => {
    beforeEach(async () => {
      t = await consentGoogle(h);
    });

    it('403 rateLimitExceeded is retried with exponential backoff (1 s, 2 s)', async () => {
      nock(GOOGLE_API).get(EVENTS).query(incremental()).times(2).reply(403, fixture('google', 'rate-limited'));
      nock(GOOGLE_API).get(EVENTS).query(incremental()).reply(200, fixture('google', 'events-changes-moved'));
      await push(h, { channelId: t.watch!.id, token: 'secret-1' }).expect(200);
      await settle(h, 1000);
      expect(nock.pendingMocks()).toHaveLength(2);
      await settle(h, 1000);
      expect(nock.pendingMocks()).toHaveLength(1);
      await settle(h, 1999);
      expect(nock.pendingMocks()).toHaveLength(1);
      await settle(h, 1);
      expect(nock.pendingMocks()).toEqual([]);
      expect((await presenceOf(h)).next.at).toBe('2026-03-02T16:00:00.000Z');
    });

    it('429 with Retry-After waits what Google asked', async () => {
      nock(GOOGLE_API).get(EVENTS).query(incremental()).reply(429, { error: { code: 429, message: 'Too Many Requests', errors: [{ reason: 'rateLimitExceeded' }] } }, { 'Retry-After': '30' });
      nock(GOOGLE_API).get(EVENTS).query(incremental()).reply(200, emptyPage());
      await push(h, { channelId: t.watch!.id, token: 'secret-1' }).expect(200);
      await settle(h, 1000);
      await settle(h, 29_999);
      expect(nock.pendingMocks()).toHaveLength(1);
      await settle(h, 1);
      expect(nock.pendingMocks()).toEqual([]);
    });

    it('403 quotaExceeded backs off for a long while, not seconds', async () => {
      nock(GOOGLE_API).get(EVENTS).query(incremental()).reply(403, { error: { code: 403, message: 'Quota exceeded', errors: [{ domain: 'usageLimits', reason: 'quotaExceeded' }] } });
      nock(GOOGLE_API).get(EVENTS).query(incremental()).reply(200, emptyPage());
      await push(h, { channelId: t.watch!.id, token: 'secret-1' }).expect(200);
      await settle(h, 1000);
      await settle(h, 14 * 60_000);
      expect(nock.pendingMocks()).toHaveLength(1);
      await settle(h, 60_000);
      expect(nock.pendingMocks()).toEqual([]);
    });
  });

  it('a channel that expired while watch kept failing is replaced and the calendar read in full at once', async () => {
    // Granted two hours: replaced halfway, at 10:30; Google fails every watch until 12:00, past the expiry at 11:30.
    t = await consentGoogle(h, { channelExpiresAt: Date.parse('2026-03-02T11:30:00Z') });
    nock(GOOGLE_OAUTH).post('/token').reply(200, { access_token: 'ya29.access-n', expires_in: 3599, token_type: 'Bearer' }).persist();
    nock(GOOGLE_API).get(EVENTS).query(incremental()).reply(200, emptyPage()).persist();
    const fullReads: number[] = [];
    nock(GOOGLE_API)
      .get(EVENTS)
      .query((q) => q.timeMin !== undefined && fullReads.push(h.clock.now()) > 0)
      .reply(200, emptyPage())
      .persist();
    nock('https://www.googleapis.com').post('/calendar/v3/channels/stop').reply(404, { error: { code: 404, message: 'Channel not found', errors: [{ reason: 'notFound' }] } }).persist();
    const back = Date.parse('2026-03-02T12:00:00Z');
    let watchedAt: number | undefined;
    nock(GOOGLE_API)
      .post(`${EVENTS}/watch`)
      .reply(() => {
        if (h.clock.now() < back) return [503, { error: { code: 503, message: 'The service is currently unavailable.', errors: [{ reason: 'backendError' }] } }];
        watchedAt ??= h.clock.now();
        return [200, { ...fixture('google', 'watch'), id: 'channel-2', resourceId: 'resource-2', expiration: String(Date.parse('2026-03-09T12:00:00Z')) }];
      })
      .persist();
    await settle(h, Date.parse('2026-03-02T10:25:00Z') - h.clock.now());
    while (h.clock.now() < Date.parse('2026-03-02T13:30:00Z')) await settle(h, 60_000);
    expect((await calendarOf(h)).subscriptions).toEqual([{ kind: 'events', expiresAt: '2026-03-09T12:00:00.000Z' }]);
    expect(watchedAt).toBeGreaterThanOrEqual(back);
    expect(fullReads.filter((at) => at >= watchedAt! && at <= watchedAt! + 60_000)).toHaveLength(1);
  });

  describe('channels, reconciliation, tokens', () => {
    beforeEach(async () => {
      t = await consentGoogle(h);
    });

    it('reconciles every hour even when no push arrives (lost pushes are repaired)', async () => {
      nock(GOOGLE_API).get(EVENTS).query(incremental()).reply(200, fixture('google', 'events-changes-moved'));
      await settle(h, 3599_000);
      expect(nock.pendingMocks()).toHaveLength(1);
      // The access token expires at 10:29:59 and is refreshed ahead, without a new refresh token.
      let refresh: Record<string, string> | undefined;
      nock(GOOGLE_OAUTH)
        .post('/token', (b: Record<string, string>) => (refresh = b) !== undefined)
        .reply(200, { access_token: 'ya29.access-2', expires_in: 3599, scope: 'https://www.googleapis.com/auth/calendar.events.readonly', token_type: 'Bearer' });
      await settle(h, 1000);
      expect(nock.pendingMocks()).toEqual([]);
      expect(refresh).toMatchObject({ grant_type: 'refresh_token', refresh_token: '1//0gLr-refresh-1' });
      expect((await presenceOf(h)).next.at).toBe('2026-03-02T16:00:00.000Z');
    });

    it('a reconciliation that finds nothing stretches the next (1 h, 2 h, 4 h, 4 h); one that finds a lost change goes back to hourly', async () => {
      nock(GOOGLE_OAUTH).post('/token').reply(200, { access_token: 'ya29.access-n', expires_in: 3599, token_type: 'Bearer' }).persist();
      const start = h.clock.now();
      const reads: number[] = [];
      const pages = [emptyPage(), emptyPage(), emptyPage(), fixture('google', 'events-changes-moved'), emptyPage(), emptyPage()];
      nock(GOOGLE_API)
        .get(EVENTS)
        .query((q) => q.syncToken !== undefined && q.timeMin === undefined)
        .times(pages.length)
        .reply(() => {
          reads.push((h.clock.now() - start) / 3600_000);
          return [200, pages[reads.length - 1]];
        });
      for (let hour = 0; hour < 16; hour++) await settle(h, 3600_000);
      // The fourth read found a change no push had announced: hourly again, then stretching anew.
      expect(reads).toEqual([1, 3, 7, 11, 12, 14]);
    });

    it('a push-triggered sync leaves the stretch alone, and postpones the reconciliation', async () => {
      nock(GOOGLE_OAUTH).post('/token').reply(200, { access_token: 'ya29.access-n', expires_in: 3599, token_type: 'Bearer' }).persist();
      const start = h.clock.now();
      const reads: number[] = [];
      nock(GOOGLE_API)
        .get(EVENTS)
        .query(incremental())
        .times(4)
        .reply(() => {
          reads.push((h.clock.now() - start) / 60_000);
          return [200, emptyPage()];
        });
      await settle(h, 3600_000); // reconciliation at 60 min: nothing, so the next waits 2 h
      await settle(h, 30 * 60_000);
      await push(h, { channelId: t.watch!.id, token: 'secret-1', number: 2 }).expect(200);
      await settle(h, 1000); // 90 min + 1 s: the push's read; the next reconciliation is 2 h after it
      for (let i = 0; i < 7; i++) await settle(h, 3600_000);
      expect(reads.map(Math.round)).toEqual([60, 90, 210, 450]);
    });

    it('a 401 (authError) refreshes the token once and retries with the new one', async () => {
      nock(GOOGLE_API)
        .get(EVENTS)
        .query(incremental())
        .matchHeader('authorization', 'Bearer ya29.a0AfB_byC-access-1')
        .reply(401, { error: { code: 401, message: 'Request had invalid authentication credentials.', errors: [{ reason: 'authError', domain: 'global', location: 'Authorization', locationType: 'header' }], status: 'UNAUTHENTICATED' } });
      nock(GOOGLE_OAUTH).post('/token', (b: Record<string, string>) => b.grant_type === 'refresh_token' && b.refresh_token === '1//0gLr-refresh-1').reply(200, { access_token: 'ya29.access-2', expires_in: 3599, token_type: 'Bearer' });
      nock(GOOGLE_API).get(EVENTS).query(incremental()).matchHeader('authorization', 'Bearer ya29.access-2').reply(200, fixture('google', 'events-changes-moved'));
      await push(h, { channelId: t.watch!.id, token: 'secret-1' }).expect(200);
      await settle(h, 1000);
      expect(nock.pendingMocks()).toEqual([]);
      expect((await presenceOf(h)).next.at).toBe('2026-03-02T16:00:00.000Z');
    });

    it('replaces the channel a day before it expires and stops the old one', async () => {
      nock(GOOGLE_OAUTH).post('/token').reply(200, { access_token: 'ya29.access-n', expires_in: 3599, token_type: 'Bearer' }).persist();
      nock(GOOGLE_API).get(EVENTS).query(true).reply(200, emptyPage()).persist();
      let watched: { id: string; token: string } | undefined;
      let stopped: { id: string; resourceId: string } | undefined;
      nock(GOOGLE_API)
        .post(`${EVENTS}/watch`, (b: { id: string; token: string }) => (watched = b) !== undefined)
        .reply(200, () => ({ ...fixture('google', 'watch'), id: watched!.id, resourceId: 'new-resource', expiration: String(Date.parse('2026-03-15T09:30:00Z')) }));
      nock('https://www.googleapis.com')
        .post('/calendar/v3/channels/stop', (b: { id: string; resourceId: string }) => (stopped = b) !== undefined)
        .reply(204);
      await settle(h, Date.parse('2026-03-08T09:29:59Z') - h.clock.now());
      expect(watched).toBeUndefined();
      await settle(h, 1000);
      expect(watched).toBeDefined();
      expect(stopped).toEqual({ id: t.watch!.id, resourceId: RESOURCE_ID });
      expect((await calendarOf(h)).subscriptions).toEqual([{ kind: 'events', expiresAt: '2026-03-15T09:30:00.000Z' }]);
      // The old channel is forgotten; the new one is verified with its own token.
      expect((await push(h, { channelId: t.watch!.id, token: 'secret-1' }).expect(200)).body).toEqual({ accepted: false });
      expect((await push(h, { channelId: watched!.id, token: watched!.token, resourceId: 'new-resource' }).expect(200)).body).toEqual({ accepted: true });
      expect(watched!.token).not.toBe('secret-1');
      expect(misses).toEqual([]);
    });

    it('a 403 that is no rate or quota limit (a scope not granted) breaks the connection at once instead of being retried for ever', async () => {
      nock(GOOGLE_OAUTH).post('/token').reply(200, { access_token: 'ya29.access-n', expires_in: 3599, token_type: 'Bearer' }).persist();
      nock(GOOGLE_API)
        .get(EVENTS)
        .query(incremental())
        .reply(403, { error: { code: 403, message: 'Request had insufficient authentication scopes.', errors: [{ message: 'Insufficient Permission', domain: 'global', reason: 'insufficientPermissions' }], status: 'PERMISSION_DENIED' } });
      await settle(h, 3600_000);
      expect(nock.pendingMocks()).toEqual([]);
      expect(await calendarOf(h)).toMatchObject({ status: 'broken', brokenReason: 'access_denied', sync: { state: 'broken', lastError: { code: 'insufficientPermissions' } } });
      expect((await presenceOf(h)).explanation).toContainEqual(expect.objectContaining({ signal: 'google:connection', reason: 'the source cannot say (unknown)' }));
      await settle(h, 24 * 3600_000);
      expect(misses).toEqual([]);
    });

    it('invalid_grant breaks the connection and the calendar becomes unknown', async () => {
      nock(GOOGLE_OAUTH).post('/token').reply(400, fixture('google', 'invalid-grant'));
      await settle(h, 3600_000);
      expect(await calendarOf(h)).toMatchObject({ status: 'broken', brokenReason: 'invalid_grant', sync: { state: 'broken' } });
      const p = await presenceOf(h);
      expect(p.next).toBeUndefined();
      expect(p.explanation).toContainEqual(expect.objectContaining({ signal: 'google:connection', reason: 'the source cannot say (unknown)' }));
      await settle(h, 24 * 3600_000);
      expect(misses).toEqual([]);
    });

    it('disconnect stops the channel, revokes the grant and forgets the events', async () => {
      let stopped: unknown;
      let revoked: Record<string, string> | undefined;
      nock(GOOGLE_API).post('/calendar/v3/channels/stop', (b: unknown) => (stopped = b) !== undefined).reply(204);
      nock(GOOGLE_OAUTH).post('/revoke', (b: Record<string, string>) => (revoked = b) !== undefined).reply(200, {});
      await h.del('/v1/people/alice/calendar/google').expect(204);
      expect(stopped).toEqual({ id: t.watch!.id, resourceId: RESOURCE_ID });
      expect(revoked).toEqual({ token: '1//0gLr-refresh-1' });
      expect((await presenceOf(h)).next).toBeUndefined();
      expect((await h.get('/v1/people/alice/calendar')).body.connections).toEqual([]);
    });

    it('disconnect from the person’s page', async () => {
      nock(GOOGLE_API).post('/calendar/v3/channels/stop').reply(204);
      nock(GOOGLE_OAUTH).post('/revoke').reply(200, {});
      const path = new URL((await h.post('/v1/people/alice/connect-link', {})).body.url).pathname;
      const res = await h.http.post(`${path}/google/disconnect`).expect(303);
      expect(res.headers.location).toBe(`${path}?disconnected=google`);
      const page = await h.http.get(res.headers.location as string).expect(200);
      expect(page.text).toContain('data-provider="google" data-status="not-connected"');
      expect(page.text).toContain('no longer affects your status');
    });
  });
});
