import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GRAPH, LOGIN, cookiesFrom, onlyLoopback, s256, settle, startCalendarHub, unmatched, type CalendarTestHub } from '../../support/calendar-hub.js';
import { fixture } from '../../support/fixtures.js';
import { holdWrite, puts } from '../../support/hold-write.js';
import { OPERATOR_KEY } from '../../support/hub.js';
import { series } from '../../support/metrics.js';

const DIRECTORY = '72f988bf-86f1-41af-91ab-2d7cd011db47';
/** Another organisation's directory, where the attacking tenant's administrator really is an administrator. */
const OWN_DIRECTORY = '0b5f8a57-3c1e-4d8a-9f2e-6a4c2d1e7b90';
const SIGN_IN = 'https://presence.example.test/oauth/microsoft/admin-sign-in';
const CALLBACK = 'https://presence.example.test/oauth/microsoft/admin-callback';
const COMMERCIAL = { login: LOGIN, graph: GRAPH };
/** Directory role templates as an ID token's `wids` names them. */
const GLOBAL_ADMINISTRATOR = '62e90394-69f5-4237-9190-012177145e10';
const PRIVILEGED_ROLE_ADMINISTRATOR = 'e8611ab8-c189-46e8-94e1-60213ab1f814';
const CLOUD_APPLICATION_ADMINISTRATOR = '158c047a-c234-4744-a7f1-e2c6ed8b7ab3';
const USER = 'b79fbf4d-3ef9-4689-8143-76b194e85509';
const US_GOVERNMENT = { login: 'https://login.microsoftonline.us', graph: 'https://graph.microsoft.us' };
type Cloud = typeof COMMERCIAL;

/** An ID token as Microsoft's v2.0 token endpoint returns it for a work account; unsigned, since only its claims are read. */
function idToken(claims: Record<string, unknown>): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ typ: 'JWT', alg: 'RS256', kid: 'test' })}.${part(claims)}.c2lnbmF0dXJl`;
}

/** Step 1 as the administrator's browser sees it: the sign-in URL it was sent to and the cookie it holds. */
interface SignIn {
  state: string;
  nonce: string;
  challenge: string;
  cookie: string;
}

/** Step 2: the admin-consent URL and the cookie. */
interface Consent {
  url: URL;
  state: string;
  cookie: string;
}

describe('Microsoft tenant-wide admin consent (application permissions)', () => {
  let h: CalendarTestHub;
  let misses: string[];

  /** The API gives a start link; the administrator opens it, sees the page, and presses the button. */
  async function signInStarted(key?: string, cloud: Cloud = COMMERCIAL, hub: CalendarTestHub = h): Promise<SignIn> {
    const started = (await hub.post('/v1/calendars/microsoft/admin-consent', {}, key).expect(201)).body as { url: string; redirectUris: string[]; expiresAt: string };
    expect(started.redirectUris).toEqual([SIGN_IN, CALLBACK]);
    expect(started.expiresAt).toBe('2026-03-02T09:45:00.000Z');
    const path = new URL(started.url).pathname;
    expect(started.url).toBe(`https://presence.example.test${path}`);
    const shown = await hub.http.get(path).expect(200);
    expect(shown.text).toContain(`<form method="post" action="${path}">`);
    const start = await hub.http.post(path).expect(303);
    const url = new URL(start.headers.location as string);
    expect(url.origin + url.pathname).toBe(`${cloud.login}/organizations/oauth2/v2.0/authorize`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: 'ms-client-id',
      response_type: 'code',
      response_mode: 'query',
      scope: 'openid',
      redirect_uri: SIGN_IN,
      code_challenge_method: 'S256',
    });
    expect(start.headers['set-cookie']?.[0]).toMatch(/^ph_oauth_[0-9a-f]{16}=.*; Path=\/oauth; .*HttpOnly; Secure; SameSite=Lax/);
    return { state: url.searchParams.get('state')!, nonce: url.searchParams.get('nonce')!, challenge: url.searchParams.get('code_challenge')!, cookie: cookiesFrom(start.headers['set-cookie']) };
  }

  /** Microsoft's token endpoint answering the administrator's code (with the flow's PKCE verifier) with an ID token of `claims`. */
  function tokenEndpoint(s: SignIn, code: string, claims: Record<string, unknown> = {}, cloud: Cloud = COMMERCIAL): void {
    const tid = (claims.tid as string | undefined) ?? DIRECTORY;
    nock(cloud.login)
      .post(
        '/organizations/oauth2/v2.0/token',
        (b: Record<string, string>) => b.grant_type === 'authorization_code' && b.code === code && s256(b.code_verifier ?? '') === s.challenge && b.redirect_uri === SIGN_IN && b.scope === 'openid' && b.client_secret === 'ms-client-secret',
      )
      .reply(200, {
        token_type: 'Bearer',
        scope: 'openid profile email https://graph.microsoft.com/User.Read',
        expires_in: 4460,
        ext_expires_in: 4460,
        access_token: 'eyJ0eXAiOiJKV1QiLCJub25jZSI6ImRlbGVnYXRlZCJ9.delegated-admin',
        id_token: idToken({ aud: 'ms-client-id', iss: `${cloud.login}/${tid}/v2.0`, iat: 1772443800, nbf: 1772443800, exp: 1772447700, name: 'Ada Admin', nonce: s.nonce, oid: '5f1c0a3e-7d2b-4c19-8e6a-0d4b9c2f1a77', preferred_username: 'ada@contoso.example', sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ', tid, wids: [GLOBAL_ADMINISTRATOR, USER], uti: 'fqiBqXLPj0eQa82S-IYFAA', ver: '2.0', ...claims }),
      });
  }

  const signInAnswer = (state: string, query: string) => `/oauth/microsoft/admin-sign-in?${query}&state=${encodeURIComponent(state)}&session_state=5b3c1a9e-2f4d-4e6b-8a7c-9d0e1f2a3b4c`;
  const consentAnswer = (state: string, query: string) => `/oauth/microsoft/admin-callback?${query}&state=${encodeURIComponent(state)}`;
  const granted = (tenant: string) => `admin_consent=True&tenant=${tenant}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default`;

  /** Step 1 answered with `code`: the browser is sent to the admin-consent page of the proven directory. */
  async function signedIn(s: SignIn, code: string, claims: Record<string, unknown> = {}, cloud: Cloud = COMMERCIAL, hub: CalendarTestHub = h): Promise<Consent> {
    tokenEndpoint(s, code, claims, cloud);
    const res = await hub.http.get(signInAnswer(s.state, `code=${code}`)).set('Cookie', s.cookie);
    expect(res.status, res.text).toBe(303);
    const url = new URL(res.headers.location as string);
    const tid = (claims.tid as string | undefined) ?? DIRECTORY;
    expect(url.origin + url.pathname).toBe(`${cloud.login}/${tid}/v2.0/adminconsent`);
    expect(Object.fromEntries(url.searchParams)).toEqual({ client_id: 'ms-client-id', scope: `${cloud.graph}/.default`, redirect_uri: CALLBACK, state: expect.any(String) });
    const state = url.searchParams.get('state')!;
    expect(state).not.toBe(s.state);
    return { url, state, cookie: cookiesFrom(res.headers['set-cookie']) };
  }

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

  async function consent(): Promise<{ state: string; cookie: string; batch?: { requests: Array<{ id: string; method: string; url: string }> }; subs: string[] }> {
    const c = await signedIn(await signInStarted(), 'code-admin-1');
    const trace: { state: string; cookie: string; batch?: { requests: Array<{ id: string; method: string; url: string }> }; subs: string[] } = { state: c.state, cookie: c.cookie, subs: [] };
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
    const page = await h.http.get(consentAnswer(trace.state, granted(DIRECTORY))).set('Cookie', trace.cookie).expect(200);
    expect(page.text).toContain(`data-directory-tenant="${DIRECTORY}"`);
    expect(page.text).toContain('Connected (2)');
    expect(page.text).toContain('Not found in Microsoft Entra ID (1)');
    expect(page.text).toContain('<li>dave</li>');
    expect(page.text).toContain('Skipped (no e-mail, or already connected) (1)');
    await settle(h);
    return trace;
  }

  /**
   * Acme consented, then forgot the grant in this service (the app stays consented in Acme's directory);
   * then tenant Beta, with a person claiming Alice's address, arrives. Answers Beta's admin key.
   */
  async function acmeLetGoThenBetaArrives(): Promise<string> {
    await consent();
    nock(GRAPH).delete('/v1.0/subscriptions/sub-u-alice').reply(204);
    nock(GRAPH).delete('/v1.0/subscriptions/sub-u-bob').reply(204);
    await h.del('/v1/calendars/microsoft/admin-consent').expect(204);
    const beta = (await h.post('/v1/tenants', { id: 'beta', name: 'Beta' }, OPERATOR_KEY).expect(201)).body.adminKey.secret as string;
    await h.put('/v1/people/spy', { name: 'Spy', email: 'alice@contoso.example' }, beta).expect(201);
    return beta;
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

  it('when looking people up fails after the grant is stored, the page says the organisation is connected and how to connect its people, not that consent failed', async () => {
    const c = await signedIn(await signInStarted(), 'code-admin-1');
    nock(LOGIN).post(`/${DIRECTORY}/oauth2/v2.0/token`).reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'app-token-1' });
    nock(GRAPH).post('/v1.0/$batch').reply(200, { error: 'not a batch answer' });
    const page = await h.http.get(consentAnswer(c.state, granted(DIRECTORY))).set('Cookie', c.cookie).expect(502);
    expect(page.text).toContain('data-error-code="directory_connect_failed"');
    expect(page.text).toContain('POST /v1/calendars/microsoft/connect-directory');
    expect(page.text).not.toContain('did not issue an application token');
    const all = (await h.get('/v1/calendars').expect(200)).body;
    expect(all.adminConsent).toEqual([{ directoryTenant: DIRECTORY, status: 'connected', grantedAt: '2026-03-02T09:30:00.000Z' }]);
    expect(all.connections).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
    expect(misses).toEqual([]);
  });

  it('a consent answered as the operator deletes the tenant stores no grant for a tenant created again under its id: 404 tenant_not_found', async () => {
    const c = await signedIn(await signInStarted(), 'code-admin-1');
    nock(LOGIN).post(`/${DIRECTORY}/oauth2/v2.0/token`).reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'app-token-1' });
    const held = holdWrite(h, puts('calendarAppGrants'));
    const answer = Promise.resolve(h.http.get(consentAnswer(c.state, granted(DIRECTORY))).set('Cookie', c.cookie));
    await held.reached;
    await h.del('/v1/tenants/acme', OPERATOR_KEY).expect(204);
    held.release();
    const page = await answer;
    expect(page.status).toBe(404);
    expect(page.text).toContain('data-error-code="tenant_not_found"');
    expect(await h.hub.store.directory.list('calendarAppGrants', 'acme')).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it('a person deleted as the directory is connected is skipped: no connection is stored for them', async () => {
    const c = await signedIn(await signInStarted(), 'code-admin-1');
    nock(LOGIN).post(`/${DIRECTORY}/oauth2/v2.0/token`).reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'app-token-1' });
    nock(GRAPH)
      .post('/v1.0/$batch')
      .reply(200, {
        responses: [
          { id: '0', status: 200, body: { id: 'u-alice', mail: 'alice@contoso.example' } },
          { id: '1', status: 200, body: { id: 'u-bob', mail: 'bob@contoso.example' } },
          { id: '2', status: 404, body: { error: { code: 'Request_ResourceNotFound', message: 'gone' } } },
        ],
      });
    nock(GRAPH).post('/v1.0/subscriptions').reply(201, { ...fixture('microsoft', 'subscription-created'), id: 'sub-u-alice', expirationDateTime: '2026-03-05T08:00:00Z' });
    nock(GRAPH).get('/v1.0/users/u-alice/calendarView/delta').query(true).reply(200, { value: [], '@odata.deltaLink': 'https://graph.microsoft.com/v1.0/users/u-alice/calendarView/delta?$deltatoken=d' });
    const held = holdWrite(h, (op) => op.op === 'put' && op.collection === 'calendarConnections' && op.doc.personId === 'bob');
    const answer = Promise.resolve(h.http.get(consentAnswer(c.state, granted(DIRECTORY))).set('Cookie', c.cookie));
    await held.reached;
    await h.del('/v1/people/bob').expect(204);
    held.release();
    const page = await answer;
    expect(page.status, page.text).toBe(200);
    expect(page.text).toContain('Connected (1)');
    await settle(h);
    expect((await h.get('/v1/calendars').expect(200)).body.connections.map((x: { personId: string }) => x.personId)).toEqual(['alice']);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it('consenting again shows the new grant time and clears a broken grant', async () => {
    await consent();
    await h.hub.store.directory.write([
      { op: 'put', collection: 'calendarAppGrants', doc: { ...(await h.hub.store.directory.get('calendarAppGrants', 'acme', DIRECTORY))!, status: 'broken', brokenReason: 'consent_revoked', grantedAt: Date.parse('2026-02-01T08:00:00Z') } },
    ]);
    const c = await signedIn(await signInStarted(), 'code-admin-2');
    nock(LOGIN).post(`/${DIRECTORY}/oauth2/v2.0/token`).reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'app-token-2' });
    nock(GRAPH).post('/v1.0/$batch').reply(200, { error: 'not a batch answer' });
    await h.http.get(consentAnswer(c.state, granted(DIRECTORY))).set('Cookie', c.cookie).expect(502);
    expect((await h.get('/v1/calendars').expect(200)).body.adminConsent).toEqual([{ directoryTenant: DIRECTORY, status: 'connected', grantedAt: '2026-03-02T09:30:00.000Z' }]);
  });

  it('another tenant cannot claim a directory that consented for this one, even when its administrator administers that directory too', async () => {
    await consent();
    const beta = (await h.post('/v1/tenants', { id: 'beta', name: 'Beta' }, OPERATOR_KEY).expect(201)).body.adminKey.secret as string;
    await h.put('/v1/people/spy', { name: 'Spy', email: 'alice@contoso.example' }, beta).expect(201);
    const c = await signedIn(await signInStarted(beta), 'code-beta');
    const page = await h.http.get(consentAnswer(c.state, granted(DIRECTORY))).set('Cookie', c.cookie).expect(409);
    expect(page.text).toContain('data-error-code="directory_tenant_taken"');
    expect((await h.get('/v1/calendars', beta).expect(200)).body).toMatchObject({ connections: [], adminConsent: [] });
    expect(nock.pendingMocks()).toEqual([]);
    expect(misses).toEqual([]);
  });

  it('a forged answer naming a directory the administrator did not sign in to is refused, even after its owner let go of it', async () => {
    const beta = await acmeLetGoThenBetaArrives();
    // Beta's administrator signs in to their own directory, skips the consent page and forges its answer naming Acme's.
    const c = await signedIn(await signInStarted(beta), 'code-beta', { tid: OWN_DIRECTORY });
    const page = await h.http.get(consentAnswer(c.state, granted(DIRECTORY))).set('Cookie', c.cookie).expect(400);
    expect(page.text).toContain('data-error-code="admin_directory_mismatch"');
    expect(page.text).toContain(`signed in to (${OWN_DIRECTORY})`);
    expect(page.text).not.toContain(DIRECTORY);
    // Nothing stored, no application token asked for Acme's directory, nothing read; the state is spent.
    expect((await h.get('/v1/calendars', beta).expect(200)).body).toMatchObject({ connections: [], adminConsent: [] });
    expect((await h.post('/v1/calendars/microsoft/connect-directory', {}, beta).expect(409)).body.error.code).toBe('admin_consent_missing');
    expect((await h.http.get(consentAnswer(c.state, granted(OWN_DIRECTORY))).set('Cookie', c.cookie).expect(400)).text).toContain('oauth_state_mismatch');
    expect(nock.pendingMocks()).toEqual([]);
    expect(misses).toEqual([]);
  });

  it('an answer naming no directory is refused the same way', async () => {
    const c = await signedIn(await signInStarted(), 'code-admin-1');
    expect((await h.http.get(consentAnswer(c.state, 'admin_consent=True')).set('Cookie', c.cookie).expect(400)).text).toContain('admin_directory_mismatch');
    expect((await h.get('/v1/calendars')).body).toMatchObject({ connections: [], adminConsent: [] });
    expect(misses).toEqual([]);
  });

  it('an ordinary member of a directory that consented earlier cannot attach it by writing the consent answer themselves', async () => {
    const beta = await acmeLetGoThenBetaArrives();
    // Beta's administrator has a plain account in Acme's directory: the sign-in proves that directory,
    // and the consent answer (admin_consent=True&tenant=<it>) needs no visit to Microsoft to be written.
    const s = await signInStarted(beta);
    tokenEndpoint(s, 'code-member', { wids: [USER] });
    const res = await h.http.get(signInAnswer(s.state, 'code=code-member')).set('Cookie', s.cookie).expect(403);
    expect(res.text).toContain('data-error-code="admin_role_unproven"');
    expect(res.headers.location).toBeUndefined();
    expect(res.headers['set-cookie']).toBeUndefined();
    expect((await h.get('/v1/calendars', beta).expect(200)).body).toMatchObject({ connections: [], adminConsent: [] });
    expect(nock.pendingMocks()).toEqual([]);
    expect(misses).toEqual([]);
  });

  it.each([
    ['no directory roles at all (the app registration puts none in ID tokens)', { wids: undefined }],
    ['only roles that cannot consent to Microsoft Graph application permissions', { wids: [CLOUD_APPLICATION_ADMINISTRATOR, USER] }],
    ['roles in a form Microsoft never sends', { wids: GLOBAL_ADMINISTRATOR }],
  ])('a step-1 ID token with %s is refused before the consent page', async (_what, claims) => {
    const s = await signInStarted();
    tokenEndpoint(s, 'code-role', claims);
    const res = await h.http.get(signInAnswer(s.state, 'code=code-role')).set('Cookie', s.cookie).expect(403);
    expect(res.text).toContain('data-error-code="admin_role_unproven"');
    expect(res.headers.location).toBeUndefined();
    expect(misses).toEqual([]);
  });

  it('a Privileged Role Administrator may consent, as may a Global Administrator', async () => {
    const s = await signInStarted();
    await signedIn(s, 'code-pra', { wids: [PRIVILEGED_ROLE_ADMINISTRATOR] });
  });

  it.each([
    ['no tid', { tid: undefined, iss: `${LOGIN}/${DIRECTORY}/v2.0` }],
    ['an issuer of another directory', { iss: `${LOGIN}/${OWN_DIRECTORY}/v2.0` }],
    ['an issuer of another cloud', { iss: `https://login.microsoftonline.us/${DIRECTORY}/v2.0` }],
    ['another application', { aud: 'other-client-id' }],
    ["another sign-in's nonce", { nonce: 'bm9uY2UtZnJvbS1hbm90aGVyLWZsb3c' }],
    ['an expiry long past', { iat: 1772436600, nbf: 1772436600, exp: 1772440200 }],
  ])('a step-1 ID token with %s proves no directory: refused, no consent page, nothing stored', async (_what, claims) => {
    const s = await signInStarted();
    tokenEndpoint(s, 'code-odd', claims);
    const res = await h.http.get(signInAnswer(s.state, 'code=code-odd')).set('Cookie', s.cookie).expect(400);
    expect(res.text).toContain('data-error-code="admin_directory_unproven"');
    expect(res.headers.location).toBeUndefined();
    expect((await h.get('/v1/calendars')).body).toMatchObject({ connections: [], adminConsent: [] });
    expect(nock.pendingMocks()).toEqual([]);
    expect(misses).toEqual([]);
  });

  it("in a national cloud, the sign-in, the issuer checked, the consent page and the application token are that cloud's", async () => {
    const gov = await startCalendarHub({ env: { MICROSOFT_LOGIN_BASE_URL: US_GOVERNMENT.login, MICROSOFT_GRAPH_BASE_URL: US_GOVERNMENT.graph } });
    try {
      const c = await signedIn(await signInStarted(undefined, US_GOVERNMENT, gov), 'code-gov', {}, US_GOVERNMENT, gov);
      nock(US_GOVERNMENT.login)
        .post(`/${DIRECTORY}/oauth2/v2.0/token`, (b: Record<string, string>) => b.grant_type === 'client_credentials' && b.scope === `${US_GOVERNMENT.graph}/.default`)
        .reply(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: 'gov-app-token' });
      const page = await gov.http.get(consentAnswer(c.state, `admin_consent=True&tenant=${DIRECTORY}`)).set('Cookie', c.cookie).expect(200);
      expect(page.text).toContain(`data-directory-tenant="${DIRECTORY}"`);
      expect((await gov.get('/v1/calendars').expect(200)).body.adminConsent).toEqual([{ directoryTenant: DIRECTORY, status: 'connected', grantedAt: '2026-03-02T09:30:00.000Z' }]);
      expect(nock.pendingMocks()).toEqual([]);
      expect(misses).toEqual([]);
    } finally {
      await gov.stop();
    }
  });

  it.each([
    ['common', 'organizations'],
    [DIRECTORY, DIRECTORY],
  ])('with MICROSOFT_AUTHORITY_TENANT=%s the administrator signs in at /%s (work accounts; a single-directory app at its own)', async (authority, signInAt) => {
    const one = await startCalendarHub({ env: { MICROSOFT_AUTHORITY_TENANT: authority } });
    try {
      const path = new URL(((await one.post('/v1/calendars/microsoft/admin-consent', {}).expect(201)).body as { url: string }).url).pathname;
      const start = await one.http.post(path).expect(303);
      expect(new URL(start.headers.location as string).pathname).toBe(`/${signInAt}/oauth2/v2.0/authorize`);
    } finally {
      await one.stop();
    }
  });

  it('the start link is used once, shows which tenant it connects, and expires after 15 minutes', async () => {
    // A tenant's administrators name it themselves, so the name alone could pass for the organisation's own.
    await h.put('/v1/tenant', { name: 'Contoso <Microsoft 365>' }).expect(200);
    const started = (await h.post('/v1/calendars/microsoft/admin-consent', {}).expect(201)).body as { url: string };
    const path = new URL(started.url).pathname;
    const shown = (await h.http.get(path).expect(200)).text;
    expect(shown).toContain('<strong data-tenant="acme">Contoso &lt;Microsoft 365&gt;</strong> (tenant id <code>acme</code>)');
    expect(shown).toContain('Continue only if you asked for this link.');
    await h.http.post(path).expect(303);
    expect((await h.http.get(path).expect(400)).text).toContain('data-error-code="oauth_state_mismatch"');
    expect((await h.http.post(path).expect(400)).text).toContain('data-error-code="oauth_state_mismatch"');
    expect((await h.http.post('/oauth/microsoft/admin-consent/forged').expect(400)).text).toContain('start again with POST /v1/calendars/microsoft/admin-consent');
    const late = new URL(((await h.post('/v1/calendars/microsoft/admin-consent', {}).expect(201)).body as { url: string }).url).pathname;
    await h.clock.advance(15 * 60_000);
    expect((await h.http.post(late).expect(400)).text).toContain('data-error-code="oauth_flow_expired"');
    expect(misses).toEqual([]);
  });

  it('the start button posted from another site is refused and the link stays unspent: the administrator must see the page naming the tenant', async () => {
    const path = new URL(((await h.post('/v1/calendars/microsoft/admin-consent', {}).expect(201)).body as { url: string }).url).pathname;
    for (const site of ['cross-site', 'same-site', 'none']) {
      const res = await h.http.post(path).set('Sec-Fetch-Site', site).expect(403);
      expect(res.text).toContain('data-error-code="cross_site_form"');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    expect((await h.http.get(path).expect(200)).text).toContain('data-tenant="acme"');
    const start = await h.http.post(path).set('Sec-Fetch-Site', 'same-origin').expect(303);
    expect(new URL(start.headers.location as string).pathname).toBe('/organizations/oauth2/v2.0/authorize');
    expect(misses).toEqual([]);
  });

  it('step 1 refuses a forged, replayed, foreign or other-browser state, and connects nobody', async () => {
    const s = await signInStarted();
    const refused = async (state: string, cookie: string) => expect((await h.http.get(signInAnswer(state, 'code=code-x')).set('Cookie', cookie).expect(400)).text).toContain('data-error-code="oauth_state_mismatch"');
    await refused('forged', s.cookie);
    // Another browser (no cookie, or the cookie of another flow) cannot finish it, nor spend it.
    await refused(s.state, '');
    const other = await signInStarted();
    await refused(s.state, other.cookie);
    // A person's consent state, and a step-2 state, are not step-1 states.
    const link = new URL((await h.post('/v1/people/alice/connect-link', {}).expect(201)).body.url).pathname;
    const toMicrosoft = await h.http.post(`${link}/microsoft`).expect(303);
    await refused(new URL(toMicrosoft.headers.location!).searchParams.get('state')!, cookiesFrom(toMicrosoft.headers['set-cookie']));
    const c = await signedIn(s, 'code-admin-1');
    await refused(c.state, c.cookie);
    // Replayed: step 1's answer is spent.
    await refused(s.state, s.cookie);
    expect((await h.get('/v1/calendars')).body).toMatchObject({ connections: [], adminConsent: [] });
    expect(nock.pendingMocks()).toEqual([]);
    expect(misses).toEqual([]);
  });

  it('step 2 refuses a forged, replayed, foreign or other-browser state', async () => {
    const refused = async (state: string, cookie: string) => expect((await h.http.get(consentAnswer(state, granted(DIRECTORY))).set('Cookie', cookie).expect(400)).text).toContain('data-error-code="oauth_state_mismatch"');
    const s = await signInStarted();
    await refused(s.state, s.cookie);
    const c = await signedIn(s, 'code-admin-1');
    await refused('forged', c.cookie);
    await refused(c.state, '');
    await refused(c.state, s.cookie);
    expect((await h.get('/v1/calendars')).body).toMatchObject({ connections: [], adminConsent: [] });
    // Still the administrator's to finish; once finished, the answer cannot be replayed.
    const t = await consent();
    await refused(t.state, t.cookie);
    expect(misses).toEqual([]);
  });

  it("shows Microsoft's refusal at either step: a failed sign-in, a code the token endpoint will not take, a declined consent", async () => {
    const description = (text: string) => encodeURIComponent(`${text} <b>Call +1 555 0100</b>`);
    const first = await signInStarted();
    const failed = await h.http.get(signInAnswer(first.state, `error=access_denied&error_description=${description('AADSTS50105: Your administrator has configured the application to block users unless they are specifically granted access.')}`)).set('Cookie', first.cookie).expect(400);
    expect(failed.text).toContain('data-error-code="admin_sign_in_failed"');
    expect(failed.text).toContain('Microsoft said access_denied, AADSTS50105');
    expect(failed.text).not.toContain('555 0100');
    const second = await signInStarted();
    nock(LOGIN)
      .post('/organizations/oauth2/v2.0/token')
      .reply(400, { error: 'invalid_grant', error_description: 'AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.', error_codes: [54005] });
    const redeemed = await h.http.get(signInAnswer(second.state, 'code=code-used')).set('Cookie', second.cookie).expect(400);
    expect(redeemed.text).toContain('data-error-code="consent_failed"');
    expect(redeemed.text).toContain('invalid_grant');
    const third = await signInStarted();
    expect((await h.http.get(signInAnswer(third.state, 'client_info=x')).set('Cookie', third.cookie).expect(400)).text).toContain('data-error-code="missing_code"');
    const c = await signedIn(await signInStarted(), 'code-admin-1');
    const denied = await h.http.get(consentAnswer(c.state, `error=access_denied&error_description=${description('AADSTS65004: User declined to consent to access the app.')}`)).set('Cookie', c.cookie).expect(400);
    expect(denied.text).toContain('data-error-code="admin_consent_denied"');
    expect(denied.text).toContain('Microsoft said access_denied, AADSTS65004');
    expect(denied.text).not.toContain('555 0100');
    expect((await h.get('/v1/calendars')).body).toMatchObject({ connections: [], adminConsent: [] });
    expect((await h.post('/v1/calendars/microsoft/connect-directory', {}).expect(409)).body.error.code).toBe('admin_consent_missing');
    expect(nock.pendingMocks()).toEqual([]);
    expect(misses).toEqual([]);
  });
});
