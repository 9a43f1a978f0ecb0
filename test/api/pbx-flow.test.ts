import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY, seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { openStream } from '../support/sse.js';

describe('PBX events drive presence, the snapshot and the live feed', () => {
  let h: TestHub;
  let key: PbxKey;
  let base: string;
  const at = (offsetMs: number) => h.clock.now() + offsetMs;

  beforeEach(async () => {
    h = await startTestHub();
    key = await seedAlice(h);
    base = await h.listen();
  });
  afterEach(() => h.stop());

  it('answered → on-call on the snapshot and the stream; hangup → back; versions strictly increase', async () => {
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: at(-1000) }], key).expect(200);
    const stream = await openStream(`${base}/v1/stream`, ADMIN_KEY);
    const snap = await stream.waitFor((e) => e.event === 'snapshot');
    expect(snap.data.presence[0]).toMatchObject({ personId: 'alice', availability: 'available', routable: true });
    const v0 = snap.data.presence[0].version as number;

    const res = await h.pbx([{ type: 'answered', device: 'alice-desk', at: at(0), callId: 'c1' }], key).expect(200);
    expect(res.body).toMatchObject({ received: 1, applied: 1, rejected: [] });
    const onCall = await stream.waitFor((e) => e.event === 'presence' && e.data.activity === 'on-call');
    expect(onCall.data).toMatchObject({ availability: 'busy', routable: false, source: 'pbx' });
    expect(onCall.id).toBeTruthy();
    const snapshot = await h.get('/v1/presence/alice').expect(200);
    expect(snapshot.body).toMatchObject({ availability: 'busy', activity: 'on-call' });

    await h.pbx([{ type: 'hangup', device: 'alice-desk', at: at(1000), callId: 'c1' }], key).expect(200);
    const back = await stream.waitFor((e) => e.event === 'presence' && e.data.activity === 'available');
    expect(back.data.routable).toBe(true);
    const versions = stream.events.filter((e) => e.event === 'presence').map((e) => e.data.version as number);
    expect(versions[0]).toBeGreaterThan(v0);
    for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThan(versions[i - 1]!);
    stream.close();
  });

  it('ignores duplicates and events older than what is known for the same call', async () => {
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: at(-5000) }], key).expect(200);
    await h.pbx([{ type: 'hangup', device: 'alice-desk', at: at(-1000), callId: 'c1' }], key).expect(200);
    // The answer arrives after the hangup it preceded: it must not leave alice on a call.
    const late = await h.pbx([{ type: 'answered', device: 'alice-desk', at: at(-2000), callId: 'c1' }], key).expect(200);
    expect(late.body).toMatchObject({ applied: 0, ignored: 1, ignoredEvents: [{ index: 0, code: 'out_of_order' }] });
    expect((await h.get('/v1/presence/alice')).body.activity).toBe('available');
    await h.pbx([{ type: 'ringing', device: 'alice-desk', at: at(0), callId: 'c2' }], key).expect(200);
    const dup = await h.pbx([{ type: 'ringing', device: 'alice-desk', at: at(0), callId: 'c2' }], key, { timestamp: Math.floor(h.clock.now() / 1000) - 1 }).expect(200);
    expect(dup.body).toMatchObject({ applied: 0, ignored: 1, ignoredEvents: [{ index: 0, code: 'duplicate' }] });
    expect((await h.get('/v1/presence/alice')).body.activity).toBe('ringing');
  });

  it('a reconnecting client with Last-Event-ID receives exactly what it missed', async () => {
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: at(-1000) }], key).expect(200);
    const first = await openStream(`${base}/v1/stream`, ADMIN_KEY);
    await first.waitFor((e) => e.event === 'snapshot');
    await h.pbx([{ type: 'ringing', device: 'alice-desk', at: at(0), callId: 'c1' }], key).expect(200);
    const seen = await first.waitFor((e) => e.event === 'presence' && e.data.activity === 'ringing');
    first.close();

    await h.pbx([{ type: 'answered', device: 'alice-desk', at: at(1000), callId: 'c1' }], key).expect(200);
    await h.pbx([{ type: 'held', device: 'alice-desk', at: at(2000), callId: 'c1' }], key).expect(200);

    const again = await openStream(`${base}/v1/stream`, ADMIN_KEY, seen.id);
    await again.waitFor((e) => e.event === 'presence' && e.data.activity === 'on-hold');
    expect(again.events.map((e) => [e.event, e.data.activity])).toEqual([
      ['presence', 'on-call'],
      ['presence', 'on-hold'],
    ]);
    // An unknown id (e.g. from before a restart) gets a fresh snapshot instead of a silent gap.
    const stale = await openStream(`${base}/v1/stream`, ADMIN_KEY, 'deadbeef-1');
    const snap = await stale.waitFor((e) => e.event === 'snapshot');
    expect(snap.data.presence[0].activity).toBe('on-hold');
    again.close();
    stale.close();
  });

  it('a queue call ends in wrap-up for the configured seconds, then the person is available again', async () => {
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: at(-1000) }], key).expect(200);
    await h.pbx([{ type: 'answered', device: 'alice-desk', at: at(0) }], key).expect(200);
    await h.pbx([{ type: 'hangup', device: 'alice-desk', at: at(0), queue: 'support', wrapUpSeconds: 30 }], key).expect(200);
    expect((await h.get('/v1/presence/alice')).body).toMatchObject({ activity: 'wrap-up', until: new Date(h.clock.now() + 30_000).toISOString() });
    await h.clock.advance(29_999);
    expect((await h.get('/v1/presence/alice')).body.activity).toBe('wrap-up');
    await h.clock.advance(1);
    expect((await h.get('/v1/presence/alice')).body.activity).toBe('available');
  });

  it('events by extension and DND from the phone', async () => {
    await h.pbx([{ type: 'registered', extension: '1001', at: at(-1000) }], key).expect(200);
    expect((await h.get('/v1/presence/alice')).body.endpoints).toEqual([{ id: 'ext-1001', kind: 'desk', contact: 'sip:alice@example.test' }]);
    await h.pbx([{ type: 'dnd-on', extension: '1001', at: at(0) }], key).expect(200);
    expect((await h.get('/v1/presence/alice')).body).toMatchObject({ availability: 'dnd', activity: 'dnd' });
    await h.pbx([{ type: 'dnd-off', extension: '1001', at: at(1) }], key).expect(200);
    expect((await h.get('/v1/presence/alice')).body).toMatchObject({ availability: 'available' });
    const r = await h.pbx([{ type: 'registered', extension: '9999', at: at(2) }, { type: 'registered', device: 'nope', at: at(2) }], key).expect(200);
    expect(r.body.rejected.map((x: { code: string }) => x.code)).toEqual(['unknown_extension', 'unknown_device']);
  });

  it('refuses an event timed in epoch seconds instead of applying it as a fact from 1970', async () => {
    const r = await h.pbx([{ type: 'ringing', device: 'alice-desk', at: Math.floor(at(0) / 1000) }, { type: 'registered', device: 'alice-desk', at: at(0) }], key).expect(200);
    expect(r.body).toEqual({
      received: 2,
      applied: 1,
      ignored: 0,
      ignoredEvents: [],
      rejected: [{ index: 0, code: 'at_in_seconds', message: 'at looks like epoch seconds: send epoch milliseconds or RFC 3339' }],
    });
    expect((await h.get('/v1/presence/alice')).body.activity).toBe('available');
  });
});

describe('a team stream follows who is in the team', () => {
  let h: TestHub;
  let key: PbxKey;
  let base: string;

  beforeEach(async () => {
    h = await startTestHub();
    key = await seedAlice(h);
    base = await h.listen();
  });
  afterEach(() => h.stop());

  it('says `removed` once when a member it showed has left the team, and shows them again when they are back', async () => {
    const person = { name: 'Alice', extension: '1001', sipUri: 'sip:alice@example.test' };
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() }], key).expect(200);
    const stream = await openStream(`${base}/v1/stream?team=support`, ADMIN_KEY);
    const snap = await stream.waitFor((e) => e.event === 'snapshot');
    expect(snap.data.presence.map((p: { personId: string }) => p.personId)).toEqual(['alice']);

    await h.put('/v1/people/alice', { ...person, teams: ['sales'] }).expect(200);
    const removed = await stream.waitFor((e) => e.event === 'removed');
    expect(removed.data).toEqual({ personId: 'alice' });
    // Changes of someone outside the team show nothing.
    await h.clock.advance(1000);
    await h.pbx([{ type: 'ringing', device: 'alice-desk', at: h.clock.now(), callId: 'c1' }], key).expect(200);
    await h.clock.advance(1000);
    await h.pbx([{ type: 'hangup', device: 'alice-desk', at: h.clock.now(), callId: 'c1' }], key).expect(200);

    await h.put('/v1/people/alice', { ...person, teams: ['support'] }).expect(200);
    await stream.waitFor((e) => e.event === 'presence' && e.data.activity === 'available');
    await h.clock.advance(1000);
    await h.pbx([{ type: 'ringing', device: 'alice-desk', at: h.clock.now(), callId: 'c2' }], key).expect(200);
    await stream.waitFor((e) => e.event === 'presence' && e.data.activity === 'ringing');
    expect(stream.events.filter((e) => e.event === 'removed')).toHaveLength(1);
    expect(stream.events.filter((e) => e.event === 'presence').map((e) => e.data.activity)).toEqual(['available', 'ringing']);
    stream.close();
  });
});
