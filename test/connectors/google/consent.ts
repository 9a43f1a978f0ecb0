import nock from 'nock';
import { expect } from 'vitest';
import { GOOGLE_API, GOOGLE_OAUTH, cookiesFrom, s256, type CalendarTestHub } from '../../support/calendar-hub.js';
import { fixture } from '../../support/fixtures.js';

export const SYNC_TOKEN = 'CPDAlvWDx70CEPDAlvWDx70CGAU=';
export const RESOURCE_ID = 'o3hgv1538sdjfh';
export const EVENTS = '/calendar/v3/calendars/primary/events';

/** An unsigned ID token as Google's token endpoint returns it (only the claims are read). */
export function idToken(claims: Record<string, unknown>): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'test', typ: 'JWT' })}.${part({ iss: 'https://accounts.google.com', aud: 'google-client-id.apps.googleusercontent.com', ...claims })}.c2lnbmF0dXJl`;
}

export interface GoogleTrace {
  authorize: URL;
  state: string;
  challenge: string;
  verifier?: string;
  tokenBody?: Record<string, string>;
  watch?: { id: string; token: string; address: string; type: string; params?: { ttl?: string } };
  listQueries: Array<Record<string, string>>;
}

/**
 * (nock 15 on Node 20: reply callbacks must not take the request body; bodies are captured in the
 * matcher, and a zero-argument reply reads what the matcher captured.)
 *
 * Drives a Google consent by hand with nock answering the token endpoint, events.watch and the first
 * full events.list (two pages).
 */
export async function consentGoogle(h: CalendarTestHub, opts: { pages?: object[]; channelExpiresAt?: number } = {}): Promise<GoogleTrace> {
  const link = await h.post('/v1/people/alice/connect-link', {}).expect(201);
  const path = new URL(link.body.url as string).pathname;
  const start = await h.http.post(`${path}/google`).expect(303);
  const authorize = new URL(start.headers.location as string);
  const trace: GoogleTrace = { authorize, state: authorize.searchParams.get('state')!, challenge: authorize.searchParams.get('code_challenge')!, listQueries: [] };
  nock(GOOGLE_OAUTH)
    .post('/token', (b: Record<string, string>) => {
      trace.tokenBody = b;
      trace.verifier = b.code_verifier;
      return b.grant_type === 'authorization_code';
    })
    .reply(200, { ...fixture('google', 'token'), scope: 'openid https://www.googleapis.com/auth/calendar.events.readonly https://www.googleapis.com/auth/userinfo.email', id_token: idToken({ sub: '110248495921238986420', email: 'alice@example.com', email_verified: true }) });
  nock(GOOGLE_API)
    .post(`${EVENTS}/watch`, (b: GoogleTrace['watch']) => (trace.watch = b) !== undefined)
    .reply(200, () => ({ ...fixture('google', 'watch'), id: trace.watch!.id, token: trace.watch!.token, expiration: String(opts.channelExpiresAt ?? Date.parse('2026-03-09T09:30:00Z')) }));
  const pages = opts.pages ?? [fixture('google', 'events-full-page-1'), fixture('google', 'events-full-page-2')];
  nock(GOOGLE_API)
    .get(EVENTS)
    .query((q) => trace.listQueries.push(q as Record<string, string>) > 0 && q.pageToken === undefined && q.timeMin !== undefined)
    .reply(200, pages[0]);
  for (const p of pages.slice(1)) nock(GOOGLE_API).get(EVENTS).query((q) => q.pageToken !== undefined).reply(200, p);

  const cb = await h.http.get(`/oauth/google/callback?code=4%2F0AeaYSHB-code&state=${encodeURIComponent(trace.state)}&scope=email%20openid`).set('Cookie', cookiesFrom(start.headers['set-cookie']));
  expect(cb.status, cb.text).toBe(303);
  expect(cb.headers.location).toBe(`${path}?connected=google`);
  expect(s256(trace.verifier!)).toBe(trace.challenge);
  return trace;
}

/** A push as Google sends it: no body, X-Goog-* headers. */
export function push(h: CalendarTestHub, t: { channelId: string; token: string; state?: string; number?: number; resourceId?: string }) {
  return h.http
    .post('/v1/webhooks/google')
    .set('X-Goog-Channel-ID', t.channelId)
    .set('X-Goog-Channel-Token', t.token)
    .set('X-Goog-Channel-Expiration', 'Mon, 09 Mar 2026 09:30:00 GMT')
    .set('X-Goog-Resource-ID', t.resourceId ?? RESOURCE_ID)
    .set('X-Goog-Resource-URI', 'https://www.googleapis.com/calendar/v3/calendars/primary/events?alt=json')
    .set('X-Goog-Resource-State', t.state ?? 'exists')
    .set('X-Goog-Message-Number', String(t.number ?? 2))
    .send();
}
