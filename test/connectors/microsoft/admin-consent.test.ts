import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GRAPH, LOGIN, onlyLoopback, settle, startCalendarHub, unmatched, type CalendarTestHub } from '../../support/calendar-hub.js';
import { fixture } from '../../support/fixtures.js';
import { OPERATOR_KEY } from '../../support/hub.js';
import { series } from '../../support/metrics.js';

const DIRECTORY = '72f988bf-86f1-41af-91ab-2d7cd011db47';

describe('Microsoft tenant-wide admin consent (application permissions)', () => {
  let h: CalendarTestHub;
  let misses: string[];
  beforeEach(async () => {
    onlyLoopback();
    misses = unmatched();
    h = await startCalendarHub();
    await h.put('/v1/people/alice', { name: 'Alice', email: 'alice@contoso.example', timeZone: 'Europe/Berlin' }).expect(201);
    await h.put('/v1/people/bob', { name: 'Bob', email: 'bob@contoso.example' }).expect(201);
    await h.put('/v1/people/carol', { name: 'Carol' }).expect(201);
    await h.put('/v1/people/dave', { name: 'Dave', email: 'dave@elsewhere.example' }).expect(201);
  });
  afterEach(async () => {
    nock.cleanAll();
    nock.emitter.removeAllListeners('no match');
    await h.stop();
  });

  async function consent(): Promise<{ state: string; batch?: { requests: Array<{ id: string; method: string; url: string }> }; subs: string[] }> {
    const started = await h.post('/v1/calendars/microsoft/admin-consent', {}).expect(201);
    const url = new URL(started.body.url);
    expect(url.origin + url.pathname).toBe(`${LOGIN}/organizations/v2.0/adminconsent`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({ client_id: 'ms-client-id', scope: 'https://graph.microsoft.com/.default', redirect_uri: 'https://presence.example.test/oauth/microsoft/admin-callback' });
    const trace: { state: string; batch?: { requests: Array<{ id: string; method: string; url: string }> }; subs: string[] } = { state: url.searchParams.get('state')!, subs: [] };
    nock(LOGIN)
      .post(`/${DIRECTORY}/oauth2/v2.0/token`, (b: Record<string, string>) => b.grant_type === 'client_credentials' && b.scope === 'https://graph.microsoft.com/.default' && b.client_secret === 'ms-client-secret')
      .reply(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: 'app-token-1' });
    nock(GRAPH)
      .post('/v1.0/$batch', (b: typeof trace.batch) => (trace.batch = b) !== undefined)
      .matchHeader('authorization', 'Bearer app-token-1')
      .reply(200, {
        responses: [
          { id: '0', status: 200, body: { id: 'u-alice', displayName: 'Alice Example', mail: 'alice@contoso.example', userPrincipalName: 'alice@contoso.example' } },
          { id: '1', status: 200, body: { id: 'u-bob', displayName: 'Bob Example', mail: null, userPrincipalName: 'bob@contoso.example' } },
          { id: '2', status: 404, body: { error: { code: 'Request_ResourceNotFound', message: "Resource 'dave@elsewhere.example' does not exist." } } },
        ],
      });
    for (const u of ['u-alice', 'u-bob']) {
      nock(GRAPH)
        .post('/v1.0/subscriptions', (b: { resource: string }) => b.resource === `users/${u}/events` && trace.subs.push(b.resource) > 0)
        .reply(201, { ...fixture('microsoft', 'subscription-created'), id: `sub-${u}`, expirationDateTime: '2026-03-05T08:00:00Z' });
      nock(GRAPH)
        .get(`/v1.0/users/${u}/calendarView/delta`)
        .query((q) => q.startDateTime !== undefined)
        .reply(200, { value: u === 'u-alice' ? (fixture('microsoft', 'delta-page-1') as { value: unknown[] }).value : [], '@odata.deltaLink': `https://graph.microsoft.com/v1.0/users/${u}/calendarView/delta?$deltatoken=d-${u}` });
    }
    const page = await h.http.get(`/oauth/microsoft/admin-callback?admin_consent=True&tenant=${DIRECTORY}&state=${encodeURIComponent(trace.state)}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default`).expect(200);
    expect(page.text).toContain('Connected (2)');
    expect(page.text).toContain('Not found in Microsoft Entra ID (1)');
    expect(page.text).toContain('<li>dave</li>');
    expect(page.text).toContain('Skipped (no e-mail, or already connected) (1)');
    await settle(h);
    return trace;
  }

  it('connects every directory person with an address, looked up in one $batch, with one subscription each', async () => {
    const t = await consent();
    expect(nock.pendingMocks()).toEqual([]);
    expect(misses).toEqual([]);
    expect(t.batch!.requests.map((r) => r.url)).toEqual([
      '/users/alice%40contoso.example?$select=id,displayName,mail,userPrincipalName',
      '/users/bob%40contoso.example?$select=id,displayName,mail,userPrincipalName',
      '/users/dave%40elsewhere.example?$select=id,displayName,mail,userPrincipalName',
    ]);
    expect(t.subs.sort()).toEqual(['users/u-alice/events', 'users/u-bob/events']);
    const all = (await h.get('/v1/calendars').expect(200)).body;
    expect(all.adminConsent).toEqual([{ directoryTenant: DIRECTORY, status: 'connected', grantedAt: '2026-03-02T09:30:00.000Z' }]);
    expect(all.connections.map((c: { personId: string; mode: string; status: string }) => `${c.personId}:${c.mode}:${c.status}`)).toEqual(['alice:application:connected', 'bob:application:connected']);
    expect((await h.get('/v1/presence/alice')).body.next).toEqual({ at: '2026-03-02T14:00:00.000Z', availability: 'busy', activity: 'in-meeting' });
    const page = await h.http.get(new URL((await h.post('/v1/people/alice/connect-link', {})).body.url).pathname).expect(200);
    expect(page.text).toContain('Connected by your administrator');
    expect(page.text).not.toContain('Disconnect');
  });

  it('a notification reaches the right person through the application subscription', async () => {
    await consent();
    nock(GRAPH).get('/v1.0/users/u-alice/calendarView/delta').query({ $deltatoken: 'd-u-alice' }).reply(200, fixture('microsoft', 'delta-changes-moved'));
    const n = fixture<{ value: Array<Record<string, unknown>> }>('microsoft', 'notification', { 'SUBSCRIPTION-ID': 'sub-u-alice', 'CLIENT-STATE': 'secret-1' });
    await h.http.post('/v1/webhooks/microsoft').set('Content-Type', 'application/json').send(JSON.stringify(n)).expect(202);
    await settle(h, 1000);
    expect(nock.pendingMocks()).toEqual([]);
    expect((await h.get('/v1/presence/alice')).body.next.at).toBe('2026-03-02T16:00:00.000Z');
  });

  it('a mailbox that is gone (user deleted in Entra) breaks its connection and forgets its events, instead of retrying on stale ones', async () => {
    await consent();
    nock(GRAPH).get('/v1.0/users/u-alice/calendarView/delta').query({ $deltatoken: 'd-u-alice' }).reply(200, fixture('microsoft', 'delta-changes-moved'));
    const n = fixture<{ value: Array<Record<string, unknown>> }>('microsoft', 'notification', { 'SUBSCRIPTION-ID': 'sub-u-alice', 'CLIENT-STATE': 'secret-1' });
    const notify = () => h.http.post('/v1/webhooks/microsoft').set('Content-Type', 'application/json').send(JSON.stringify(n)).expect(202);
    await notify();
    await settle(h, 1000);
    expect((await h.get('/v1/presence/alice')).body.next.at).toBe('2026-03-02T16:00:00.000Z');
    // (The delta link Graph gave is /me-shaped in the fixture.)
    nock(GRAPH)
      .get('/v1.0/me/calendarView/delta')
      .query(true)
      .reply(404, { error: { code: 'ErrorInvalidUser', message: "The requested user 'u-alice' is invalid." } });
    // The reconciliation an hour later finds the mailbox gone.
    nock(LOGIN).post(`/${DIRECTORY}/oauth2/v2.0/token`).reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'app-2' }).persist();
    nock(GRAPH).get('/v1.0/users/u-bob/calendarView/delta').query(true).reply(200, { value: [], '@odata.deltaLink': `${GRAPH}/v1.0/users/u-bob/calendarView/delta?$deltatoken=d2` }).persist();
    await settle(h, 3600_000);
    expect(nock.pendingMocks()).toEqual([]);
    const alice = (await h.get('/v1/people/alice/calendar').expect(200)).body.connections[0];
    expect(alice).toMatchObject({ status: 'broken', brokenReason: 'not_found', subscriptions: [] });
    expect((await h.get('/v1/presence/alice')).body.next).toBeUndefined();
    // Bob's connection, through the same consent, goes on.
    const all = (await h.get('/v1/calendars').expect(200)).body;
    expect(all.summary).toEqual({ connected: 1, broken: 1 });
    expect(all.adminConsent[0]).toMatchObject({ status: 'connected' });
  });

  it('a revoked admin consent breaks every connection made through it, and the metrics count them (no sync fails after)', async () => {
    await consent();
    const broken = async () => series((await h.http.get('/metrics').expect(200)).text, 'presence_calendar_connections_broken', { tenant: 'acme', provider: 'microsoft' });
    expect(await broken()).toBe(0);
    nock(LOGIN)
      .post(`/${DIRECTORY}/oauth2/v2.0/token`)
      .reply(400, { error: 'unauthorized_client', error_description: "AADSTS700016: Application with identifier 'ms-client-id' was not found in the directory 'Contoso'." });
    await settle(h, 3600_000);
    const all = (await h.get('/v1/calendars').expect(200)).body;
    expect(all.summary).toEqual({ connected: 0, broken: 2 });
    expect(all.adminConsent[0]).toMatchObject({ status: 'broken', brokenReason: 'consent_revoked' });
    expect(all.connections.every((c: { brokenReason: string }) => c.brokenReason === 'consent_revoked')).toBe(true);
    expect((await h.get('/v1/presence/alice')).body.next).toBeUndefined();
    expect(await broken()).toBe(2);
  });

  it('forgetting the admin consent deletes the subscriptions and connections made through it', async () => {
    await consent();
    nock(GRAPH).delete('/v1.0/subscriptions/sub-u-alice').reply(204);
    nock(GRAPH).delete('/v1.0/subscriptions/sub-u-bob').reply(204);
    await h.del('/v1/calendars/microsoft/admin-consent').expect(204);
    expect(nock.pendingMocks()).toEqual([]);
    expect((await h.get('/v1/calendars')).body).toMatchObject({ connections: [], adminConsent: [] });
    expect((await h.del('/v1/calendars/microsoft/admin-consent').expect(404)).body.error.code).toBe('admin_consent_not_found');
  });

  it("another tenant cannot claim a directory that consented for this one by naming it in its own callback", async () => {
    await consent();
    const beta = (await h.post('/v1/tenants', { id: 'beta', name: 'Beta' }, OPERATOR_KEY).expect(201)).body.adminKey.secret as string;
    await h.put('/v1/people/spy', { name: 'Spy', email: 'alice@contoso.example' }, beta).expect(201);
    const started = await h.post('/v1/calendars/microsoft/admin-consent', {}, beta).expect(201);
    const state = new URL(started.body.url).searchParams.get('state')!;
    // No consent screen was shown to anyone: the callback is forged with the victim's directory id.
    const page = await h.http.get(`/oauth/microsoft/admin-callback?admin_consent=True&tenant=${DIRECTORY}&state=${encodeURIComponent(state)}`).expect(409);
    expect(page.text).toContain('directory_tenant_taken');
    expect((await h.get('/v1/calendars', beta).expect(200)).body).toMatchObject({ connections: [], adminConsent: [] });
    expect(misses).toEqual([]);
  });

  it('refuses a forged state or a denied consent, and connects nobody', async () => {
    await h.post('/v1/calendars/microsoft/admin-consent', {}).expect(201);
    const forged = (await h.http.get(`/oauth/microsoft/admin-callback?admin_consent=True&tenant=${DIRECTORY}&state=forged`).expect(400)).text;
    expect(forged).toContain('oauth_state_mismatch');
    // An administrator has no connect link to start again from.
    expect(forged).toContain('start again with POST /v1/calendars/microsoft/admin-consent');
    const started = await h.post('/v1/calendars/microsoft/admin-consent', {}).expect(201);
    const state = new URL(started.body.url).searchParams.get('state')!;
    const description = encodeURIComponent('AADSTS65004: User declined to consent to access the app. <b>Call +1 555 0100</b>');
    const denied = await h.http.get(`/oauth/microsoft/admin-callback?error=access_denied&error_description=${description}&state=${encodeURIComponent(state)}`).expect(400);
    expect(denied.text).toContain('admin_consent_denied');
    expect(denied.text).toContain('Microsoft said access_denied, AADSTS65004');
    expect(denied.text).not.toContain('555 0100');
    expect((await h.get('/v1/calendars')).body).toMatchObject({ connections: [], adminConsent: [] });
    expect((await h.post('/v1/calendars/microsoft/connect-directory', {}).expect(409)).body.error.code).toBe('admin_consent_missing');
    expect(misses).toEqual([]);
  });
});
