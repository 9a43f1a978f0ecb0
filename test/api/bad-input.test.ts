import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signPbxRequest } from '../../services/api/auth.js';
import { unavailable } from '../../shared/errors/errors.js';
import { ADMIN_KEY, seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';

describe('bad input gets a specific 4xx and loses nothing already stored', () => {
  let h: TestHub;
  let key: PbxKey;
  let before: { presence: unknown; people: unknown; devices: unknown };

  const state = async () => ({
    presence: (await h.get('/v1/presence/alice')).body,
    people: (await h.get('/v1/people')).body,
    devices: (await h.get('/v1/people/alice/devices')).body,
  });

  beforeAll(async () => {
    h = await startTestHub({ env: { BODY_LIMIT_BYTES: '4096', PBX_MAX_EVENTS: '5' } });
    key = await seedAlice(h);
    await h.pbx([{ type: 'answered', device: 'alice-desk', at: h.clock.now() - 1000 }], key).expect(200);
    before = await state();
  });
  afterAll(() => h.stop());

  const nowSec = () => Math.floor(h.clock.now() / 1000);
  const signed = (body: string, o: { ts?: number; secret?: string; keyId?: string } = {}) => {
    const ts = String(o.ts ?? nowSec());
    return h.http
      .post('/v1/pbx/events')
      .set('Content-Type', 'application/json')
      .set('X-Presence-Key-Id', o.keyId ?? key.signingKeyId)
      .set('X-Presence-Timestamp', ts)
      .set('X-Presence-Signature', signPbxRequest(o.secret ?? key.secret, ts, body))
      .send(body);
  };
  const hangup = (n = 0) => JSON.stringify({ events: [{ type: 'hangup', device: 'alice-desk', at: h.clock.now() + n }] });

  const cases: Array<[string, () => PromiseLike<{ status: number; body: { error: { code: string } } }>, number, string]> = [
    ['malformed JSON', () => h.http.put('/v1/people/alice/status').set('Authorization', `Bearer ${ADMIN_KEY}`).set('Content-Type', 'application/json').send('{"activity":'), 400, 'invalid_json'],
    ['a bare JSON number', () => h.http.put('/v1/people/alice/status').set('Authorization', `Bearer ${ADMIN_KEY}`).set('Content-Type', 'application/json').send('42'), 400, 'invalid_body'],
    ['null, where an empty object would be a valid pause', () => h.http.put('/v1/people/alice/queue-pause').set('Authorization', `Bearer ${ADMIN_KEY}`).set('Content-Type', 'application/json').send('null'), 400, 'invalid_body'],
    ['a bare JSON string', () => h.http.post('/v1/heartbeat').set('Authorization', 'Bearer phd_unknown').set('Content-Type', 'application/json').send('"foreground"'), 401, 'invalid_device_token'],
    ['wrong types', () => h.put('/v1/people/alice', { name: 42, extension: ['x'] }), 400, 'invalid_body'],
    ['unknown field', () => h.put('/v1/people/alice/status', { activity: 'away', colour: 'red' }), 400, 'invalid_body'],
    ['not JSON at all', () => h.http.put('/v1/people/alice/status').set('Authorization', `Bearer ${ADMIN_KEY}`).set('Content-Type', 'text/plain').send('away'), 415, 'unsupported_media_type'],
    ['unknown person', () => h.put('/v1/people/zed/status', { activity: 'away' }), 404, 'person_not_found'],
    ['unknown route', () => h.get('/v1/nothing'), 404, 'route_not_found'],
    ['no key', () => h.http.get('/v1/presence'), 401, 'missing_credentials'],
    ['wrong key', () => h.get('/v1/presence', 'phk_nope'), 401, 'invalid_credentials'],
    ['bad HMAC', () => signed(hangup(), { secret: 'wrong-secret' }), 401, 'invalid_signature'],
    ['body changed after signing', () => h.http.post('/v1/pbx/events').set('Content-Type', 'application/json').set('X-Presence-Key-Id', key.signingKeyId).set('X-Presence-Timestamp', String(nowSec())).set('X-Presence-Signature', signPbxRequest(key.secret, String(nowSec()), hangup())).send(hangup(1)), 401, 'invalid_signature'],
    ['stale timestamp (replay older than 5 min)', () => signed(hangup(), { ts: nowSec() - 301 }), 401, 'stale_timestamp'],
    ['missing signature', () => h.http.post('/v1/pbx/events').set('Content-Type', 'application/json').send(hangup()), 401, 'missing_signature'],
    ['unknown PBX key', () => signed(hangup(), { keyId: 'acme/nope' }), 401, 'invalid_credentials'],
    ['PBX batch with a bad event', () => signed(JSON.stringify({ events: [{ type: 'hangup', device: 'alice-desk', at: h.clock.now() }, { type: 'ringing', device: ['alice-desk'], at: 1 }] })), 400, 'invalid_body'],
    ['PBX batch that is not JSON', () => signed('{events'), 400, 'invalid_json'],
    ['too many events', () => signed(JSON.stringify({ events: Array.from({ length: 6 }, () => ({ type: 'hangup', device: 'alice-desk', at: h.clock.now() })) })), 400, 'too_many_events'],
    ['oversized body', () => h.put('/v1/people/alice', { name: 'x'.repeat(5000) }), 413, 'body_too_large'],
    ['oversized PBX body', () => signed(JSON.stringify({ events: [{ type: 'hangup', device: 'alice-desk', at: 1, callId: 'x'.repeat(5000) }] })), 413, 'body_too_large'],
    ['unknown device token', () => h.http.post('/v1/heartbeat').set('Authorization', 'Bearer phd_unknown').send({ state: 'foreground' }), 401, 'invalid_device_token'],
    ['an activity every plain object has', () => h.put('/v1/people/alice/status', { activity: 'constructor' }), 422, 'unknown_activity'],
    ['an activity named like an object method', () => h.put('/v1/people/alice/status', { activity: 'toString' }), 422, 'unknown_activity'],
    ['the activity __proto__', () => h.put('/v1/people/alice/status', { activity: '__proto__' }), 422, 'unknown_activity'],
    ['until in the past', () => h.put('/v1/people/alice/status', { activity: 'away', until: '2020-01-01T00:00:00Z' }), 422, 'until_in_past'],
    ['until without an offset', () => h.put('/v1/people/alice/status', { activity: 'away', until: 'tomorrow' }), 400, 'invalid_body'],
    ['bad time zone', () => h.put('/v1/people/alice', { name: 'Alice', timeZone: 'Nowhere/City' }), 400, 'invalid_body'],
    ['duplicate extension', () => h.put('/v1/people/bob', { name: 'Bob', extension: '1001' }), 409, 'extension_taken'],
    ['bad policy', () => h.put('/v1/tenant', { name: 'Acme', policy: { rules: [{ id: 'x', claim: 'nonsense' }] } }), 400, 'invalid_body'],
    ['a person id that could never exist', () => h.put('/v1/people/Bob', { name: 'Bob' }), 400, 'invalid_id'],
    ['a device id that could never exist', () => h.put('/v1/people/alice/devices/Desk', { kind: 'desk' }), 400, 'invalid_id'],
    ['a group id that could never exist', () => h.put('/v1/groups/Support', { name: 'Support' }), 400, 'invalid_id'],
    ['a target id that could never exist', () => h.put('/v1/targets/CRM', { kind: 'webhook', name: 'CRM', url: 'https://crm.example.com/presence' }), 400, 'invalid_id'],
    ['member key for an unknown person', () => h.post('/v1/keys', { name: 'm', role: 'member', personId: 'ghost' }), 404, 'person_not_found'],
  ];

  it.each(cases)('%s', async (_name, send, status, code) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(await state()).toEqual(before);
  });

  it('a batch that failed on our side (store unavailable) may be sent again unchanged', async () => {
    const body = JSON.stringify({ events: [{ type: 'held', device: 'alice-desk', at: h.clock.now() + 5 }] });
    const ts = nowSec();
    const apply = h.hub.engine.apply.bind(h.hub.engine);
    h.hub.engine.apply = () => Promise.reject(unavailable('store_unavailable', 'the store is unavailable'));
    try {
      const failed = await signed(body, { ts });
      expect(failed.status).toBe(503);
      expect(failed.body.error.code).toBe('store_unavailable');
    } finally {
      h.hub.engine.apply = apply;
    }
    const retried = await signed(body, { ts });
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ received: 1, applied: 1 });
    expect((await h.get('/v1/presence/alice')).body.activity).toBe('on-hold');
    expect((await signed(body, { ts })).status).toBe(409);
  });

  it('a replayed PBX batch is refused and changes nothing', async () => {
    const body = JSON.stringify({ events: [{ type: 'held', device: 'alice-desk', at: h.clock.now() }] });
    const ts = nowSec();
    await signed(body, { ts }).expect(200);
    const afterFirst = await state();
    const res = await signed(body, { ts });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('replayed_request');
    expect(await state()).toEqual(afterFirst);
  });

  it('a batch refused for its content stays refused when sent again, without claiming it was accepted', async () => {
    const body = JSON.stringify({ events: [] });
    const ts = nowSec();
    expect((await signed(body, { ts })).body.error.code).toBe('invalid_body');
    const again = await signed(body, { ts });
    expect(again.status).toBe(409);
    expect(again.body.error).toEqual({ code: 'replayed_request', message: 'this signed batch was already received' });
  });
});
