import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/clock/manual-clock.js';
import { KeyedLimiter } from '../../../services/calendars/limiter.js';
import { ProviderError } from '../../../services/calendars/errors.js';
import { GraphClient } from '../../../services/connectors/microsoft/graph-client.js';
import { GRAPH, onlyLoopback } from '../../support/calendar-hub.js';

const auth = { token: async () => 'tok', rejected: async () => 'tok2' };

describe('Graph client', () => {
  let clock: ManualClock;
  let limiter: KeyedLimiter;
  let graph: GraphClient;
  beforeEach(() => {
    onlyLoopback();
    clock = new ManualClock('2026-03-02T09:30:00Z');
    limiter = new KeyedLimiter(4);
    graph = new GraphClient({ graphBaseUrl: GRAPH, timeoutMs: 5000, clock, random: () => 0, limiter });
  });
  afterEach(() => nock.cleanAll());

  it('keeps at most 4 requests in flight per mailbox, and mailboxes apart', async () => {
    let inFlight = 0;
    let most = 0;
    const seenAtArrival: number[] = [];
    nock(GRAPH)
      .get(/\/v1\.0\/users\/[ab]\/events/)
      .times(20)
      .delay(30)
      .reply(200, () => {
        inFlight++;
        most = Math.max(most, inFlight);
        seenAtArrival.push(limiter.inFlight('mailbox-a'));
        setTimeout(() => inFlight--, 30);
        return { value: [] };
      });
    const a = Array.from({ length: 10 }, () => graph.request('mailbox-a', auth, 'get', 'users/a/events'));
    const b = Array.from({ length: 10 }, () => graph.request('mailbox-b', auth, 'get', 'users/b/events'));
    await Promise.all([...a, ...b]);
    expect(Math.max(...seenAtArrival)).toBe(4);
    expect(most).toBeLessThanOrEqual(8);
    expect(most).toBeGreaterThan(4);
    expect(limiter.inFlight('mailbox-a')).toBe(0);
  });

  it('follows links only on the configured Graph base (a token never goes to another host)', async () => {
    expect(graph.relative('https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken=x')).toBe('me/calendarView/delta?$deltatoken=x');
    expect(() => graph.relative('https://evil.example/v1.0/me/events')).toThrow(ProviderError);
    expect(() => graph.relative('https://graph.microsoft.com.evil.example/v1.0/me')).toThrow(ProviderError);
    const usGov = new GraphClient({ graphBaseUrl: 'https://graph.microsoft.us', timeoutMs: 5000, clock, random: () => 0, limiter });
    nock('https://graph.microsoft.us').get('/v1.0/me').reply(200, { id: 'gov' });
    expect(await usGov.request('m', auth, 'get', 'me')).toEqual({ id: 'gov' });
  });

  it('$batch: at most 20 per batch; inner 429s are sent again alone after their Retry-After', async () => {
    const bodies: Array<{ requests: Array<{ id: string; url: string }> }> = [];
    nock(GRAPH)
      .post('/v1.0/$batch', (b: (typeof bodies)[number]) => bodies.push(b) > 0)
      .reply(200, {
        responses: [
          { id: '0', status: 200, headers: { 'Content-Type': 'application/json' }, body: { id: 'u-alice' } },
          { id: '1', status: 429, headers: { 'Retry-After': '7' }, body: { error: { code: 'TooManyRequests' } } },
          { id: '2', status: 404, body: { error: { code: 'Request_ResourceNotFound' } } },
        ],
      });
    nock(GRAPH)
      .post('/v1.0/$batch', (b: (typeof bodies)[number]) => bodies.push(b) > 0)
      .reply(200, { responses: [{ id: '1', status: 200, body: { id: 'u-bob' } }] });
    const p = graph.batch('directory', auth, [
      { id: '0', method: 'GET', url: 'users/alice@contoso.example' },
      { id: '1', method: 'GET', url: 'users/bob@contoso.example' },
      { id: '2', method: 'GET', url: 'users/nobody@contoso.example' },
    ]);
    // Wait (real time) until the client sleeps on the clock for the inner Retry-After.
    for (let i = 0; i < 200 && clock.timers < 1; i++) await new Promise((r) => setTimeout(r, 5));
    await clock.advance(6999);
    expect(bodies).toHaveLength(1);
    await clock.advance(1);
    const out = await p;
    expect(bodies[1]!.requests.map((r) => r.id)).toEqual(['1']);
    expect(bodies[0]!.requests[0]).toMatchObject({ id: '0', url: '/users/alice@contoso.example' });
    expect(out.get('0')).toEqual({ status: 200, body: { id: 'u-alice' } });
    expect(out.get('1')).toEqual({ status: 200, body: { id: 'u-bob' } });
    expect(out.get('2')?.status).toBe(404);
    await expect(graph.batch('d', auth, Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET' as const, url: 'me' })))).rejects.toThrow(RangeError);
  });

  it('410 and syncStateNotFound ask for a full sync; other 4xx are not retried', async () => {
    nock(GRAPH).get('/v1.0/me/calendarView/delta').query(true).reply(410, { error: { code: 'resyncRequired', message: 'Resync required.' } }, { Location: 'https://graph.microsoft.com/v1.0/me/calendarView/delta' });
    await expect(graph.request('m', auth, 'get', 'me/calendarView/delta?$deltatoken=x')).rejects.toMatchObject({ name: 'SyncStateGoneError' });
    nock(GRAPH).get('/v1.0/me/calendarView/delta').query(true).reply(400, { error: { code: 'syncStateNotFound', message: 'The sync state is not found.' } });
    await expect(graph.request('m', auth, 'get', 'me/calendarView/delta?$deltatoken=x')).rejects.toMatchObject({ name: 'SyncStateGoneError' });
    nock(GRAPH).get('/v1.0/me/events').reply(403, { error: { code: 'ErrorAccessDenied', message: 'Access is denied.' } });
    await expect(graph.request('m', auth, 'get', 'me/events')).rejects.toMatchObject({ status: 403, code: 'ErrorAccessDenied', transient: false });
  });
});
