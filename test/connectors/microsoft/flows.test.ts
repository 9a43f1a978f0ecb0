import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GRAPH, LOGIN, cookiesFrom, onlyLoopback, settle, startCalendarHub, unmatched, type CalendarTestHub } from '../../support/calendar-hub.js';
import { fixture } from '../../support/fixtures.js';
import { OPERATOR_KEY } from '../../support/hub.js';
import { series } from '../../support/metrics.js';
import { DELTA_LINK, PRESENCE_SUB_ID, SUB_ID, USER_ID, consentMicrosoft, lifecycle, notification, seedAliceForCalendar } from './consent.js';

const DELTA_TOKEN = { $deltatoken: 'R0usmci39OQxqJrxK4' };
const emptyDelta = (token = 'R0usmci39OQxqJrxK4') => ({ value: [], '@odata.deltaLink': `https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken=${token}` });
const presenceOf = async (h: CalendarTestHub) => (await h.get('/v1/presence/alice').expect(200)).body;
const calendarOf = async (h: CalendarTestHub) => (await h.get('/v1/people/alice/calendar').expect(200)).body.connections[0];


function webhook(h: CalendarTestHub, body: object, path = '/v1/webhooks/microsoft') {
  return h.http.post(path).set('Content-Type', 'application/json').send(JSON.stringify(body));
}

describe('Microsoft Graph connector', () => {
  let h: CalendarTestHub;
  let misses: string[];
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

  describe('consent', () => {
    it('authorizes with PKCE S256 and state, sends the verifier, subscribes, syncs and shows the account', async () => {
      const t = await consentMicrosoft(h);
      expect(Object.fromEntries(t.authorize.searchParams)).toMatchObject({
        client_id: 'ms-client-id',
        response_type: 'code',
        redirect_uri: 'https://presence.example.test/oauth/microsoft/callback',
        scope: 'offline_access User.Read Calendars.Read',
        code_challenge_method: 'S256',
        login_hint: 'alice@contoso.example',
      });
      expect(t.authorize.origin + t.authorize.pathname).toBe(`${LOGIN}/organizations/oauth2/v2.0/authorize`);
      expect(t.subscriptionBody).toMatchObject({
        changeType: 'created,updated,deleted',
        notificationUrl: 'https://presence.example.test/v1/webhooks/microsoft',
        lifecycleNotificationUrl: 'https://presence.example.test/v1/webhooks/microsoft/lifecycle',
        resource: 'me/events',
        clientState: 'secret-1',
        expirationDateTime: '2026-03-05T08:00:00.000Z',
      });
      expect(nock.pendingMocks()).toEqual([]);
      expect(await calendarOf(h)).toEqual({
        provider: 'microsoft',
        mode: 'delegated',
        status: 'connected',
        account: { id: USER_ID, email: 'alice@contoso.example', name: 'Alice Example' },
        connectedAt: '2026-03-02T09:30:00.000Z',
        sync: { state: 'ok', lastSyncAt: '2026-03-02T09:30:00.000Z' },
        subscriptions: [{ kind: 'events', expiresAt: '2026-03-05T08:00:00.000Z' }],
      });
      expect((await presenceOf(h)).next).toEqual({ at: '2026-03-02T14:00:00.000Z', availability: 'busy', activity: 'in-meeting' });
      const page = await h.http.get(new URL((await h.post('/v1/people/alice/connect-link', {})).body.url).pathname).expect(200);
      expect(page.text).toContain('data-provider="microsoft" data-status="connected" data-sync="ok"');
      expect(page.text).toContain('Connected as <strong>alice@contoso.example</strong>');
      expect(page.headers['referrer-policy']).toBe('no-referrer');
      expect(misses).toEqual([]);
    });

    it('a first subscription Graph refuses (its validation request did not reach us) is tried again until it works, not given up', async () => {
      // More than a day: a subscription Graph cannot validate (our webhook unreachable) is no rejected read, and breaks nothing.
      const back = Date.parse('2026-03-03T12:00:00Z');
      nock(GRAPH)
        .post('/v1.0/subscriptions')
        .reply(() =>
          h.clock.now() < back
            ? [400, { error: { code: 'ValidationError', message: 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.' } }]
            : [201, { ...fixture('microsoft', 'subscription-created'), id: SUB_ID, expirationDateTime: '2026-03-06T12:00:00Z' }],
        )
        .persist();
      nock(LOGIN).post('/organizations/oauth2/v2.0/token', (b: Record<string, string>) => b.grant_type === 'refresh_token').reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'access-n' }).persist();
      await consentMicrosoft(h);
      expect((await calendarOf(h)).sync).toMatchObject({ state: 'error', lastError: { code: 'ValidationError' } });
      while (h.clock.now() < Date.parse('2026-03-03T13:00:00Z')) await settle(h, 20 * 60_000);
      expect(await calendarOf(h)).toMatchObject({ status: 'connected', sync: { state: 'ok' }, subscriptions: [{ kind: 'events', expiresAt: '2026-03-06T12:00:00.000Z' }] });
    });

    it('keeps tokens sealed at rest and never stores titles, attendees or locations', async () => {
      await consentMicrosoft(h);
      const db = ['presence-hub.sqlite', 'presence-hub.sqlite-wal'].map((f) => {
        try {
          return readFileSync(join(h.dir, f)).toString('latin1');
        } catch {
          return '';
        }
      });
      const all = db.join('');
      expect(all).toContain('calendarConnections');
      for (const secret of ['access-1', 'refresh-1', 'secret-1', 'pricing', 'Bob Secret', 'bob.secret', 'Room 4.12', 'Vacation', 'recruiter']) expect(all).not.toContain(secret);
    });

    it('a consent in progress goes with its tenant: the flow is deleted and its callback refused', async () => {
      const link = await h.post('/v1/people/alice/connect-link', {}).expect(201);
      const start = await h.http.post(`${new URL(link.body.url).pathname}/microsoft`).expect(303);
      const state = new URL(start.headers.location as string).searchParams.get('state')!;
      expect(await h.hub.store.directory.list('oauthFlows', 'acme')).toHaveLength(1);
      await h.http.delete('/v1/tenants/acme').set('Authorization', `Bearer ${OPERATOR_KEY}`).expect(204);
      expect(await h.hub.store.directory.list('oauthFlows', 'acme')).toEqual([]);
      const cb = await h.http.get(`/oauth/microsoft/callback?code=auth-code-1&state=${encodeURIComponent(state)}`).set('Cookie', cookiesFrom(start.headers['set-cookie'])).expect(400);
      expect(cb.text).toContain('data-error-code="oauth_state_mismatch"');
      expect(misses).toEqual([]);
    });

    it("refuses a page's button posted from another site (login CSRF with a link the attacker holds): no flow, no cookie, nothing disconnected", async () => {
      const path = new URL((await h.post('/v1/people/alice/connect-link', {}).expect(201)).body.url).pathname;
      for (const site of ['cross-site', 'same-site', 'none']) {
        for (const action of [`${path}/microsoft`, `${path}/microsoft/disconnect`]) {
          const res = await h.http.post(action).set('Sec-Fetch-Site', site).expect(403);
          expect(res.text).toContain('data-error-code="cross_site_form"');
          expect(res.headers['set-cookie']).toBeUndefined();
          expect(res.headers.location).toBeUndefined();
        }
      }
      expect(await h.hub.store.directory.list('oauthFlows', 'acme')).toEqual([]);
      // From the page itself (as a browser marks it), or from a client that sends no Fetch Metadata, it starts.
      await h.http.post(`${path}/microsoft`).set('Sec-Fetch-Site', 'same-origin').expect(303);
      await h.http.post(`${path}/microsoft`).expect(303);
      expect(misses).toEqual([]);
    });

    it('consents started in two tabs (Microsoft in one, Google in the other) each finish: one flow cookie does not overwrite the other', async () => {
      const path = new URL((await h.post('/v1/people/alice/connect-link', {}).expect(201)).body.url).pathname;
      // The browser's cookie jar: a cookie set again under the same name replaces the earlier one.
      const jar = new Map<string, string>();
      const keep = (setCookie: string[] | string | undefined) => {
        for (const c of [setCookie ?? []].flat()) {
          const [pair] = c.split(';');
          const eq = pair!.indexOf('=');
          jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
        }
      };
      const sent = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const tab1 = await h.http.post(`${path}/microsoft`).expect(303);
      keep(tab1.headers['set-cookie']);
      const tab2 = await h.http.post(`${path}/google`).expect(303);
      keep(tab2.headers['set-cookie']);
      for (const [p, tab] of [['microsoft', tab1], ['google', tab2]] as const) {
        const state = new URL(tab.headers.location as string).searchParams.get('state')!;
        const back = await h.http.get(`/oauth/${p}/callback?error=access_denied&state=${encodeURIComponent(state)}`).set('Cookie', sent()).expect(400);
        expect(back.text).toContain('data-error-code="consent_denied"');
      }
      expect(misses).toEqual([]);
    });

    it('rejects a callback whose state does not match, or that comes from another browser, and writes nothing', async () => {
      const link = await h.post('/v1/people/alice/connect-link', {}).expect(201);
      const path = new URL(link.body.url).pathname;
      const start = await h.http.post(`${path}/microsoft`).expect(303);
      const state = new URL(start.headers.location as string).searchParams.get('state')!;
      const cookie = cookiesFrom(start.headers['set-cookie']);
      expect(start.headers['set-cookie']?.[0]).toMatch(/^ph_oauth_[0-9a-f]{16}=.*; Path=\/oauth; .*HttpOnly; Secure; SameSite=Lax/);

      const forged = await h.http.get(`/oauth/microsoft/callback?code=stolen&state=forged-state`).set('Cookie', cookie).expect(400);
      expect(forged.text).toContain('data-error-code="oauth_state_mismatch"');
      const otherBrowser = await h.http.get(`/oauth/microsoft/callback?code=stolen&state=${encodeURIComponent(state)}`).expect(400);
      expect(otherBrowser.text).toContain('data-error-code="oauth_state_mismatch"');
      const wrongProvider = await h.http.get(`/oauth/google/callback?code=x&state=${encodeURIComponent(state)}`).set('Cookie', cookie).expect(400);
      expect(wrongProvider.text).toContain('oauth_state_mismatch');
      // A browser cookie that is not percent-encoding (a broken client, or someone probing) is no binding either.
      const mangled = await h.http.get(`/oauth/microsoft/callback?code=x&state=${encodeURIComponent(state)}`).set('Cookie', `${cookie.split('=')[0]}=%E0%A4%A`).expect(400);
      expect(mangled.text).toContain('data-error-code="oauth_state_mismatch"');
      expect((await h.get('/v1/people/alice/calendar')).body.connections).toEqual([]);
      // No token request was made for any of them.
      expect(misses).toEqual([]);

      // The genuine browser can still finish, once; a replay of the same answer is refused.
      nock(LOGIN).post('/organizations/oauth2/v2.0/token').reply(400, fixture('microsoft', 'invalid-grant'));
      const denied = await h.http.get(`/oauth/microsoft/callback?code=expired-code&state=${encodeURIComponent(state)}`).set('Cookie', cookie).expect(502);
      expect(denied.text).toContain('data-error-code="consent_failed"');
      const replay = await h.http.get(`/oauth/microsoft/callback?code=expired-code&state=${encodeURIComponent(state)}`).set('Cookie', cookie).expect(400);
      expect(replay.text).toContain('oauth_state_mismatch');
      expect((await h.get('/v1/people/alice/calendar')).body.connections).toEqual([]);
    });

    it('shows a refused consent as such', async () => {
      const link = await h.post('/v1/people/alice/connect-link', {}).expect(201);
      const start = await h.http.post(`${new URL(link.body.url).pathname}/microsoft`).expect(303);
      const state = new URL(start.headers.location as string).searchParams.get('state')!;
      const res = await h.http
        .get(`/oauth/microsoft/callback?error=access_denied&error_description=AADSTS65004&state=${encodeURIComponent(state)}`)
        .set('Cookie', cookiesFrom(start.headers['set-cookie']))
        .expect(400);
      expect(res.text).toContain('data-error-code="consent_denied"');
    });

    it('refuses forged, tampered and expired connect links', async () => {
      const link = await h.post('/v1/people/alice/connect-link', {}).expect(201);
      expect(link.body.expiresAt).toBe('2026-03-09T09:30:00.000Z');
      const token = new URL(link.body.url).pathname.split('/')[2]!;
      const [payload, mac] = token.split('.');
      const bob = Buffer.from(JSON.stringify({ t: 'acme', p: 'bob', e: Date.parse('2027-01-01T00:00:00Z') })).toString('base64url');
      expect((await h.http.get(`/connect/${bob}.${mac}`).expect(404)).text).toContain('invalid_connect_link');
      expect((await h.http.get(`/connect/${payload}.${mac!.slice(0, -2)}xx`).expect(404)).text).toContain('invalid_connect_link');
      expect((await h.http.post(`/connect/${bob}.${mac}/microsoft`).expect(404)).text).toContain('invalid_connect_link');
      await h.clock.advanceTo('2026-03-09T09:30:00Z');
      expect((await h.http.get(`/connect/${token}`).expect(410)).text).toContain('connect_link_expired');
    });

    it('escapes what people typed on the page', async () => {
      await h.put('/v1/people/alice', { name: '<script>alert(1)</script>', email: 'alice@contoso.example', timeZone: 'Europe/Berlin', extension: '1001' }).expect(200);
      const link = await h.post('/v1/people/alice/connect-link', {}).expect(201);
      const page = await h.http.get(new URL(link.body.url).pathname).expect(200);
      expect(page.text).not.toContain('<script>alert');
      expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    });
  });

  describe('webhooks', () => {
    beforeEach(async () => {
      await consentMicrosoft(h);
    });

    it('answers the validation handshake with the decoded token as plain text, on both URLs', async () => {
      const token = 'Validation: Testing client application reachability for subscription Request-Id: 25b9ec26-1b7e-4a2b-9d6b-8c9a0e1f2a3b';
      for (const path of ['/v1/webhooks/microsoft', '/v1/webhooks/microsoft/lifecycle']) {
        const res = await h.http.post(`${path}?validationToken=${encodeURIComponent(token)}`).set('Content-Type', 'text/plain').expect(200);
        expect(res.headers['content-type']).toMatch(/^text\/plain/);
        expect(res.text).toBe(token);
      }
    });

    it('acknowledges a wrong clientState exactly as an unknown subscription (no oracle, no redelivery), counts it, and starts nothing', async () => {
      const forged = await webhook(h, notification('not-the-client-state')).expect(202);
      const missing = await webhook(h, notification('not-the-client-state', {}, 'b7a8c1d2-0000-4000-8000-000000000001')).expect(202);
      expect(forged.body).toEqual({ accepted: 0, ignored: 1 });
      expect(missing.body).toEqual(forged.body);
      // A lifecycle event with a wrong clientState is no different.
      expect((await webhook(h, lifecycle('guess', 'subscriptionRemoved'), '/v1/webhooks/microsoft/lifecycle').expect(202)).body).toEqual({ accepted: 0, ignored: 1 });
      expect(h.hub.calendars.service.jobs.dueAt('sync:acme/microsoft.alice')).toBeUndefined();
      await settle(h, 5000);
      expect(misses).toEqual([]);
      expect(nock.pendingMocks()).toEqual([]);
      const text = (await h.http.get('/metrics').expect(200)).text;
      expect(series(text, 'presence_calendar_notifications_total', { provider: 'microsoft', outcome: 'forged' })).toBe(2);
      expect(series(text, 'presence_calendar_notifications_total', { provider: 'microsoft', outcome: 'unknown' })).toBe(1);
    });

    it('looks each subscription of a batch up once, so a large batch, forged or genuine, costs one look-up and at most one read', async () => {
      const item = (notification('secret-1') as { value: object[] }).value[0]!;
      const bad = (notification('guessed') as { value: object[] }).value[0]!;
      const lookups = vi.spyOn(h.hub.store.directory, 'findUnique');
      const all = await webhook(h, { value: Array.from({ length: 1000 }, () => bad) }).expect(202);
      expect(all.body).toEqual({ accepted: 0, ignored: 1000 });
      expect(lookups).toHaveBeenCalledTimes(1);
      expect(h.hub.calendars.service.jobs.dueAt('sync:acme/microsoft.alice')).toBeUndefined();
      // A genuine batch with forgeries mixed in: the genuine items are acknowledged and read once.
      const mixed = await webhook(h, { value: [...Array.from({ length: 500 }, () => item), ...Array.from({ length: 499 }, () => bad)] }).expect(202);
      expect(mixed.body).toEqual({ accepted: 500, ignored: 499 });
      expect(lookups).toHaveBeenCalledTimes(3);
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(DELTA_TOKEN).reply(200, fixture('microsoft', 'delta-changes-moved'));
      await settle(h, 1000);
      expect(nock.pendingMocks()).toEqual([]);
      expect(misses).toEqual([]);
      expect((await presenceOf(h)).next.at).toBe('2026-03-02T16:00:00.000Z');
    });

    it('answers 202 at once and fetches the change behind: a move is followed', async () => {
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(DELTA_TOKEN).reply(200, fixture('microsoft', 'delta-changes-moved'));
      const res = await webhook(h, notification('secret-1')).expect(202);
      expect(res.body).toEqual({ accepted: 1, ignored: 0 });
      expect(nock.pendingMocks()).toHaveLength(1);
      await settle(h, 1000);
      expect(nock.pendingMocks()).toEqual([]);
      expect((await presenceOf(h)).next).toEqual({ at: '2026-03-02T16:00:00.000Z', availability: 'busy', activity: 'in-meeting' });
    });

    it('is idempotent for duplicate and out-of-order notifications: one fetch, the latest truth', async () => {
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(DELTA_TOKEN).reply(200, fixture('microsoft', 'delta-changes-cancelled'));
      await webhook(h, notification('secret-1', { changeType: 'deleted' })).expect(202);
      await webhook(h, notification('secret-1', { changeType: 'deleted' })).expect(202);
      // An "updated" Graph sent before the deletion arrives last.
      await webhook(h, notification('secret-1', { changeType: 'updated' })).expect(202);
      await settle(h, 1000);
      expect(nock.pendingMocks()).toEqual([]);
      expect(misses).toEqual([]);
      expect((await presenceOf(h)).next).toEqual({ at: '2026-03-03T23:00:00.000Z', availability: 'away', activity: 'out-of-office' });
      // The same notifications again change nothing: the next delta says nothing new.
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query({ $deltatoken: 'R0usmci39OQxqJrxK6' }).reply(200, emptyDelta('R0usmci39OQxqJrxK6'));
      const before = await presenceOf(h);
      await webhook(h, notification('secret-1', { changeType: 'deleted' })).expect(202);
      await settle(h, 1000);
      expect(await presenceOf(h)).toEqual(before);
    });

    it('ignores notifications for unknown subscriptions without failing the batch', async () => {
      const res = await webhook(h, notification('whatever', {}, 'an-old-subscription')).expect(202);
      expect(res.body).toEqual({ accepted: 0, ignored: 1 });
      expect((await webhook(h, { nope: true }).expect(400)).body.error.code).toBe('invalid_body');
      expect((await h.http.post('/v1/webhooks/microsoft').set('Content-Type', 'application/json').send('{').expect(400)).body.error.code).toBe('invalid_json');
    });
  });

  describe('tokens', () => {
    beforeEach(async () => {
      await consentMicrosoft(h);
    });

    it('on 401 refreshes once and retries with the new token; keeps the old refresh token when none is returned', async () => {
      const refreshBodies: Array<Record<string, string>> = [];
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(DELTA_TOKEN).matchHeader('authorization', /access-1$/).reply(401, { error: { code: 'InvalidAuthenticationToken', message: 'Access token has expired or is not yet valid.' } });
      nock(LOGIN)
        .post('/organizations/oauth2/v2.0/token', (b: Record<string, string>) => refreshBodies.push(b) > 0)
        .reply(200, { token_type: 'Bearer', scope: 'Calendars.Read User.Read', expires_in: 3599, access_token: 'access-2' });
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(DELTA_TOKEN).matchHeader('authorization', 'Bearer access-2').reply(200, fixture('microsoft', 'delta-changes-moved'));
      await webhook(h, notification('secret-1')).expect(202);
      await settle(h, 1000);
      expect(nock.pendingMocks()).toEqual([]);
      expect(refreshBodies[0]).toMatchObject({ grant_type: 'refresh_token', refresh_token: '0.ARoAv4j5cvGGr0GRqy180BHbR1AAAAAAAAAAwAAAAAAAAAAaAAA.refresh-1', client_id: 'ms-client-id' });
      expect((await presenceOf(h)).next.at).toBe('2026-03-02T16:00:00.000Z');

      // Refreshed ahead of expiry (5 min before 10:30), still with the first refresh token.
      nock(LOGIN)
        .post('/organizations/oauth2/v2.0/token', (b: Record<string, string>) => refreshBodies.push(b) > 0)
        .reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'access-3', refresh_token: 'refresh-rotated' });
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query({ $deltatoken: 'R0usmci39OQxqJrxK5' }).matchHeader('authorization', 'Bearer access-3').reply(200, emptyDelta('R0usmci39OQxqJrxK5'));
      await settle(h, 3600_000);
      expect(nock.pendingMocks()).toEqual([]);
      expect(refreshBodies[1]?.refresh_token).toBe('0.ARoAv4j5cvGGr0GRqy180BHbR1AAAAAAAAAAwAAAAAAAAAAaAAA.refresh-1');
    });

    it('invalid_grant breaks the connection: the calendar becomes unknown, person and admin see it, work stops', async () => {
      expect((await presenceOf(h)).next.activity).toBe('in-meeting');
      nock(LOGIN).post('/organizations/oauth2/v2.0/token').reply(400, fixture('microsoft', 'invalid-grant'));
      // The hourly reconciliation at 10:30 needs a new token first.
      await settle(h, 3600_000);
      expect(nock.pendingMocks()).toEqual([]);
      const conn = await calendarOf(h);
      expect(conn).toMatchObject({ status: 'broken', brokenReason: 'invalid_grant', brokenAt: '2026-03-02T10:30:00.000Z', sync: { state: 'broken' }, subscriptions: [] });
      const p = await presenceOf(h);
      expect(p.next).toBeUndefined();
      expect(p.explanation).toContainEqual(expect.objectContaining({ signal: 'outlook:connection', verdict: 'inactive', reason: 'the source cannot say (unknown)' }));
      expect(p.explanation.some((e: { signal: string }) => e.signal.startsWith('outlook:evt:'))).toBe(false);
      const admin = (await h.get('/v1/calendars').expect(200)).body;
      expect(admin.summary).toEqual({ connected: 0, broken: 1 });
      expect(admin.connections[0]).toMatchObject({ personId: 'alice', status: 'broken' });
      const page = await h.http.get(new URL((await h.post('/v1/people/alice/connect-link', {})).body.url).pathname).expect(200);
      expect(page.text).toContain('data-status="broken"');
      expect(page.text).toContain('Reconnect');
      // Notifications for the dead grant are accepted but lead nowhere; no timers remain for it.
      await webhook(h, notification('secret-1')).expect(202);
      await settle(h, 24 * 3600_000);
      expect(misses).toEqual([]);
    });
  });

  describe('answers no retry can change', () => {
    beforeEach(async () => {
      await consentMicrosoft(h);
      nock(LOGIN).post('/organizations/oauth2/v2.0/token', (b: Record<string, string>) => b.grant_type === 'refresh_token').reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'access-n' }).persist();
    });
    const broken = async () => series((await h.http.get('/metrics').expect(200)).text, 'presence_calendar_connections_broken', { tenant: 'acme', provider: 'microsoft' });

    it('403 access denied on a reconciliation breaks the connection at once, with the reason shown and counted, and nothing is retried; consenting again resumes', async () => {
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(DELTA_TOKEN).reply(403, { error: { code: 'ErrorAccessDenied', message: 'Access is denied. Check credentials and try again.' } });
      await settle(h, 3600_000);
      expect(nock.pendingMocks()).toEqual([]);
      expect(await calendarOf(h)).toMatchObject({
        status: 'broken',
        brokenReason: 'access_denied',
        brokenAt: '2026-03-02T10:30:00.000Z',
        sync: { state: 'broken', lastError: { code: 'ErrorAccessDenied', message: 'Graph answered 403 ErrorAccessDenied', at: '2026-03-02T10:30:00.000Z' } },
        subscriptions: [],
      });
      expect((await h.get('/v1/calendars').expect(200)).body.summary).toEqual({ connected: 0, broken: 1 });
      expect(await broken()).toBe(1);
      expect((await presenceOf(h)).explanation).toContainEqual(expect.objectContaining({ signal: 'outlook:connection', reason: 'the source cannot say (unknown)' }));
      // Nothing more is asked of Graph: no retry, no reconciliation, no renewal.
      await settle(h, 3 * 24 * 3600_000);
      expect(misses).toEqual([]);

      await consentMicrosoft(h, { pages: [{ value: [], '@odata.deltaLink': DELTA_LINK }], subscriptionExpires: '2026-03-08T09:00:00Z' });
      expect(await calendarOf(h)).toMatchObject({ status: 'connected', connectedAt: '2026-03-05T10:30:00.000Z', sync: { state: 'ok' }, subscriptions: [{ kind: 'events' }] });
      expect((await calendarOf(h)).brokenReason).toBeUndefined();
      expect(await broken()).toBe(0);
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(DELTA_TOKEN).reply(200, emptyDelta());
      await settle(h, 3600_000);
      expect(nock.pendingMocks()).toEqual([]);
    });

    it('a 400 is retried, but after a day of them with no good read between, the connection breaks as rejected with the provider\'s answer; consenting again resumes', async () => {
      let asked = 0;
      nock(GRAPH)
        .get('/v1.0/me/calendarView/delta')
        .query(true)
        .reply(() => {
          asked++;
          return [400, { error: { code: 'BadRequest', message: "Parsing OData Select and Expand failed: Could not find a property named 'showAs'." } }];
        })
        .persist();
      for (let hours = 0; hours < 23; hours++) await settle(h, 3600_000);
      expect(asked).toBeGreaterThan(20);
      expect(await calendarOf(h)).toMatchObject({ status: 'connected', sync: { state: 'error', lastError: { code: 'BadRequest' } } });
      expect(await broken()).toBe(0);
      for (let hours = 0; hours < 3; hours++) await settle(h, 3600_000);
      const conn = await calendarOf(h);
      expect(conn).toMatchObject({
        status: 'broken',
        brokenReason: 'rejected',
        sync: { state: 'broken', lastError: { code: 'BadRequest', message: "Graph answered 400 BadRequest: Parsing OData Select and Expand failed: Could not find a property named 'showAs'." } },
      });
      // The first rejection came with the reconciliation an hour after consent; broken a day after it.
      expect(Date.parse(conn.brokenAt)).toBeGreaterThanOrEqual(Date.parse('2026-03-03T10:30:00.000Z'));
      expect(await broken()).toBe(1);
      const before = asked;
      await settle(h, 3 * 24 * 3600_000);
      expect(asked).toBe(before);
      nock.cleanAll();
      nock(LOGIN).post('/organizations/oauth2/v2.0/token', (b: Record<string, string>) => b.grant_type === 'refresh_token').reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'access-n' }).persist();
      await consentMicrosoft(h, { pages: [{ value: [], '@odata.deltaLink': DELTA_LINK }], subscriptionExpires: '2026-03-12T09:00:00Z' });
      expect(await calendarOf(h)).toMatchObject({ status: 'connected', sync: { state: 'ok' } });
      expect(await broken()).toBe(0);
      // A rejection after reconnecting starts a new day, not the old one's.
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(DELTA_TOKEN).reply(400, { error: { code: 'BadRequest', message: 'still' } }).persist();
      await settle(h, 3600_000);
      await settle(h, 3600_000);
      expect(await calendarOf(h)).toMatchObject({ status: 'connected', sync: { state: 'error' } });
    });

    it('a renewal still refused (401) with a token just refreshed breaks it too; the 429 and 503 before it did not', async () => {
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(true).reply(200, { value: [], '@odata.deltaLink': DELTA_LINK }).persist();
      nock(GRAPH).patch(`/v1.0/subscriptions/${SUB_ID}`).reply(429, fixture('microsoft', 'throttled'), { 'Retry-After': '60' });
      nock(GRAPH).patch(`/v1.0/subscriptions/${SUB_ID}`).reply(503, { error: { code: 'ServiceUnavailable', message: 'busy' } }, { 'Retry-After': '60' });
      nock(GRAPH)
        .patch(`/v1.0/subscriptions/${SUB_ID}`)
        .times(2)
        .reply(401, { error: { code: 'InvalidAuthenticationToken', message: 'Access token validation failure.' } });
      await settle(h, Date.parse('2026-03-04T20:00:00Z') - h.clock.now());
      for (let i = 0; i < 4; i++) await settle(h, 60_000);
      expect(nock.pendingMocks()).toEqual([]);
      expect(await calendarOf(h)).toMatchObject({ status: 'broken', brokenReason: 'access_denied', sync: { lastError: { code: 'InvalidAuthenticationToken' } } });
      await settle(h, 24 * 3600_000);
      expect(misses).toEqual([]);
    });
  });

  describe('lifecycle notifications', () => {
    beforeEach(async () => {
      await consentMicrosoft(h);
    });

    it('reauthorizationRequired renews (PATCH) the subscription', async () => {
      let patched: Record<string, string> | undefined;
      nock(GRAPH)
        .patch(`/v1.0/subscriptions/${SUB_ID}`, (b: Record<string, string>) => (patched = b) !== undefined)
        .reply(200, { ...fixture('microsoft', 'subscription-created'), id: SUB_ID, expirationDateTime: '2026-03-05T10:00:00Z' });
      await webhook(h, lifecycle('secret-1', 'reauthorizationRequired'), '/v1/webhooks/microsoft/lifecycle').expect(202);
      await settle(h);
      // 4,230 minutes from now (works in every cloud; protocols §1.1).
      expect(patched).toEqual({ expirationDateTime: '2026-03-05T08:00:00.000Z' });
      expect((await calendarOf(h)).subscriptions).toEqual([{ kind: 'events', expiresAt: '2026-03-05T10:00:00.000Z' }]);
    });

    it('subscriptionRemoved creates a new subscription and resyncs in full', async () => {
      nock(GRAPH).post('/v1.0/subscriptions').reply(201, { ...fixture('microsoft', 'subscription-created'), id: 'new-sub', expirationDateTime: '2026-03-05T09:00:00Z' });
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query((q) => q.startDateTime === '2026-03-02T09:30:00.000Z').reply(200, { value: [], '@odata.deltaLink': DELTA_LINK });
      await webhook(h, lifecycle('secret-1', 'subscriptionRemoved'), '/v1/webhooks/microsoft/lifecycle').expect(202);
      await settle(h);
      expect(nock.pendingMocks()).toEqual([]);
      expect((await calendarOf(h)).subscriptions).toEqual([{ kind: 'events', expiresAt: '2026-03-05T09:00:00.000Z' }]);
      // The full sync found nothing: every event signal is gone.
      expect((await presenceOf(h)).next).toBeUndefined();
      // The new subscription carries a new clientState; the old one is refused now.
      await webhook(h, notification('secret-2', {}, 'new-sub')).expect(202);
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(DELTA_TOKEN).reply(200, emptyDelta());
      await settle(h, 1000);
      expect(nock.pendingMocks()).toEqual([]);
    });

    it('missed runs a full delta resync', async () => {
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query((q) => q.startDateTime !== undefined).reply(200, { ...fixture('microsoft', 'delta-changes-moved'), '@odata.deltaLink': DELTA_LINK });
      await webhook(h, lifecycle('secret-1', 'missed'), '/v1/webhooks/microsoft/lifecycle').expect(202);
      await settle(h);
      expect(nock.pendingMocks()).toEqual([]);
      // Full: the out-of-office event not in this answer is gone, the moved meeting is there.
      expect((await presenceOf(h)).next).toEqual({ at: '2026-03-02T16:00:00.000Z', availability: 'busy', activity: 'in-meeting' });
    });

    it('ignores a lifecycle notification with a forged clientState', async () => {
      expect((await webhook(h, lifecycle('guess', 'subscriptionRemoved'), '/v1/webhooks/microsoft/lifecycle').expect(202)).body).toEqual({ accepted: 0, ignored: 1 });
      await settle(h);
      expect(misses).toEqual([]);
      expect((await calendarOf(h)).subscriptions).toEqual([{ kind: 'events', expiresAt: '2026-03-05T08:00:00.000Z' }]);
    });
  });

  // Outages of hours in steps of minutes, each `settle` waiting up to 400 ms of real time while a retry
  // waits on the fake clock: 10–20 s per test on a quiet machine, more when it is busy.
  describe('throttling and renewal', { timeout: 90_000 }, () => {
    beforeEach(async () => {
      await consentMicrosoft(h);
    });

    it('429 with Retry-After: waits exactly that long before asking again', async () => {
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(DELTA_TOKEN).reply(429, fixture('microsoft', 'throttled'), { 'Retry-After': '120' });
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(DELTA_TOKEN).reply(200, fixture('microsoft', 'delta-changes-moved'));
      await webhook(h, notification('secret-1')).expect(202);
      await settle(h, 1000);
      expect(nock.pendingMocks()).toHaveLength(1);
      await settle(h, 119_999);
      expect(nock.pendingMocks()).toHaveLength(1);
      await settle(h, 1);
      expect(nock.pendingMocks()).toEqual([]);
      expect((await presenceOf(h)).next.at).toBe('2026-03-02T16:00:00.000Z');
    });

    it('503 without Retry-After backs off exponentially', async () => {
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(DELTA_TOKEN).reply(503, { error: { code: 'ServiceUnavailable', message: 'busy' } });
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(DELTA_TOKEN).reply(503, { error: { code: 'ServiceUnavailable', message: 'busy' } });
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(DELTA_TOKEN).reply(200, emptyDelta());
      await webhook(h, notification('secret-1')).expect(202);
      await settle(h, 1000);
      expect(nock.pendingMocks()).toHaveLength(2);
      await settle(h, 1000); // 2^0 s
      expect(nock.pendingMocks()).toHaveLength(1);
      await settle(h, 1999);
      expect(nock.pendingMocks()).toHaveLength(1);
      await settle(h, 1); // 2^1 s
      expect(nock.pendingMocks()).toEqual([]);
    });

    it("counts each sync under its tenant and provider, failures too (the calendar alert is per tenant)", async () => {
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(DELTA_TOKEN).reply(400, { error: { code: 'BadRequest', message: 'The request is malformed.' } });
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(DELTA_TOKEN).reply(200, emptyDelta());
      await webhook(h, notification('secret-1')).expect(202);
      await settle(h, 1000);
      expect((await calendarOf(h)).sync.lastError.code).toBe('BadRequest');
      await webhook(h, notification('secret-1')).expect(202);
      await settle(h, 1000);
      expect(nock.pendingMocks()).toEqual([]);
      const text = (await h.http.get('/metrics').expect(200)).text;
      const syncs = (outcome: string) => series(text, 'presence_calendar_syncs_total', { tenant: 'acme', provider: 'microsoft', outcome });
      // The consent's first sync was full.
      expect([syncs('full'), syncs('incremental'), syncs('error')]).toEqual([1, 1, 1]);
      expect(series(text, 'presence_calendar_syncs_total', { tenant: 'acme', provider: 'google', outcome: 'error' })).toBe(0);
    });

    it('renews the subscription 12 h before it expires, with the hourly reconciliation running meanwhile', async () => {
      nock(LOGIN).post('/organizations/oauth2/v2.0/token').reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'access-n' }).persist();
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(true).reply(200, { value: [], '@odata.deltaLink': DELTA_LINK }).persist();
      let patched = 0;
      nock(GRAPH)
        .patch(`/v1.0/subscriptions/${SUB_ID}`, () => ++patched > 0)
        .reply(200, { ...fixture('microsoft', 'subscription-created'), id: SUB_ID, expirationDateTime: '2026-03-07T23:00:00Z' });
      await settle(h, Date.parse('2026-03-04T19:59:59Z') - h.clock.now());
      expect(patched).toBe(0);
      await settle(h, 1000);
      expect(patched).toBe(1);
      expect((await calendarOf(h)).subscriptions).toEqual([{ kind: 'events', expiresAt: '2026-03-07T23:00:00.000Z' }]);
      expect(misses).toEqual([]);
    });

    it('a renewal granted for less than the 12 h margin is renewed halfway through, not again at once', async () => {
      nock(LOGIN).post('/organizations/oauth2/v2.0/token').reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'access-n' }).persist();
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(true).reply(200, { value: [], '@odata.deltaLink': DELTA_LINK }).persist();
      const patchedAt: string[] = [];
      nock(GRAPH)
        .patch(`/v1.0/subscriptions/${SUB_ID}`, () => patchedAt.push(new Date(h.clock.now()).toISOString()) > 0)
        .reply(200, () => ({ ...fixture('microsoft', 'subscription-created'), id: SUB_ID, expirationDateTime: new Date(h.clock.now() + 2 * 3600_000).toISOString() }))
        .persist();
      await settle(h, Date.parse('2026-03-04T20:00:00Z') - h.clock.now());
      await settle(h, 1000);
      expect(patchedAt).toEqual(['2026-03-04T20:00:00.000Z']);
      // Halfway through the 2 h granted: an hour on, give or take the second the first grant may take to arrive on a busy machine.
      await settle(h, 3600_000 - 3000);
      expect(patchedAt).toHaveLength(1);
      await settle(h, 5000);
      expect(patchedAt).toHaveLength(2);
    });

    it('a renewal that fails for longer than its retries is tried again hourly, so a long outage does not let the subscription lapse', async () => {
      nock(LOGIN).post('/organizations/oauth2/v2.0/token').reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'access-n' }).persist();
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(true).reply(200, { value: [], '@odata.deltaLink': DELTA_LINK }).persist();
      // Graph fails every PATCH from the renewal at 20:00 until 06:00, two hours before the subscription expires.
      const back = Date.parse('2026-03-05T06:00:00Z');
      nock(GRAPH)
        .patch(`/v1.0/subscriptions/${SUB_ID}`)
        .reply(() =>
          h.clock.now() < back
            ? [500, { error: { code: 'InternalServerError', message: 'busy' } }]
            : [200, { ...fixture('microsoft', 'subscription-created'), id: SUB_ID, expirationDateTime: '2026-03-08T06:00:00Z' }],
        )
        .persist();
      // In steps, so that each retry is scheduled (after its request's I/O) before the clock passes it.
      while (h.clock.now() < Date.parse('2026-03-05T07:59:00Z')) await settle(h, 5 * 60_000);
      expect((await calendarOf(h)).subscriptions).toEqual([{ kind: 'events', expiresAt: '2026-03-08T06:00:00.000Z' }]);
    });

    it('a renewal that keeps failing is retried within the time the subscription has left, so it is extended before it lapses', async () => {
      await h.stop();
      h = await startCalendarHub();
      await seedAliceForCalendar(h);
      // Granted two hours: renewed halfway, at 10:30, with an hour left.
      await consentMicrosoft(h, { subscriptionExpires: '2026-03-02T11:30:00Z' });
      nock(LOGIN).post('/organizations/oauth2/v2.0/token').reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'access-n' }).persist();
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(true).reply(200, { value: [], '@odata.deltaLink': DELTA_LINK }).persist();
      const back = Date.parse('2026-03-02T11:20:00Z');
      const attempts: string[] = [];
      nock(GRAPH)
        .patch(`/v1.0/subscriptions/${SUB_ID}`, () => attempts.push(new Date(h.clock.now()).toISOString()) > 0)
        .reply(() =>
          h.clock.now() < back
            ? [500, { error: { code: 'InternalServerError', message: 'busy' } }]
            : [200, { ...fixture('microsoft', 'subscription-created'), id: SUB_ID, expirationDateTime: '2026-03-05T11:20:00Z' }],
        )
        .persist();
      let created = 0;
      nock(GRAPH).post('/v1.0/subscriptions', () => ++created > 0).reply(201, { ...fixture('microsoft', 'subscription-created'), id: 'again', expirationDateTime: '2026-03-05T11:40:00Z' }).persist();
      await settle(h, Date.parse('2026-03-02T10:29:00Z') - h.clock.now());
      while (h.clock.now() < Date.parse('2026-03-02T11:45:00Z')) await settle(h, 60_000);
      expect(attempts[0]).toBe('2026-03-02T10:30:00.000Z');
      // Extended, not lapsed and created anew.
      expect(created).toBe(0);
      expect((await calendarOf(h)).subscriptions).toEqual([{ kind: 'events', expiresAt: '2026-03-05T11:20:00.000Z' }]);
    });

    it('a subscription that lapsed while its renewal kept failing is created again and the calendar read in full; a failed creation is tried again, not left dead', async () => {
      nock(LOGIN).post('/organizations/oauth2/v2.0/token').reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'access-n' }).persist();
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query((q) => q.startDateTime === undefined).reply(200, { value: [], '@odata.deltaLink': DELTA_LINK }).persist();
      const fullReads: string[] = [];
      nock(GRAPH)
        .get('/v1.0/me/calendarView/delta')
        .query((q) => q.startDateTime !== undefined && fullReads.push(new Date(h.clock.now()).toISOString()) > 0)
        .reply(200, { ...fixture('microsoft', 'delta-changes-moved'), '@odata.deltaLink': DELTA_LINK })
        .persist();
      // Graph's subscription service fails from the renewal at 20:00 until 10:00, two hours after the
      // subscription expired at 08:00 (and was deleted: a PATCH then finds nothing).
      const expiry = Date.parse('2026-03-05T08:00:00Z');
      const back = Date.parse('2026-03-05T10:00:00Z');
      const unavailable = [500, { error: { code: 'InternalServerError', message: 'busy' } }] as const;
      nock(GRAPH)
        .patch(`/v1.0/subscriptions/${SUB_ID}`)
        .reply(() => (h.clock.now() < expiry ? [...unavailable] : [404, { error: { code: 'ResourceNotFound', message: 'The object was not found.' } }]))
        .persist();
      let createdAt: number | undefined;
      nock(GRAPH)
        .post('/v1.0/subscriptions')
        .reply(() => {
          if (h.clock.now() < back) return [...unavailable];
          createdAt ??= h.clock.now();
          return [201, { ...fixture('microsoft', 'subscription-created'), id: 'again', expirationDateTime: '2026-03-08T10:00:00Z' }];
        })
        .persist();
      await settle(h, Date.parse('2026-03-04T19:55:00Z') - h.clock.now());
      while (h.clock.now() < Date.parse('2026-03-05T12:00:00Z')) await settle(h, 5 * 60_000);
      expect((await calendarOf(h)).subscriptions).toEqual([{ kind: 'events', expiresAt: '2026-03-08T10:00:00.000Z' }]);
      // Read in full as soon as the new subscription existed: what changed while none delivered is there.
      // Within one 5-minute step of the loop above: a retry that resumes inside `advance` may get its answer
      // (real I/O) only after the clock has moved on, so the creation and the read can land a step apart.
      expect(createdAt).toBeGreaterThanOrEqual(back);
      expect(fullReads.filter((at) => Date.parse(at) >= createdAt! && Date.parse(at) <= createdAt! + 5 * 60_000)).toHaveLength(1);
    });

    it('recreates a subscription that is gone when renewing (404), then resyncs', async () => {
      nock(LOGIN).post('/organizations/oauth2/v2.0/token').reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'access-n' }).persist();
      nock(GRAPH).get('/v1.0/me/calendarView/delta').query(true).reply(200, { value: [], '@odata.deltaLink': DELTA_LINK }).persist();
      nock(GRAPH).patch(`/v1.0/subscriptions/${SUB_ID}`).reply(404, { error: { code: 'ResourceNotFound', message: 'The object was not found.' } });
      nock(GRAPH).post('/v1.0/subscriptions').reply(201, { ...fixture('microsoft', 'subscription-created'), id: 'again', expirationDateTime: '2026-03-07T20:00:00Z' });
      await settle(h, Date.parse('2026-03-04T20:00:00Z') - h.clock.now());
      expect((await calendarOf(h)).subscriptions).toEqual([{ kind: 'events', expiresAt: '2026-03-07T20:00:00.000Z' }]);
    });
  });

  describe('disconnect', () => {
    it('deletes the subscription, the tokens and what the calendar said', async () => {
      await consentMicrosoft(h);
      nock(GRAPH).delete(`/v1.0/subscriptions/${SUB_ID}`).reply(204);
      await h.del('/v1/people/alice/calendar/microsoft').expect(204);
      expect(nock.pendingMocks()).toEqual([]);
      expect((await h.get('/v1/people/alice/calendar')).body.connections).toEqual([]);
      expect((await presenceOf(h)).next).toBeUndefined();
      expect(await h.hub.store.directory.list('calendarSubscriptions', 'acme')).toEqual([]);
      expect((await h.del('/v1/people/alice/calendar/microsoft').expect(404)).body.error.code).toBe('calendar_connection_not_found');
      expect((await webhook(h, notification('secret-1')).expect(202)).body).toEqual({ accepted: 0, ignored: 1 });
      await settle(h, 3600_000);
      expect(misses).toEqual([]);
    });

    it('a member key may see and disconnect only its own calendar', async () => {
      await consentMicrosoft(h);
      await h.put('/v1/people/bob', { name: 'Bob' }).expect(201);
      const alice = (await h.post('/v1/keys', { name: 'alice', role: 'member', personId: 'alice' })).body.secret as string;
      const bob = (await h.post('/v1/keys', { name: 'bob', role: 'member', personId: 'bob' })).body.secret as string;
      expect((await h.get('/v1/people/alice/calendar', alice).expect(200)).body.connections[0].status).toBe('connected');
      expect((await h.get('/v1/people/alice/calendar', bob).expect(403)).body.error.code).toBe('not_your_person');
      expect((await h.del('/v1/people/alice/calendar/microsoft', bob).expect(403)).body.error.code).toBe('not_your_person');
      expect((await h.post('/v1/people/alice/connect-link', {}, alice).expect(403)).body.error.code).toBe('forbidden_role');
      nock(GRAPH).delete(`/v1.0/subscriptions/${SUB_ID}`).reply(204);
      await h.del('/v1/people/alice/calendar/microsoft', alice).expect(204);
    });

    it('deleting the person disconnects their calendar', async () => {
      await consentMicrosoft(h);
      nock(GRAPH).delete(`/v1.0/subscriptions/${SUB_ID}`).reply(204);
      await h.del('/v1/people/alice').expect(204);
      expect(nock.pendingMocks()).toEqual([]);
      expect(await h.hub.store.directory.list('calendarConnections', 'acme')).toEqual([]);
    });
  });

  describe('Teams presence', () => {
    it('subscribes to presence, maps it, re-reads it on notification and renews it within the hour', async () => {
      await h.stop();
      h = await startCalendarHub({ env: { MICROSOFT_TEAMS_PRESENCE: 'true' } });
      await seedAliceForCalendar(h);
      const t = await consentMicrosoft(h, { presence: { availability: 'Busy', activity: 'InACall' } });
      expect(t.authorize.searchParams.get('scope')).toBe('offline_access User.Read Calendars.Read Presence.Read');
      expect(t.subscriptionBodies[1]).toMatchObject({ resource: `communications/presences/${USER_ID}`, changeType: 'updated', clientState: 'secret-2' });
      expect(await presenceOf(h)).toMatchObject({ availability: 'busy', activity: 'on-call', source: 'teams', rule: 'teams' });

      nock(GRAPH).get('/v1.0/me/presence').reply(200, { ...fixture('microsoft', 'presence'), availability: 'Available', activity: 'Available' });
      await webhook(h, notification('secret-2', { resource: `communications/presences('${USER_ID}')` }, PRESENCE_SUB_ID)).expect(202);
      await settle(h, 1000);
      expect(await presenceOf(h)).toMatchObject({ availability: 'available', activity: 'available' });

      // Presence subscriptions live an hour: renewed 15 minutes before (10:15 for 10:30).
      let renewed = false;
      nock(GRAPH)
        .patch(`/v1.0/subscriptions/${PRESENCE_SUB_ID}`, () => (renewed = true))
        .reply(200, { id: PRESENCE_SUB_ID, expirationDateTime: '2026-03-02T11:15:00Z' });
      await settle(h, Date.parse('2026-03-02T10:14:59Z') - h.clock.now());
      expect(renewed).toBe(false);
      await settle(h, 1000);
      expect(renewed).toBe(true);
    });

    // Teams presence is an extra on the calendar connection: a person without Teams, or a grant without
    // Presence.Read, must not lose their calendar to it.
    it('a presence subscription Graph refuses for good leaves the calendar connected, without presence', async () => {
      await h.stop();
      h = await startCalendarHub({ env: { MICROSOFT_TEAMS_PRESENCE: 'true' } });
      await seedAliceForCalendar(h);
      await consentMicrosoft(h, { presence: { refused: 403 } });
      await settle(h, 0);
      expect(await calendarOf(h)).toMatchObject({ status: 'connected', sync: { state: 'ok' }, subscriptions: [{ kind: 'events' }] });
      expect((await calendarOf(h)).subscriptions).toHaveLength(1);
      expect((await presenceOf(h)).next).toEqual({ at: '2026-03-02T14:00:00.000Z', availability: 'busy', activity: 'in-meeting' });
      expect(nock.pendingMocks()).toEqual([]);
    });

    it('a presence read and renewal refused for good drop Teams presence, and the calendar stays connected', async () => {
      await h.stop();
      h = await startCalendarHub({ env: { MICROSOFT_TEAMS_PRESENCE: 'true' } });
      await seedAliceForCalendar(h);
      await consentMicrosoft(h, { presence: { availability: 'Busy', activity: 'InACall' } });
      expect(await presenceOf(h)).toMatchObject({ activity: 'on-call', source: 'teams' });

      // The person's Teams licence is withdrawn: the read is refused, and what Teams said goes.
      nock(GRAPH).get('/v1.0/me/presence').reply(403, { error: { code: 'Forbidden', message: 'Forbidden' } });
      await webhook(h, notification('secret-2', { resource: `communications/presences('${USER_ID}')` }, PRESENCE_SUB_ID)).expect(202);
      await settle(h, 1000);
      expect(await presenceOf(h)).not.toMatchObject({ source: 'teams' });
      expect(await calendarOf(h)).toMatchObject({ status: 'connected' });

      // Its renewal is refused too: the presence subscription is dropped, not retried, and the calendar goes on.
      nock(GRAPH).patch(`/v1.0/subscriptions/${PRESENCE_SUB_ID}`).reply(403, { error: { code: 'Forbidden', message: 'Forbidden' } });
      await settle(h, Date.parse('2026-03-02T10:15:00Z') - h.clock.now());
      expect(await calendarOf(h)).toMatchObject({ status: 'connected', subscriptions: [{ kind: 'events' }] });
      expect((await calendarOf(h)).subscriptions).toHaveLength(1);
      expect(nock.pendingMocks()).toEqual([]);
      await settle(h, 30 * 60_000);
      expect(misses.filter((m) => m.includes('/subscriptions'))).toEqual([]);
    });
  });
});
