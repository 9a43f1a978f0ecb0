import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY, createKeys, OPERATOR_KEY, seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { series } from '../support/metrics.js';
import { eventually } from '../support/receiver.js';
import { openStream, type SseClient } from '../support/sse.js';

/**
 * Request limits per tenant class and failed authentications per address, on the hub's fake clock:
 * each class refuses at its limit with 429, Retry-After and `rate_limited`, lets the caller in again
 * after the wait, leaves another tenant (and another key) alone, and the refused request stores nothing.
 */
const LIMITS = {
  REQUEST_LIMIT_API_PER_MIN: '600',
  REQUEST_LIMIT_TENANT_API_PER_MIN: '1000',
  REQUEST_LIMIT_PBX_EVENTS_PER_MIN: '10',
  REQUEST_LIMIT_HEARTBEATS_PER_MIN: '3',
  REQUEST_LIMIT_STREAMS_PER_MIN: '2',
  REQUEST_LIMIT_OPEN_STREAMS: '5',
  REQUEST_LIMIT_AUTH_FAILURES_PER_MIN: '3',
  // Clients are told apart by X-Forwarded-For, as behind an ingress.
  TRUST_PROXY: 'true',
};

let h: TestHub;
let pbx: PbxKey;
let beta: { admin: string; pbx: PbxKey };

beforeEach(async () => {
  h = await startTestHub({ env: LIMITS });
  pbx = await seedAlice(h);
  const admin = (await h.post('/v1/tenants', { id: 'beta', name: 'Beta' }, OPERATOR_KEY).expect(201)).body.adminKey.secret as string;
  await h.put('/v1/people/bea', { name: 'Bea', extension: '2001' }, admin).expect(201);
  await h.put('/v1/people/bea/devices/bea-desk', { kind: 'desk' }, admin).expect(201);
  const key = (await h.post('/v1/keys', { name: 'pbx', role: 'pbx' }, admin).expect(201)).body;
  beta = { admin, pbx: { signingKeyId: key.signingKeyId, secret: key.secret } };
});

afterEach(async () => {
  await h.stop();
});

function expectLimited(res: { status: number; headers: Record<string, string>; body: { error: { code: string; message: string } } }, retryAfter: string, message: RegExp): void {
  expect(res.status).toBe(429);
  expect(res.headers['retry-after']).toBe(retryAfter);
  expect(res.body.error.code).toBe('rate_limited');
  expect(res.body.error.message).toMatch(message);
}

const presenceOf = async (personId: string, key = ADMIN_KEY) => (await h.get(`/v1/presence/${personId}`, key).expect(200)).body;

describe('API requests, per key', () => {
  it("a tenant's lowered limit applies to each of its keys; the refused write stores nothing; other keys and tenants are unaffected; the key gets in again after Retry-After", async () => {
    await h.put('/v1/tenant', { name: 'Acme', settings: { requestLimits: { api: 5 } } }).expect(200);
    const editor = (await h.post('/v1/keys', { name: 'editor', role: 'admin' }).expect(201)).body.secret as string;
    for (let i = 0; i < 5; i++) await h.get('/v1/people', editor).expect(200);
    // 5 a minute: one request's token is back after 12 s.
    expectLimited(await h.put('/v1/people/alice', { name: 'Renamed' }, editor), '12', /too many API requests for this key: at most 5 a minute/);
    expect((await h.get('/v1/people/alice').expect(200)).body.name).toBe('Alice');
    // The same instant: the tenant's other key, and the other tenant, still get in.
    await h.get('/v1/people').expect(200);
    await h.get('/v1/people', beta.admin).expect(200);
    await h.clock.advance(11_999);
    expect((await h.get('/v1/people', editor)).status).toBe(429);
    await h.clock.advance(1);
    await h.put('/v1/people/alice', { name: 'Renamed', extension: '1001' }, editor).expect(200);
    expect((await h.get('/v1/people', editor)).status).toBe(429);
  });

  it('the tenant reads its limits; an override above the default or malformed is refused with 400 and changes nothing; other tenants keep the defaults', async () => {
    const defaults = { api: 600, tenantApi: 1000, pbxEvents: 10, heartbeats: 3, streams: 2, openStreams: 5 };
    expect((await h.get('/v1/tenant').expect(200)).body.requestLimits).toEqual(defaults);
    await h.put('/v1/tenant', { name: 'Acme', settings: { requestLimits: { pbxEvents: 4, heartbeats: 1 } } }).expect(200);
    const read = (await h.get('/v1/tenant').expect(200)).body;
    expect(read.tenant.settings.requestLimits).toEqual({ pbxEvents: 4, heartbeats: 1 });
    expect(read.requestLimits).toEqual({ ...defaults, pbxEvents: 4, heartbeats: 1 });
    expect((await h.get('/v1/tenant', beta.admin).expect(200)).body.requestLimits).toEqual(defaults);

    const above = await h.put('/v1/tenant', { name: 'Acme', settings: { requestLimits: { api: 601 } } }).expect(400);
    expect(above.body.error).toMatchObject({ code: 'request_limit_above_default', details: [{ path: 'settings.requestLimits.api', message: 'at most 600' }] });
    for (const requestLimits of [{ api: 0 }, { api: 1.5 }, { api: '10' }, { everything: 1 }]) {
      const bad = await h.put('/v1/tenant', { name: 'Acme', settings: { requestLimits } }).expect(400);
      expect(bad.body.error.code).toBe('invalid_body');
    }
    // The same rule through the directory file.
    const applied = await h.post('/v1/directory/apply', { tenant: 'acme', settings: { requestLimits: { streams: 3 } } }).expect(400);
    expect(applied.body.error.code).toBe('request_limit_above_default');
    expect((await h.get('/v1/tenant').expect(200)).body.requestLimits).toEqual({ ...defaults, pbxEvents: 4, heartbeats: 1 });
  });
});

describe('API requests, per tenant (all its keys together)', () => {
  it("a tenant's keys share its limit: refused past it whichever key asks, storing nothing; PBX batches and calendar webhooks do not count; other tenants are unaffected", async () => {
    await h.put('/v1/tenant', { name: 'Acme', settings: { requestLimits: { tenantApi: 4 } } }).expect(200);
    const editor = (await h.post('/v1/keys', { name: 'editor', role: 'admin' }).expect(201)).body.secret as string;
    await h.get('/v1/people').expect(200);
    // Neither a PBX batch (counted in events, per tenant) nor a calendar webhook (never limited) is an API request here.
    await h.pbx([{ type: 'ringing', extension: '1001', callId: 'c1', at: h.clock.now() }], pbx).expect(200);
    expect((await h.http.post('/v1/webhooks/microsoft?validationToken=abc')).status).not.toBe(429);
    await h.get('/v1/people', editor).expect(200);
    await h.get('/v1/people', editor).expect(200);
    // Four a minute for the whole tenant, though each key may send 600: one token is back after 15 s.
    expectLimited(await h.put('/v1/people/alice', { name: 'Renamed', extension: '1001' }), '15', /too many API requests for this tenant \(all its keys together\): at most 4 a minute/);
    expect((await h.get('/v1/people', editor)).body.error.details).toEqual({ limit: 'tenantApi', perMinute: 4 });
    expect((await h.hub.store.directory.get('people', 'acme', 'alice'))?.name).toBe('Alice');
    await h.pbx([{ type: 'hangup', extension: '1001', callId: 'c1', at: h.clock.now() }], pbx).expect(200);
    await h.get('/v1/people', beta.admin).expect(200);
    await h.clock.advance(15_000);
    expect((await h.get('/v1/tenant', editor).expect(200)).body.requestLimits.tenantApi).toBe(4);
    expect((await h.get('/v1/people')).status).toBe(429);
  });
});

describe('PBX events, per tenant, counted in events', () => {
  const ring = (n: number, at: number) => Array.from({ length: n }, (_, i) => ({ type: 'ringing', extension: '1001', callId: `c${i}`, at }));

  it('a batch larger than what is left is refused whole, nothing applied; the same batch goes through after Retry-After; another tenant is unaffected', async () => {
    const now = h.clock.now();
    await h.pbx(ring(8, now), pbx).expect(200);
    const before = await presenceOf('alice');
    expect(before.activity).toBe('ringing');
    const hangups = [1, 2, 3].map((i) => ({ type: 'hangup', extension: '1001', callId: `c${i}`, at: now }));
    const body = JSON.stringify({ events: hangups });
    // 2 of 10 left: the 3-event batch waits until a third is back, 6 s at 10 a minute.
    expectLimited(await h.pbx([], pbx, { body }), '6', /too many PBX events for this tenant: at most 10 a minute/);
    expect(await presenceOf('alice')).toEqual(before);
    // The other tenant's PBX, at the same instant.
    await h.pbx(ring(10, now), beta.pbx).expect(200);
    await h.clock.advance(6000);
    // Byte for byte, signature and timestamp too: a refused batch is not a replay.
    const res = await h.pbx([], pbx, { body, timestamp: Math.floor(now / 1000) }).expect(200);
    expect(res.body.applied).toBe(3);
  });

  it('a batch larger than the whole limit is 413 batch_exceeds_limit (no Retry-After: waiting never helps), nothing applied, and takes nothing', async () => {
    const before = await presenceOf('alice');
    const res = await h.pbx(ring(11, h.clock.now()), pbx).expect(413);
    expect(res.headers['retry-after']).toBeUndefined();
    expect(res.body.error).toMatchObject({ code: 'batch_exceeds_limit', details: { limit: 'pbxEvents', perMinute: 10 } });
    expect(res.body.error.message).toMatch(/a batch of 11 events is more than the 10 PBX events for this tenant allowed a minute: send smaller batches/);
    expect(await presenceOf('alice')).toEqual(before);
    await h.pbx(ring(10, h.clock.now()), pbx).expect(200);
  });
});

describe('mobile heartbeats, per device', () => {
  it('the fourth heartbeat in a minute is refused and changes nothing; another device is unaffected; 20 s later it is accepted', async () => {
    const token = (await h.put('/v1/people/alice/devices/alice-phone', { kind: 'mobile', contact: '+4930555' }).expect(201)).body.token as string;
    const other = (await h.put('/v1/people/alice/devices/alice-tablet', { kind: 'mobile', contact: '+4930556' }).expect(201)).body.token as string;
    const beat = (t: string, state = 'foreground') => h.http.post('/v1/heartbeat').set('Authorization', `Bearer ${t}`).send({ state });
    for (let i = 0; i < 3; i++) await beat(token).expect(200);
    const before = await presenceOf('alice');
    expectLimited(await beat(token, 'background'), '20', /too many heartbeats from this device: at most 3 a minute/);
    expect(await presenceOf('alice')).toEqual(before);
    await beat(other).expect(200);
    await h.clock.advance(20_000);
    await beat(token).expect(200);
  });
});

describe('stream connections, per key', () => {
  it('the third stream opened in a minute is refused; another key is unaffected; 30 s later it opens', async () => {
    const url = await h.listen();
    const supervisor = (await h.post('/v1/keys', { name: 'wallboard', role: 'supervisor' }).expect(201)).body.secret as string;
    const open = (key: string) => fetch(`${url}/v1/stream`, { headers: { Authorization: `Bearer ${key}`, Accept: 'text/event-stream' } });
    const opened: Response[] = [];
    try {
      for (let i = 0; i < 2; i++) opened.push(await open(supervisor));
      expect(opened.map((r) => r.status)).toEqual([200, 200]);
      const refused = await open(supervisor);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('30');
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
      opened.push(await open(ADMIN_KEY));
      expect(opened[2]!.status).toBe(200);
      await h.clock.advance(30_000);
      opened.push(await open(supervisor));
      expect(opened[3]!.status).toBe(200);
    } finally {
      for (const r of opened) await r.body?.cancel();
    }
  });
});

describe('streams open at once, per tenant', () => {
  /** Opens a stream without reading it: the answer's status and headers, the body left to the caller. */
  const fetchStream = (url: string, key: string) => fetch(`${url}/v1/stream`, { headers: { Authorization: `Bearer ${key}`, Accept: 'text/event-stream' } });

  it("past the tenant's places a stream is refused whichever key opens it (Retry-After 60, counted), taking none of the key's openings; another tenant is unaffected; a stream that closes, however, frees its place", async () => {
    const url = await h.listen();
    await h.put('/v1/tenant', { name: 'Acme', settings: { requestLimits: { openStreams: 2 } } }).expect(200);
    const keys = await createKeys(h, { a: { role: 'supervisor' }, b: { role: 'supervisor' }, c: { role: 'supervisor' }, d: { role: 'admin' } });
    const open = (key: string) => fetchStream(url, key);
    const held = () => h.hub.limits.held('acme', 'openStreams');
    const clients: SseClient[] = [];
    try {
      clients.push(await openStream(`${url}/v1/stream`, keys.a!), await openStream(`${url}/v1/stream`, keys.b!));
      // A key that has opened nothing yet: the tenant's places are what refuse it.
      for (let i = 0; i < 3; i++) {
        const refused = await open(keys.c!);
        expect(refused.status).toBe(429);
        expect(refused.headers.get('retry-after')).toBe('60');
        expect(((await refused.json()) as { error: unknown }).error).toMatchObject({ code: 'rate_limited', message: expect.stringMatching(/too many streams open at once for this tenant: at most 2; one frees when a stream closes/), details: { limit: 'openStreams', atOnce: 2 } });
      }
      const other = await openStream(`${url}/v1/stream`, beta.admin);
      clients.push(other);
      const text = (await h.http.get('/metrics').expect(200)).text;
      expect(series(text, 'presence_requests_limited_total', { tenant: 'acme', class: 'openStreams' })).toBe(3);
      expect(series(text, 'presence_requests_limited_total', { tenant: 'beta', class: 'openStreams' })).toBe(0);
      // What each tenant holds open, before it is refused.
      expect(series(text, 'presence_open_streams', { tenant: 'acme' })).toBe(2);
      expect(series(text, 'presence_open_streams', { tenant: 'beta' })).toBe(1);

      // The client goes away: its place is free, and the key refused three times still has both its openings a minute.
      clients[0]!.close();
      await eventually(() => expect(held()).toBe(1));
      clients.push(await openStream(`${url}/v1/stream`, keys.c!));
      expect((await open(keys.d!)).status).toBe(429);
      // The server ends a stream (its key revoked, at the next change): its place is free too.
      const keyId = (await h.get('/v1/keys').expect(200)).body.keys.find((k: { name: string }) => k.name === 'b').id as string;
      await h.del(`/v1/keys/${keyId}`).expect(204);
      await h.put('/v1/people/alice/status', { activity: 'dnd' }).expect(200);
      await eventually(() => expect(clients[1]!.ended).toBe(true));
      await eventually(() => expect(held()).toBe(1));
      clients.push(await openStream(`${url}/v1/stream`, keys.c!));
      expect(held()).toBe(2);
    } finally {
      for (const c of clients) c.close();
    }
    await eventually(() => expect(held()).toBe(0));
    await eventually(async () => expect(series((await h.http.get('/metrics').expect(200)).text, 'presence_open_streams', { tenant: 'acme' })).toBeUndefined());
  });

  it('the default applies until the operator raises it for the tenant', async () => {
    const url = await h.listen();
    const clients: SseClient[] = [];
    try {
      const keys = await createKeys(h, { a: { role: 'supervisor' }, b: { role: 'supervisor' }, c: { role: 'supervisor' } });
      for (const k of [ADMIN_KEY, keys.a!, keys.b!]) for (let i = 0; i < 2; i++) if (clients.length < 5) clients.push(await openStream(`${url}/v1/stream`, k));
      const refused = await fetchStream(url, keys.c!);
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { error: { details: unknown } }).error.details).toEqual({ limit: 'openStreams', atOnce: 5 });
      await h.put('/v1/tenants/acme/request-limits', { openStreams: 6 }, OPERATOR_KEY).expect(200);
      clients.push(await openStream(`${url}/v1/stream`, keys.c!));
      expect(h.hub.limits.held('acme', 'openStreams')).toBe(6);
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('a stream still open when the service shuts down gives its place back', async () => {
    const url = await h.listen();
    const c = await openStream(`${url}/v1/stream`, ADMIN_KEY);
    await c.waitFor((e) => e.event === 'snapshot');
    expect(h.hub.limits.held('acme', 'openStreams')).toBe(1);
    await h.stop();
    await eventually(() => expect(h.hub.limits.held('acme', 'openStreams')).toBe(0));
    h = await startTestHub({ env: LIMITS });
  });
});

describe('failed authentication, per client address', () => {
  const from = (address: string) => ({ 'X-Forwarded-For': address });

  it('an address that guessed too often is refused even with a right key; a right key from another address, health and calendar webhooks are not; 20 s later it may try again', async () => {
    const guesser = from('203.0.113.7');
    await h.http.get('/v1/people').set(guesser).set('Authorization', 'Bearer phk_wrong').expect(401);
    await h.http.post('/v1/heartbeat').set(guesser).set('Authorization', 'Bearer phd_wrong').send({}).expect(401);
    // A PBX key id that does not exist (a wrong signature of one that does counts for its tenant only: below).
    const guessed = await h.pbx([], { signingKeyId: 'acme/guessed', secret: 'x' }).set(guesser);
    expect(guessed.body.error.code).toBe('invalid_credentials');
    // Three failures a minute from this address: the fourth request is refused unchecked, right key or not.
    expectLimited(await h.http.get('/v1/people').set(guesser).set('Authorization', `Bearer ${ADMIN_KEY}`), '20', /too many failed authentications from this address/);
    expect((await h.pbx([], pbx).set(guesser)).status).toBe(429);
    // Another address, with the right key or the other tenant's.
    await h.http.get('/v1/people').set(from('198.51.100.2')).set('Authorization', `Bearer ${ADMIN_KEY}`).expect(200);
    await h.http.get('/v1/people').set(from('198.51.100.3')).set('Authorization', `Bearer ${beta.admin}`).expect(200);
    // Not limited: health, and the calendar providers' webhooks (a Graph validation handshake here).
    await h.http.get('/healthz').set(guesser).expect(200);
    expect((await h.http.post('/v1/webhooks/microsoft?validationToken=abc').set(guesser)).status).not.toBe(429);
    await h.clock.advance(20_000);
    await h.http.get('/v1/people').set(guesser).set('Authorization', `Bearer ${ADMIN_KEY}`).expect(200);
  });

  it("a PBX signing with a stale secret locks out that tenant's PBX keys at its address, not another tenant's PBX nor API keys there (a hosted PBX posts for many tenants from one address)", async () => {
    const host = from('203.0.113.50');
    for (let i = 0; i < 3; i++) expect((await h.pbx([], { ...pbx, secret: 'rotated-away' }).set(host)).body.error.code).toBe('invalid_signature');
    expectLimited(await h.pbx([], pbx).set(host), '20', /too many failed authentications from this address/);
    const beat = [{ type: 'ringing', extension: '2001', callId: 'b1', at: h.clock.now() }];
    expect((await h.pbx(beat, beta.pbx).set(host).expect(200)).body.applied).toBe(1);
    await h.http.get('/v1/people').set(host).set('Authorization', `Bearer ${ADMIN_KEY}`).expect(200);
    // Key ids that do not exist count for the address, whatever tenant they name.
    for (let i = 0; i < 3; i++) expect((await h.pbx([], { signingKeyId: `beta/nope${i}`, secret: 'x' }).set(host)).body.error.code).toBe('invalid_credentials');
    expect((await h.pbx(beat, beta.pbx).set(host)).status).toBe(429);
  });

  it('the address is the one the proxy saw (the last X-Forwarded-For entry): a guesser cannot name another address to lock it out, nor a new one each time to escape', async () => {
    // What the client sent comes first, the proxy appends the address it saw: only the last entry is the proxy's word.
    const victim = '198.51.100.2';
    const guess = (spoofed: string) => h.http.get('/v1/people').set(from(`${spoofed}, 203.0.113.7`)).set('Authorization', 'Bearer phk_wrong');
    for (const spoofed of [victim, '192.0.2.1', '192.0.2.2']) expect((await guess(spoofed)).status).toBe(401);
    expect((await guess('192.0.2.3')).status).toBe(429);
    await h.http.get('/v1/people').set(from(victim)).set('Authorization', `Bearer ${ADMIN_KEY}`).expect(200);
  });

  it('IPv6 clients are counted by their /64', async () => {
    for (const address of ['2001:db8:1:2::a', '2001:db8:1:2::b', '2001:db8:1:2:ffff::1']) {
      await h.http.get('/v1/people').set(from(address)).set('Authorization', 'Bearer phk_wrong').expect(401);
    }
    expect((await h.http.get('/v1/people').set(from('2001:db8:1:2::c')).set('Authorization', `Bearer ${ADMIN_KEY}`)).status).toBe(429);
    await h.http.get('/v1/people').set(from('2001:db8:1:3::a')).set('Authorization', `Bearer ${ADMIN_KEY}`).expect(200);
  });
});

describe('metrics', () => {
  it('counts refusals by tenant and class; every tenant has its series at 0', async () => {
    await h.put('/v1/tenant', { name: 'Acme', settings: { requestLimits: { api: 1 } } }).expect(200);
    await h.get('/v1/people').expect(200);
    expect((await h.get('/v1/people')).status).toBe(429);
    expect((await h.get('/v1/people')).status).toBe(429);
    const text = (await h.http.get('/metrics').expect(200)).text;
    expect(series(text, 'presence_requests_limited_total', { tenant: 'acme', class: 'api' })).toBe(2);
    expect(series(text, 'presence_requests_limited_total', { tenant: 'beta', class: 'api' })).toBe(0);
    expect(series(text, 'presence_requests_limited_total', { tenant: 'beta', class: 'pbxEvents' })).toBe(0);
  });
});
