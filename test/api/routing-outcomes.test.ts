import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { seedMembers } from '../support/routing.js';

const MIN = 60_000;

describe('call outcomes from the PBX update routing state', () => {
  let h: TestHub;
  let pbx: PbxKey;
  const route = (group: string) => h.post('/v1/route', { group, dryRun: true }).expect(200).then((r) => r.body);
  const names = (b: { ring: Array<{ personId: string }> }) => b.ring.map((r) => r.personId);
  /** A call from `queue` answered now and ended `minutes` later (the clock moves on). */
  async function queueCall(who: string, minutes: number, queue?: string, callId = `${who}-${h.clock.now()}`) {
    await h.pbx([{ type: 'answered', device: `${who}-desk`, at: h.clock.now(), callId, ...(queue ? { queue } : {}) }], pbx).expect(200);
    await h.clock.advance(minutes * MIN);
    await h.pbx([{ type: 'hangup', device: `${who}-desk`, at: h.clock.now(), callId, ...(queue ? { queue } : {}) }], pbx).expect(200);
  }

  beforeEach(async () => {
    h = await startTestHub({ now: '2026-03-02T09:30:00Z' });
    pbx = await seedMembers(h, [{ id: 'alice' }, { id: 'bob' }, { id: 'carol' }]);
    const members = [{ personId: 'alice' }, { personId: 'bob' }, { personId: 'carol' }];
    await h.put('/v1/groups/support', { name: 'Support', extension: '2000', timeZone: 'Europe/Berlin', strategy: 'fewest-calls', wrapUpSeconds: 45, members }).expect(201);
    await h.put('/v1/groups/idle', { name: 'Idle', strategy: 'longest-idle', members }).expect(201);
  });
  afterEach(() => h.stop());

  it("a queue call ends in the group's wrap-up (the PBX may name the group by id or extension), then the member is back", async () => {
    await queueCall('alice', 2, '2000');
    const presence = (await h.get('/v1/presence/alice')).body;
    expect(presence).toMatchObject({ activity: 'wrap-up', until: '2026-03-02T09:32:45.000Z' });
    const during = await route('support');
    expect(during.leftOut).toEqual([expect.objectContaining({ personId: 'alice', code: 'wrap-up', reason: 'wrap-up until 10:32:45 (PBX)' })]);
    await h.clock.advance(45_000);
    expect(names(await route('support'))).toContain('alice');
  });

  it('a queue call that rang out at a member starts no wrap-up: it was never their call, so the next call rings them', async () => {
    await h.pbx([{ type: 'ringing', device: 'carol-desk', at: h.clock.now(), callId: 'missed', queue: 'support' }], pbx).expect(200);
    await h.clock.advance(20_000);
    await h.pbx([{ type: 'hangup', device: 'carol-desk', at: h.clock.now(), callId: 'missed', queue: 'support', wrapUpSeconds: 30 }], pbx).expect(200);
    // Without a call id too: the hang-up ends every call of the phone, none of them answered.
    await h.pbx([{ type: 'ringing', device: 'bob-desk', at: h.clock.now() }, { type: 'hangup', device: 'bob-desk', at: h.clock.now() + 1, queue: '2000' }], pbx).expect(200);
    expect((await h.get('/v1/presence/carol')).body.activity).toBe('available');
    expect((await h.get('/v1/presence/bob')).body.activity).toBe('available');
    expect(names(await route('support'))).toEqual(['alice', 'bob', 'carol']);
  });

  it('the PBX may still set the wrap-up itself, and a queue that is not a group uses the tenant default', async () => {
    await h.put('/v1/tenant', { name: 'Acme', settings: { wrapUpSeconds: 10 } }).expect(200);
    await h.pbx([{ type: 'answered', device: 'bob-desk', at: h.clock.now() - 1000, callId: 'b1' }, { type: 'hangup', device: 'bob-desk', at: h.clock.now(), callId: 'b1', queue: 'support', wrapUpSeconds: 5 }], pbx).expect(200);
    expect((await h.get('/v1/presence/bob')).body.until).toBe('2026-03-02T09:30:05.000Z');
    await h.pbx([{ type: 'answered', device: 'carol-desk', at: h.clock.now() - 1000 }, { type: 'hangup', device: 'carol-desk', at: h.clock.now(), queue: 'other-pbx-queue' }], pbx).expect(200);
    expect((await h.get('/v1/presence/carol')).body.until).toBe('2026-03-02T09:30:10.000Z');
  });

  it("a wrap-up the PBX set itself is the group's wrap-up for that call too: routing rings the member when presence says they are free", async () => {
    await h.pbx([{ type: 'answered', device: 'bob-desk', at: h.clock.now() - 60_000, callId: 'b1' }, { type: 'hangup', device: 'bob-desk', at: h.clock.now(), callId: 'b1', queue: 'support', wrapUpSeconds: 5 }], pbx).expect(200);
    expect((await route('support')).leftOut).toEqual([expect.objectContaining({ personId: 'bob', code: 'wrap-up', reason: 'wrap-up until 10:30:05 (PBX)' })]);
    await h.clock.advance(5_000);
    expect((await h.get('/v1/presence/bob')).body.activity).toBe('available');
    // Not the group's 45 s: the PBX said this call's wrap-up was 5 s.
    expect(names(await route('support'))).toContain('bob');
    // No wrap-up at all (the agent went straight back to ready): rung at once.
    await h.pbx([{ type: 'answered', device: 'carol-desk', at: h.clock.now() - 60_000, callId: 'c1' }, { type: 'hangup', device: 'carol-desk', at: h.clock.now(), callId: 'c1', queue: 'support', wrapUpSeconds: 0 }], pbx).expect(200);
    expect((await route('support')).leftOut).toEqual([]);
    // The next call without a wrap-up of its own is back to the group's.
    await h.clock.advance(MIN);
    await queueCall('carol', 1, 'support');
    expect((await route('support')).leftOut).toEqual([expect.objectContaining({ personId: 'carol', code: 'wrap-up', reason: 'wrap-up until 10:32:50 (PBX)' })]);
    expect((await h.hub.routingState.readGroup('acme', 'support')).members.carol).not.toHaveProperty('wrapUpSeconds');
  });

  it('"ready" by hand after a queue call ends its wrap-up for presence and routing alike; "available" set before the call does not', async () => {
    // Alice said "available" at the start of her shift; the queue call she then took still ends in wrap-up.
    await h.put('/v1/people/alice/status', { activity: 'available' }).expect(200);
    await h.clock.advance(MIN);
    await queueCall('alice', 2, 'support');
    expect((await h.get('/v1/presence/alice')).body).toMatchObject({ activity: 'wrap-up', until: '2026-03-02T09:33:45.000Z' });
    expect((await route('support')).leftOut).toEqual([expect.objectContaining({ personId: 'alice', code: 'wrap-up' })]);
    // Ten seconds later she presses "ready": available everywhere, and routing offers her the next call.
    await h.clock.advance(10_000);
    expect((await h.put('/v1/people/alice/status', { activity: 'available' }).expect(200)).body).toMatchObject({ availability: 'available', activity: 'available' });
    expect((await route('support')).leftOut).toEqual([]);
    expect(names(await route('support'))).toContain('alice');
    // Her next queue call ends in wrap-up again: the "ready" was for the call before.
    await h.clock.advance(MIN);
    await queueCall('alice', 1, 'support');
    expect((await h.get('/v1/presence/alice')).body.activity).toBe('wrap-up');
    expect((await route('support')).leftOut).toEqual([expect.objectContaining({ personId: 'alice', code: 'wrap-up' })]);
  });

  it('fewest calls counts completed calls from the group today, in the group zone', async () => {
    await queueCall('alice', 1, 'support');
    await queueCall('alice', 1, 'support');
    await queueCall('bob', 1, 'support');
    // A direct call and a call that rang out do not count.
    await queueCall('carol', 1);
    await h.pbx([{ type: 'ringing', device: 'carol-desk', at: h.clock.now(), callId: 'missed', queue: 'support' }], pbx).expect(200);
    await h.pbx([{ type: 'hangup', device: 'carol-desk', at: h.clock.now() + 1, callId: 'missed', queue: 'support' }], pbx).expect(200);
    await h.clock.advance(MIN);
    expect(names(await route('support'))).toEqual(['carol', 'bob', 'alice']);
    const state = await h.hub.routingState.readGroup('acme', 'support');
    expect(Object.fromEntries(Object.entries(state.members).map(([id, m]) => [id, m.callsToday]))).toEqual({ alice: 2, bob: 1 });
    // A repeated hangup is not a second call.
    const last = state.members.bob!.lastCallEndAt!;
    await h.pbx([{ type: 'hangup', device: 'bob-desk', at: last, queue: 'support' }], pbx).expect(200);
    expect((await h.hub.routingState.readGroup('acme', 'support')).members.bob!.callsToday).toBe(1);
    // Midnight in Berlin is 23:00Z: a new day, nobody has had a call.
    await h.clock.advanceTo('2026-03-02T23:00:00Z');
    expect(names(await route('support'))).toEqual(['alice', 'bob', 'carol']);
  });

  it('longest idle rings whoever finished their last call longest ago, direct calls included', async () => {
    await queueCall('alice', 1, 'idle');
    await queueCall('bob', 1);
    await queueCall('carol', 1, 'idle');
    expect(names(await route('idle'))).toEqual(['alice', 'bob', 'carol']);
    await queueCall('alice', 1);
    expect(names(await route('idle'))).toEqual(['bob', 'carol', 'alice']);
  });

  it("predicts when someone on a call is free from their typical call length so far", async () => {
    await queueCall('alice', 2);
    await queueCall('alice', 4);
    await h.pbx([{ type: 'answered', device: 'alice-desk', at: h.clock.now(), callId: 'third' }], pbx).expect(200);
    await h.clock.advance(MIN);
    const r = await route('idle');
    const start = h.clock.now() - MIN;
    expect(r.leftOut).toEqual([expect.objectContaining({ personId: 'alice', code: 'on-call', predictedFreeAt: new Date(start + 3 * MIN).toISOString() })]);
    const agent = (await h.hub.routingState.readAgents('acme', ['alice'])).get('alice');
    expect(agent).toMatchObject({ talkMs: 6 * MIN, talkCalls: 2, callId: 'third' });
  });

  it('an offer in flight ends when the call is answered', async () => {
    await h.post('/v1/route', { group: 'idle' }).expect(200);
    expect((await h.hub.routingState.readGroup('acme', 'idle')).members.alice!.offers).toHaveLength(1);
    await h.pbx([{ type: 'answered', device: 'alice-desk', at: h.clock.now(), callId: 'x', queue: 'idle' }], pbx).expect(200);
    expect((await h.hub.routingState.readGroup('acme', 'idle')).members.alice!.offers).toEqual([]);
  });
});
