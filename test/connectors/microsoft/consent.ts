import nock from 'nock';
import { expect } from 'vitest';
import { GRAPH, LOGIN, cookiesFrom, s256, type CalendarTestHub } from '../../support/calendar-hub.js';
import { fixture } from '../../support/fixtures.js';

export const SUB_ID = '7f105c7d-2dc5-4530-97cd-4e7ae6534c07';
export const PRESENCE_SUB_ID = '0c5e1f8a-7d2b-4c9e-9a31-5b6d7e8f9a10';
export const USER_ID = '9f1c2a4e-1b61-4d4a-9d36-6a0f1b3c2d10';
export const DELTA_LINK = 'https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken=R0usmci39OQxqJrxK4';

export interface ConsentTrace {
  state: string;
  challenge: string;
  verifier?: string;
  subscriptionBody?: Record<string, unknown>;
  subscriptionBodies: Array<Record<string, unknown>>;
  authorize: URL;
}

/** Seeds alice (Berlin) with a desk phone, registered, so that calendar states show. */
export async function seedAliceForCalendar(h: CalendarTestHub): Promise<void> {
  await h.put('/v1/people/alice', { name: 'Alice Example', email: 'alice@contoso.example', timeZone: 'Europe/Berlin', extension: '1001' }).expect(201);
  await h.put('/v1/people/alice/devices/alice-desk', { kind: 'desk', contact: 'sip:alice@192.0.2.10' }).expect(201);
  const k = await h.post('/v1/keys', { name: 'pbx', role: 'pbx' }).expect(201);
  await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() - 1000 }], { signingKeyId: k.body.signingKeyId, secret: k.body.secret }).expect(200);
}

/**
 * (nock 15 on Node 20: a reply callback that takes the request body never answers a fetch, so bodies
 * are captured in the body matcher and replies are static.)
 *
 * Drives a Microsoft consent by hand: connect link → page → start (PKCE + state + cookie) → callback,
 * with nock answering the token endpoint, /me, the subscription and the first full delta.
 */
export async function consentMicrosoft(
  h: CalendarTestHub,
  opts: {
    pages?: unknown[];
    subscriptionExpires?: string;
    expiresIn?: number;
    /** Teams presence to subscribe to and read; `refused`: Graph's status for the presence subscription instead. */
    presence?: { availability: string; activity: string } | { refused: number };
  } = {},
): Promise<ConsentTrace> {
  const link = await h.post('/v1/people/alice/connect-link', {}).expect(201);
  const path = new URL(link.body.url as string).pathname;
  await h.http.get(path).expect(200);
  const start = await h.http.post(`${path}/microsoft`).expect(303);
  const authorize = new URL(start.headers.location as string);
  const trace: ConsentTrace = { state: authorize.searchParams.get('state')!, challenge: authorize.searchParams.get('code_challenge')!, authorize, subscriptionBodies: [] };
  const cookie = cookiesFrom(start.headers['set-cookie']);

  const token = { ...fixture<{ access_token: string }>('microsoft', 'token'), ...(opts.expiresIn ? { expires_in: opts.expiresIn } : {}) };
  nock(LOGIN)
    .post('/organizations/oauth2/v2.0/token', (body: Record<string, string>) => {
      trace.verifier = body.code_verifier;
      return body.grant_type === 'authorization_code' && body.code === 'auth-code-1' && body.redirect_uri === 'https://presence.example.test/oauth/microsoft/callback';
    })
    .reply(200, token);
  nock(GRAPH).get('/v1.0/me').query(true).matchHeader('authorization', `Bearer ${token.access_token}`).reply(200, fixture('microsoft', 'me'));
  nock(GRAPH)
    .post('/v1.0/subscriptions', (body: Record<string, unknown>) => {
      trace.subscriptionBody ??= body;
      trace.subscriptionBodies.push(body);
      return body.resource === 'me/events';
    })
    .reply(201, { ...fixture('microsoft', 'subscription-created'), id: SUB_ID, expirationDateTime: opts.subscriptionExpires ?? '2026-03-05T08:00:00Z' });
  if (opts.presence) {
    const presenceSub = nock(GRAPH).post('/v1.0/subscriptions', (body: Record<string, unknown>) => {
      trace.subscriptionBodies.push(body);
      return body.resource === `communications/presences/${USER_ID}`;
    });
    if ('refused' in opts.presence) presenceSub.reply(opts.presence.refused, { error: { code: 'Forbidden', message: 'Forbidden' } });
    else {
      presenceSub.reply(201, { ...fixture('microsoft', 'subscription-created'), id: PRESENCE_SUB_ID, resource: `communications/presences/${USER_ID}`, expirationDateTime: '2026-03-02T10:30:00Z' });
      nock(GRAPH).get('/v1.0/me/presence').reply(200, { ...fixture('microsoft', 'presence'), ...opts.presence });
    }
  }
  const pages = opts.pages ?? [fixture('microsoft', 'delta-page-1'), fixture('microsoft', 'delta-page-2')];
  nock(GRAPH)
    .get('/v1.0/me/calendarView/delta')
    .query((q) => typeof q.startDateTime === 'string' && typeof q.endDateTime === 'string')
    .reply(200, pages[0] as object);
  for (const p of pages.slice(1)) nock(GRAPH).get('/v1.0/me/calendarView/delta').query({ $skiptoken: 'R0usmcCM996atia_s' }).reply(200, p as object);

  const cb = await h.http.get(`/oauth/microsoft/callback?code=auth-code-1&state=${encodeURIComponent(trace.state)}`).set('Cookie', cookie);
  expect(cb.status, cb.text).toBe(303);
  expect(cb.headers.location).toBe(`${path}?connected=microsoft`);
  expect(s256(trace.verifier!)).toBe(trace.challenge);
  return trace;
}

export function notification(clientState: string, over: Record<string, unknown> = {}, subscriptionId = SUB_ID): object {
  const n = fixture<{ value: Array<Record<string, unknown>> }>('microsoft', 'notification', { 'SUBSCRIPTION-ID': subscriptionId, 'CLIENT-STATE': clientState });
  n.value[0] = { ...n.value[0], ...over };
  return n;
}

export function lifecycle(clientState: string, event: string): object {
  return fixture('microsoft', 'lifecycle', { 'SUBSCRIPTION-ID': SUB_ID, 'CLIENT-STATE': clientState, 'LIFECYCLE-EVENT': event });
}
