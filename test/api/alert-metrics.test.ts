import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OPERATOR_KEY, seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { series } from '../support/metrics.js';

describe('the metrics behind the alerts (k8s/monitoring/): silent sources, endpoints and people going offline', () => {
  let h: TestHub;
  let key: PbxKey;
  const scrape = async () => (await h.http.get('/metrics').expect(200)).text;

  beforeEach(async () => {
    h = await startTestHub();
    key = await seedAlice(h);
  });
  afterEach(() => h.stop());

  it('stamps each source with the instant its last signal arrived, per tenant', async () => {
    expect(series(await scrape(), 'presence_source_last_signal_timestamp_seconds', { tenant: 'acme', source: 'pbx' })).toBeUndefined();
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() }], key).expect(200);
    const first = h.clock.now();
    await h.clock.advance(90_000);
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    const text = await scrape();
    expect(series(text, 'presence_source_last_signal_timestamp_seconds', { tenant: 'acme', source: 'pbx' })).toBe(first / 1000);
    expect(series(text, 'presence_source_last_signal_timestamp_seconds', { tenant: 'acme', source: 'manual' })).toBe(h.clock.now() / 1000);
    // An event ignored as old still shows the PBX is talking to us.
    await h.clock.advance(60_000);
    const old = await h.pbx([{ type: 'registered', device: 'alice-desk', at: first - 1 }], key).expect(200);
    expect(old.body).toMatchObject({ applied: 0, ignored: 1 });
    expect(series(await scrape(), 'presence_source_last_signal_timestamp_seconds', { tenant: 'acme', source: 'pbx' })).toBe(h.clock.now() / 1000);
  });

  it('counts an endpoint lost by kind, and a person going offline only when nothing is left', async () => {
    const dev = await h.put('/v1/people/alice/devices/alice-phone', { kind: 'mobile' }).expect(201);
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() }], key).expect(200);
    await h.http.post('/v1/heartbeat').set('Authorization', `Bearer ${dev.body.token as string}`).send({ state: 'foreground' }).expect(200);
    expect((await h.get('/v1/presence/alice').expect(200)).body.endpoints).toHaveLength(2);

    await h.pbx([{ type: 'unregistered', device: 'alice-desk', at: h.clock.now() + 1 }], key).expect(200);
    let text = await scrape();
    expect(series(text, 'presence_endpoints_lost_total', { tenant: 'acme', kind: 'desk' })).toBe(1);
    expect(series(text, 'presence_went_offline_total', { tenant: 'acme' })).toBe(0);

    // The app falls silent: the scheduler takes its endpoint away at the TTL, and alice is offline.
    await h.clock.advance(h.config.heartbeat.foregroundTtlMs);
    expect((await h.get('/v1/presence/alice').expect(200)).body.availability).toBe('offline');
    text = await scrape();
    expect(series(text, 'presence_endpoints_lost_total', { tenant: 'acme', kind: 'mobile' })).toBe(1);
    expect(series(text, 'presence_endpoints_lost_total', { tenant: 'acme', kind: 'desk' })).toBe(1);
    expect(series(text, 'presence_went_offline_total', { tenant: 'acme' })).toBe(1);
  });

  it('does not count endpoints an admin removed (token revoked, device deleted, person deleted), nor people left with none as going offline; a silent app still counts', async () => {
    const beat = (token: string) => h.http.post('/v1/heartbeat').set('Authorization', `Bearer ${token}`).send({ state: 'foreground' }).expect(200);
    const apps: Record<string, string> = {};
    for (const id of ['alice', 'bob', 'carol']) {
      if (id !== 'alice') await h.put(`/v1/people/${id}`, { name: id }).expect(201);
      apps[id] = (await h.put(`/v1/people/${id}/devices/${id}-phone`, { kind: 'mobile' }).expect(201)).body.token as string;
      await beat(apps[id]);
    }
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() }], key).expect(200);
    expect((await h.get('/v1/presence/alice').expect(200)).body.endpoints).toHaveLength(2);

    // Offboarding: a lost phone's token revoked, a desk phone taken away, a leaver deleted.
    await h.del('/v1/people/alice/devices/alice-phone/token').expect(204);
    await h.del('/v1/people/alice/devices/alice-desk').expect(204);
    expect((await h.get('/v1/presence/alice').expect(200)).body.endpoints).toEqual([]);
    await h.del('/v1/people/bob').expect(204);
    let text = await scrape();
    for (const kind of ['desk', 'mobile']) expect(series(text, 'presence_endpoints_lost_total', { tenant: 'acme', kind }), kind).toBe(0);
    expect(series(text, 'presence_went_offline_total', { tenant: 'acme' })).toBe(0);

    // Carol's app falls silent: the scheduler takes its endpoint away at the TTL.
    await h.clock.advance(h.config.heartbeat.foregroundTtlMs);
    expect((await h.get('/v1/presence/carol').expect(200)).body.availability).toBe('offline');
    text = await scrape();
    expect(series(text, 'presence_endpoints_lost_total', { tenant: 'acme', kind: 'mobile' })).toBe(1);
    expect(series(text, 'presence_went_offline_total', { tenant: 'acme' })).toBe(1);
  });

  it('does not count a person never seen before as going offline', async () => {
    await h.put('/v1/people/bob', { name: 'Bob' }).expect(201);
    await h.put('/v1/people/bob/devices/bob-desk', { kind: 'desk' }).expect(201);
    await h.pbx([{ type: 'unregistered', device: 'bob-desk', at: h.clock.now() }], key).expect(200);
    expect((await h.get('/v1/presence/bob').expect(200)).body.availability).toBe('offline');
    const text = await scrape();
    expect(series(text, 'presence_went_offline_total', { tenant: 'acme' }) ?? 0).toBe(0);
    expect(series(text, 'presence_endpoints_lost_total', { tenant: 'acme', kind: 'desk' }) ?? 0).toBe(0);
  });

  it('does not count the end of working hours as going offline (off-work shows as offline)', async () => {
    await h.put('/v1/people/alice', { name: 'Alice', timeZone: 'Europe/Berlin', workingHours: { mon: [['08:00', '18:00']] } }).expect(200);
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() }], key).expect(200);
    expect((await h.get('/v1/presence/alice').expect(200)).body.availability).toBe('available');
    // 18:00 in Berlin (CET) is 17:00Z.
    await h.clock.advanceTo('2026-03-02T17:00:00Z');
    expect((await h.get('/v1/presence/alice').expect(200)).body).toMatchObject({ availability: 'offline', activity: 'off-work' });
    expect(series(await scrape(), 'presence_went_offline_total', { tenant: 'acme' }) ?? 0).toBe(0);
    // Off work, a phone unregistering is not an outage of people who take calls either.
    await h.pbx([{ type: 'unregistered', device: 'alice-desk', at: h.clock.now() }], key).expect(200);
    const text = await scrape();
    expect(series(text, 'presence_endpoints_lost_total', { tenant: 'acme', kind: 'desk' })).toBe(1);
    expect(series(text, 'presence_went_offline_total', { tenant: 'acme' }) ?? 0).toBe(0);
  });

  it("exposes every tenant's counters at 0 from the first scrape, since increase() ignores a series' first sample", async () => {
    const text = await scrape();
    for (const kind of ['desk', 'softphone', 'mobile']) expect(series(text, 'presence_endpoints_lost_total', { tenant: 'acme', kind }), kind).toBe(0);
    expect(series(text, 'presence_went_offline_total', { tenant: 'acme' })).toBe(0);
    for (const provider of ['microsoft', 'google']) {
      for (const outcome of ['full', 'incremental', 'error']) expect(series(text, 'presence_calendar_syncs_total', { tenant: 'acme', provider, outcome }), `${provider} ${outcome}`).toBe(0);
    }
  });

  it("drops a deleted tenant's sources, so the silent-source alert does not fire for it", async () => {
    const other = await h.http.post('/v1/tenants').set('Authorization', `Bearer ${OPERATOR_KEY}`).send({ id: 'globex', name: 'Globex' }).expect(201);
    const globex = other.body.adminKey.secret as string;
    await h.put('/v1/people/carol/status', { activity: 'away' }, globex).expect(404);
    await h.put('/v1/people/carol', { name: 'Carol' }, globex).expect(201);
    await h.put('/v1/people/carol/status', { activity: 'away' }, globex).expect(200);
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() }], key).expect(200);
    expect(series(await scrape(), 'presence_source_last_signal_timestamp_seconds', { tenant: 'globex', source: 'manual' })).toBe(h.clock.now() / 1000);
    const before = await scrape();
    expect(series(before, 'presence_went_offline_total', { tenant: 'globex' })).toBe(0);
    expect(series(before, 'presence_calendar_syncs_total', { tenant: 'globex', provider: 'google', outcome: 'error' })).toBe(0);
    await h.http.delete('/v1/tenants/globex').set('Authorization', `Bearer ${OPERATOR_KEY}`).expect(204);
    const text = await scrape();
    expect(series(text, 'presence_source_last_signal_timestamp_seconds', { tenant: 'globex', source: 'manual' })).toBeUndefined();
    expect(series(text, 'presence_went_offline_total', { tenant: 'globex' })).toBeUndefined();
    expect(series(text, 'presence_endpoints_lost_total', { tenant: 'globex', kind: 'desk' })).toBeUndefined();
    expect(series(text, 'presence_calendar_syncs_total', { tenant: 'globex', provider: 'google', outcome: 'error' })).toBeUndefined();
    expect(series(text, 'presence_source_last_signal_timestamp_seconds', { tenant: 'acme', source: 'pbx' })).toBe(h.clock.now() / 1000);
  });
});
