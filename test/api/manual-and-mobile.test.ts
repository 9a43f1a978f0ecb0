import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';

describe('manual status and mobile heartbeats, driven by the scheduler under a fake clock', () => {
  let h: TestHub;
  let key: PbxKey;

  beforeEach(async () => {
    h = await startTestHub({ now: '2026-03-02T09:30:00Z' });
    key = await seedAlice(h, { timeZone: 'Europe/Berlin', workingHours: { mon: [['08:00', '18:00']] } });
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() - 1000 }], key).expect(200);
  });
  afterEach(() => h.stop());

  const presence = async () => (await h.get('/v1/presence/alice').expect(200)).body;

  it('manual DND with until gives dnd, and at until the computed state returns exactly then', async () => {
    const res = await h.put('/v1/people/alice/status', { activity: 'dnd', until: '2026-03-02T10:15:00Z' }).expect(200);
    expect(res.body).toMatchObject({ availability: 'dnd', activity: 'dnd', until: '2026-03-02T10:15:00.000Z', source: 'manual' });
    expect(res.body.next).toEqual({ at: '2026-03-02T10:15:00.000Z', availability: 'available', activity: 'available' });
    const timersBefore = h.clock.timers;
    await h.clock.advanceTo('2026-03-02T10:14:59.999Z');
    expect((await presence()).activity).toBe('dnd');
    await h.clock.advanceTo('2026-03-02T10:15:00Z');
    const after = await presence();
    expect(after).toMatchObject({ availability: 'available', activity: 'available', since: '2026-03-02T10:15:00.000Z' });
    // One timer per transition, no polling loop.
    expect(timersBefore).toBeLessThanOrEqual(1);
  });

  it('clearing the manual status returns to the computed state', async () => {
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    expect((await presence()).activity).toBe('away');
    await h.del('/v1/people/alice/status').expect(200);
    expect((await presence()).activity).toBe('available');
  });

  it('until the end of the working day, in the person’s zone', async () => {
    const res = await h.put('/v1/people/alice/status', { activity: 'break', until: 'end-of-working-day' }).expect(200);
    // 18:00 Berlin (CET, UTC+1) is 17:00Z.
    expect(res.body.until).toBe('2026-03-02T17:00:00.000Z');
    await h.clock.advanceTo('2026-03-02T17:00:00Z');
    expect(await presence()).toMatchObject({ activity: 'off-work', availability: 'offline' });
  });

  it('until the end of the working day: after a lunch break, not at it; a night shift ends in the morning', async () => {
    const lunch = { mon: [['08:00', '12:00'], ['13:00', '18:00']] };
    await h.put('/v1/people/alice', { name: 'Alice', extension: '1001', timeZone: 'Europe/Berlin', workingHours: lunch }).expect(200);
    const res = await h.put('/v1/people/alice/status', { activity: 'dnd', until: 'end-of-working-day' }).expect(200);
    // 18:00 Berlin, not 12:00: after lunch she would be rung again although she is off for the day.
    expect(res.body.until).toBe('2026-03-02T17:00:00.000Z');
    const pause = await h.put('/v1/people/alice/queue-pause', { until: 'end-of-working-day' }).expect(200);
    expect(pause.body.until).toBe('2026-03-02T17:00:00.000Z');
    // From Monday 22:00 to Tuesday 06:00, then Tuesday's shift from 22:00: the day ends at 06:00.
    const nights = { mon: [['22:00', '24:00']], tue: [['00:00', '06:00'], ['22:00', '24:00']] };
    await h.put('/v1/people/alice', { name: 'Alice', extension: '1001', timeZone: 'Europe/Berlin', workingHours: nights }).expect(200);
    await h.clock.advanceTo('2026-03-02T23:00:00Z');
    const night = await h.put('/v1/people/alice/status', { activity: 'dnd', until: 'end-of-working-day' }).expect(200);
    expect(night.body.until).toBe('2026-03-03T05:00:00.000Z');
  });

  it('until the end of the working day is refused, saying why, for someone with no working hours', async () => {
    await h.put('/v1/people/alice', { name: 'Alice', extension: '1001' }).expect(200);
    const r = await h.put('/v1/people/alice/status', { activity: 'dnd', until: 'end-of-working-day' }).expect(422);
    // Not "outside working hours now": without any she is never off work.
    expect(r.body.error).toEqual({ code: 'no_working_hours', message: 'the person has no working hours, so their working day has no end' });
  });

  it('until the end of the current meeting; refused when there is none', async () => {
    const r = await h.put('/v1/people/alice/status', { activity: 'available', until: 'end-of-current-meeting' }).expect(422);
    expect(r.body.error.code).toBe('no_current_meeting');
    const now = h.clock.now();
    await h.hub.engine.apply('acme', 'alice', [
      { op: 'put', signal: { id: 'outlook:evt:1', source: 'outlook', claim: { kind: 'calendar', activity: 'in-meeting' }, observedAt: now, from: now - 60_000, until: now + 30 * 60_000 } },
    ]);
    const ok = await h.put('/v1/people/alice/status', { activity: 'available', until: 'end-of-current-meeting' }).expect(200);
    expect(ok.body).toMatchObject({ activity: 'available', until: new Date(now + 30 * 60_000).toISOString() });
  });

  it('refuses activities that only phones or calendars report, and unknown custom reasons', async () => {
    for (const activity of ['on-call', 'ringing', 'lunch']) {
      const r = await h.put('/v1/people/alice/status', { activity }).expect(422);
      expect(r.body.error.code).toBe('unknown_activity');
    }
    await h.put('/v1/tenant', { name: 'Acme', policy: { activities: { lunch: 'away' } } }).expect(200);
    expect((await h.put('/v1/people/alice/status', { activity: 'lunch' }).expect(200)).body).toMatchObject({ availability: 'away', activity: 'lunch' });
    // The refusal says what may be set: a member's key cannot read the tenant's activity table.
    expect((await h.put('/v1/people/alice/status', { activity: 'busy' }).expect(422)).body.error).toEqual({
      code: 'unknown_activity',
      message: 'busy cannot be set by hand; one of: available, away, break, dnd, focus, in-meeting, out-of-office, off-work, lunch',
    });
  });

  it('mobile heartbeats keep the app reachable; silence past the TTL makes it unreachable at the TTL', async () => {
    await h.pbx([{ type: 'unregistered', device: 'alice-desk', at: h.clock.now() }], key).expect(200);
    expect((await presence()).availability).toBe('offline');
    const dev = await h.put('/v1/people/alice/devices/alice-phone', { kind: 'mobile', contact: '+4930555' }).expect(201);
    const token = dev.body.token as string;
    expect(token).toMatch(/^phd_/);
    const hb = async (state = 'foreground') =>
      h.http.post('/v1/heartbeat').set('Authorization', `Bearer ${token}`).send({ state }).expect(200);

    const first = await hb();
    const ttl = h.config.heartbeat.foregroundTtlMs;
    expect(first.body).toEqual({ accepted: true, reachableUntil: new Date(h.clock.now() + ttl).toISOString(), reachableForMs: ttl, ignoredFields: [], ignoredFieldCount: 0 });
    expect(await presence()).toMatchObject({ availability: 'available', routable: true, endpoints: [{ id: 'alice-phone', kind: 'mobile', contact: '+4930555' }] });
    await h.clock.advance(ttl / 2);
    await hb();
    const lastBeat = h.clock.now();
    await h.clock.advanceTo(lastBeat + ttl - 1);
    expect((await presence()).routable).toBe(true);
    await h.clock.advanceTo(lastBeat + ttl);
    const after = await presence();
    expect(after).toMatchObject({ availability: 'offline', routable: false, endpoints: [], since: new Date(lastBeat + ttl).toISOString() });
  });

  it('a background app lives for the background TTL; a revoked token is refused and unreachable at once', async () => {
    const dev = await h.put('/v1/people/alice/devices/alice-phone', { kind: 'mobile' }).expect(201);
    const token = dev.body.token as string;
    await h.http.post('/v1/heartbeat').set('Authorization', `Bearer ${token}`).send({ state: 'background' }).expect(200);
    await h.clock.advance(h.config.heartbeat.foregroundTtlMs + 1);
    expect((await presence()).endpoints.map((e: { id: string }) => e.id)).toContain('alice-phone');
    await h.del('/v1/people/alice/devices/alice-phone/token').expect(204);
    expect((await presence()).endpoints.map((e: { id: string }) => e.id)).not.toContain('alice-phone');
    const r = await h.http.post('/v1/heartbeat').set('Authorization', `Bearer ${token}`).send({ state: 'foreground' }).expect(401);
    expect(r.body.error.code).toBe('invalid_device_token');
  });

  it('a newer app\'s heartbeat with fields this version does not know is accepted, and the answer names them', async () => {
    const token = (await h.put('/v1/people/alice/devices/alice-phone', { kind: 'mobile' }).expect(201)).body.token as string;
    const beat = (body: unknown) => h.http.post('/v1/heartbeat').set('Authorization', `Bearer ${token}`).send(body as object);
    const res = await beat({ state: 'background', battery: 0.42, network: { type: 'wifi' } }).expect(200);
    const ttl = h.config.heartbeat.backgroundTtlMs;
    expect(res.body).toEqual({ accepted: true, reachableUntil: new Date(h.clock.now() + ttl).toISOString(), reachableForMs: ttl, ignoredFields: ['battery', 'network'], ignoredFieldCount: 2 });
    expect((await presence()).endpoints).toContainEqual(expect.objectContaining({ id: 'alice-phone', kind: 'mobile' }));
    // What is stored is what this version understands: the unknown fields are not kept anywhere.
    expect(JSON.stringify((await h.hub.engine.read('acme', 'alice')).signals)).not.toMatch(/battery|wifi/);
    // Known fields keep their types and values; a missing state is still refused.
    for (const bad of [{ state: 'driving', battery: 1 }, { state: 1 }, { battery: 1 }]) {
      const r = await beat(bad).expect(400);
      expect(r.body.error.code).toBe('invalid_body');
    }
    // However many unknown fields a body has, the answer names the first 20 (long names cut) and counts them all.
    const many = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`f${i}`, i]));
    const long = 'x'.repeat(5000);
    const bounded = (await beat({ [long]: 1, state: 'foreground', ...many }).expect(200)).body;
    expect(bounded.ignoredFieldCount).toBe(10_001);
    expect(bounded.ignoredFields).toEqual([`${'x'.repeat(100)}…`, ...Array.from({ length: 19 }, (_, i) => `f${i}`)]);
    expect(JSON.stringify(bounded).length).toBeLessThan(1000);
    // The device record and the directory stay strict: a misspelt field there would silently drop what it meant.
    for (const [path, body] of [['/v1/people/alice/devices/alice-phone', { kind: 'mobile', contcat: '+4930555' }], ['/v1/people/alice', { name: 'Alice', extenstion: '1001' }]] as const) {
      expect((await h.put(path, body).expect(400)).body.error.code).toBe('invalid_body');
    }
  });
});
