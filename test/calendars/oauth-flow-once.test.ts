import { afterAll, beforeAll, expect, it } from 'vitest';
import { cookiesFrom, onlyLoopback, startCalendarHub, unmatched, type CalendarTestHub } from '../support/calendar-hub.js';
import { describeWith } from '../support/components.js';
import { startRedis, type RunningRedis } from '../support/redis.js';

/**
 * A consent step is single use even when its answer arrives twice at once (a double submit, two tabs,
 * a replay racing the real answer) and the store is shared by replicas: reading the flow and deleting it
 * are separate round trips to Redis, so only an atomic claim keeps the second request out.
 */
describeWith(['redis'], 'OAuth flows on a shared store', () => {
  let redis: RunningRedis;
  let h: CalendarTestHub;
  beforeAll(async () => {
    onlyLoopback();
    redis = await startRedis();
    h = await startCalendarHub({ env: { REDIS_URL: redis.url } });
    await h.put('/v1/people/alice', { name: 'Alice', email: 'alice@contoso.example' }).expect(201);
  });
  afterAll(async () => {
    await h?.stop();
    await redis?.stop();
  });

  it('a Microsoft admin start link pressed several times at once starts exactly one sign-in', async () => {
    const misses = unmatched();
    const path = new URL(((await h.post('/v1/calendars/microsoft/admin-consent', {}).expect(201)).body as { url: string }).url).pathname;
    const presses = await Promise.all([0, 1, 2, 3].map(() => h.http.post(path)));
    expect(presses.map((r) => r.status).sort()).toEqual([303, 400, 400, 400]);
    for (const r of presses.filter((p) => p.status === 400)) expect(r.text).toContain('data-error-code="oauth_state_mismatch"');
    expect(misses).toEqual([]);
  });

  it("a person's consent answer sent several times at once is taken once", async () => {
    const link = new URL((await h.post('/v1/people/alice/connect-link', {}).expect(201)).body.url).pathname;
    const toGoogle = await h.http.post(`${link}/google`).expect(303);
    const state = new URL(toGoogle.headers.location!).searchParams.get('state')!;
    const cookie = cookiesFrom(toGoogle.headers['set-cookie']);
    // Declined answers: each one taken goes back to the person's page with consent_denied; a spent state is a mismatch.
    const answers = await Promise.all([0, 1, 2].map(() => h.http.get(`/oauth/google/callback?error=access_denied&state=${encodeURIComponent(state)}`).set('Cookie', cookie)));
    const codes = answers.map((r) => /data-error-code="([a-z_]+)"/.exec(r.text)?.[1]).sort();
    expect(codes).toEqual(['consent_denied', 'oauth_state_mismatch', 'oauth_state_mismatch']);
  });
});
