import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { consentMicrosoft, seedAliceForCalendar } from '../connectors/microsoft/consent.js';
import { onlyLoopback, startCalendarHub, type CalendarTestHub } from '../support/calendar-hub.js';
import { ADMIN_KEY } from '../support/hub.js';
import { series } from '../support/metrics.js';

/**
 * The calendar pages take no API key: the connect link or OAuth state in their URL is the secret. A wrong
 * one counts as failed authentication of the client address, as a wrong key does, so guessing them is as
 * slow; a person going through their own consent is not counted (a reload of a used answer costs one try).
 */
describe('guessed connect links and OAuth states', () => {
  let h: CalendarTestHub;
  const from = (address: string) => ({ 'X-Forwarded-For': address });
  const linkPath = async () => new URL((await h.post('/v1/people/alice/connect-link', {}).expect(201)).body.url as string).pathname;
  const wrongKey = () => h.http.get('/v1/people').set('Authorization', 'Bearer phk_wrong');
  const rightKey = () => h.http.get('/v1/people').set('Authorization', `Bearer ${ADMIN_KEY}`);

  beforeEach(async () => {
    onlyLoopback();
    h = await startCalendarHub({ env: { REQUEST_LIMIT_AUTH_FAILURES_PER_MIN: '3', TRUST_PROXY: 'true' } });
    await seedAliceForCalendar(h);
  });
  afterEach(async () => {
    nock.cleanAll();
    await h.stop();
  });

  it('a wrong connect link, OAuth state or admin start link counts against the address; past the limit its pages are refused with 429 before the link is looked at, a right one too', async () => {
    const guesser = from('203.0.113.7');
    const path = await linkPath();
    const [payload, mac] = path.split('/')[2]!.split('.');
    expect((await h.http.get(`/connect/${payload}.${mac!.slice(0, -2)}xx`).set(guesser).expect(404)).text).toContain('invalid_connect_link');
    expect((await h.http.get('/oauth/microsoft/callback?code=x&state=guessed-state').set(guesser).expect(400)).text).toContain('oauth_state_mismatch');
    expect((await h.http.get('/oauth/microsoft/admin-consent/guessed-ticket').set(guesser).expect(400)).text).toContain('oauth_state_mismatch');

    const refused = await h.http.get(path).set(guesser).expect(429);
    expect(refused.headers['retry-after']).toBe('20');
    expect(refused.text).toContain('data-error-code="rate_limited"');
    expect((await h.http.post('/oauth/microsoft/admin-consent/another-guess').set(guesser)).status).toBe(429);
    // The same bucket as wrong API keys: the address's right key is refused too.
    expect((await rightKey().set(guesser)).status).toBe(429);
    await h.http.get(path).set(from('198.51.100.2')).expect(200);
    const text = (await h.http.get('/metrics').expect(200)).text;
    expect(series(text, 'presence_requests_limited_total', { tenant: '', class: 'auth' })).toBe(3);

    await h.clock.advance(20_000);
    await h.http.get(path).set(guesser).expect(200);
  });

  it('a person consenting is not counted: their page opened again and again, an expired link, a finished consent; reloading its used answer costs one try', async () => {
    const expired = await linkPath();
    await h.clock.advanceTo('2026-03-09T09:30:00Z');
    expect((await h.http.get(expired).expect(410)).text).toContain('connect_link_expired');
    const path = await linkPath();
    for (let i = 0; i < 5; i++) await h.http.get(path).expect(200);
    const { state } = await consentMicrosoft(h);
    expect((await h.http.get(`/oauth/microsoft/callback?code=auth-code-1&state=${encodeURIComponent(state)}`).expect(400)).text).toContain('oauth_state_mismatch');
    // The reload took one of the 3 tries: a wrong key takes the second, and the address is still let in.
    await wrongKey().expect(401);
    await rightKey().expect(200);
    await wrongKey().expect(401);
    expect((await rightKey()).status).toBe(429);
  });
});
