import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Signal } from '../../shared/domain/signal.js';
import { startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { firstRung, seedMembers } from '../support/routing.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** A calendar fact as the Outlook connector will report it. */
const outlookMeeting = (from: number, until: number): Signal => ({
  id: `outlook:evt:${from}`,
  source: 'outlook',
  claim: { kind: 'calendar', activity: 'in-meeting' },
  observedAt: from - HOUR,
  from,
  until,
});

describe('POST /v1/route: presence-aware ring lists', () => {
  let h: TestHub;
  let pbx: PbxKey;
  const route = (body: unknown, key?: string) => h.post('/v1/route', body, key).expect(200).then((r) => r.body);
  const names = (list: Array<{ personId: string }>) => list.map((x) => x.personId);

  beforeEach(async () => {
    h = await startTestHub(); // Monday 2 March 2026, 09:30Z
    pbx = await seedMembers(h, [{ id: 'alice' }, { id: 'bob' }, { id: 'carol' }]);
    await h
      .put('/v1/groups/support', {
        name: 'Support',
        extension: '2000',
        timeZone: 'Europe/Berlin',
        strategy: 'simultaneous',
        members: [{ personId: 'alice' }, { personId: 'bob' }],
        fallback: [{ type: 'queue', maxWaitSeconds: 3600 }, { type: 'voicemail', box: '2000', uri: 'sip:vm-2000@192.0.2.99' }],
      })
      .expect(201);
  });
  afterEach(() => h.stop());

  it('with alice on a call and bob available it rings bob only, and alice again once she hangs up', async () => {
    await h.pbx([{ type: 'answered', device: 'alice-desk', at: h.clock.now(), callId: 'c1' }], pbx).expect(200);
    const busy = await route({ dialled: '2000', caller: '+4930999' });
    expect(busy).toMatchObject({ status: 'ringing', strategy: 'simultaneous', target: { kind: 'group', id: 'support', timeZone: 'Europe/Berlin' } });
    expect(busy.ring).toEqual([
      { step: 0, personId: 'bob', name: 'Bob', priority: 0, ringTimeoutSeconds: 20, contacts: [{ endpointId: 'bob-desk', kind: 'desk', uri: 'sip:bob@192.0.2.10' }] },
    ]);
    expect(busy.leftOut).toEqual([
      { personId: 'alice', name: 'Alice', code: 'on-call', reason: 'on a call since 10:30 (PBX)', availability: 'busy', activity: 'on-call', source: 'pbx' },
    ]);
    await h.clock.advance(2 * MIN);
    await h.pbx([{ type: 'hangup', device: 'alice-desk', at: h.clock.now(), callId: 'c1' }], pbx).expect(200);
    expect(names((await route({ dialled: '2000' })).ring)).toEqual(['alice', 'bob']);
  });

  it('a member in DND leaves the group and comes back by itself when it ends', async () => {
    const until = new Date(h.clock.now() + 30 * MIN).toISOString();
    await h.put('/v1/people/bob/status', { activity: 'dnd', until }).expect(200);
    const during = await route({ group: 'support' });
    expect(names(during.ring)).toEqual(['alice']);
    expect(during.leftOut).toContainEqual(expect.objectContaining({ personId: 'bob', code: 'dnd', reason: 'DND until 11:00 (manual)', until }));
    await h.clock.advance(30 * MIN);
    expect(names((await route({ group: 'support' })).ring)).toEqual(['alice', 'bob']);
  });

  it('a member in a meeting leaves the group and comes back by itself when it ends; a group may keep them', async () => {
    const now = h.clock.now();
    await h.hub.engine.apply('acme', 'alice', [{ op: 'put', signal: outlookMeeting(now - 30 * MIN, now + 30 * MIN) }]);
    const during = await route({ group: 'support' });
    expect(names(during.ring)).toEqual(['bob']);
    expect(during.leftOut).toEqual([expect.objectContaining({ personId: 'alice', code: 'in-meeting', reason: 'in meeting until 11:00 (Outlook)', predictedFreeAt: '2026-03-02T10:00:00.000Z' })]);
    // The queue's hint is when the first busy member is expected to be free.
    expect(during.fallback[0]).toEqual({ type: 'queue', maxWaitSeconds: 3600, predictedWaitSeconds: 1800 });

    const group = (await h.get('/v1/groups/support')).body;
    await h.put('/v1/groups/support', { ...group, id: undefined, tenantId: undefined, leaveWhen: { dnd: true, meeting: false } }).expect(200);
    const kept = await route({ group: 'support' });
    expect(kept.ring).toContainEqual(expect.objectContaining({ personId: 'alice', note: 'rings during meetings in this group' }));
    await h.put('/v1/groups/support', { ...group, id: undefined, tenantId: undefined }).expect(200);

    await h.clock.advance(30 * MIN);
    expect(names((await route({ group: 'support' })).ring)).toEqual(['alice', 'bob']);
  });

  it('outside opening hours the after-hours chain applies, worded in the group zone', async () => {
    await h
      .put('/v1/groups/hotline', {
        name: 'Hotline',
        timeZone: 'Europe/Berlin',
        members: [{ personId: 'carol' }],
        schedule: { weekly: { mon: [['08:00', '17:00']], tue: [['08:00', '17:00']], wed: [['08:00', '17:00']] }, holidays: [{ date: '2026-03-03', name: 'Staff day' }] },
        fallback: [{ type: 'voicemail', box: 'hotline' }],
        afterHours: [{ type: 'forward', number: '+4915112345678', label: 'duty phone' }, { type: 'hangup', message: 'We are closed' }],
      })
      .expect(201);
    expect(await route({ group: 'hotline' })).toMatchObject({ status: 'ringing', open: true, scheduleChangesAt: '2026-03-02T16:00:00.000Z' });
    await h.clock.advanceTo('2026-03-02T16:00:00Z');
    const evening = await route({ group: 'hotline' });
    expect(evening).toMatchObject({
      status: 'closed',
      open: false,
      closedReason: 'closed: outside opening hours; opens Wed 08:00',
      scheduleChangesAt: '2026-03-04T07:00:00.000Z',
      ring: [],
      leftOut: [],
      fallback: [{ type: 'forward', number: '+4915112345678', label: 'duty phone' }, { type: 'hangup', message: 'We are closed', sipCode: 480 }],
    });
    await h.clock.advanceTo('2026-03-03T09:00:00Z');
    expect((await route({ group: 'hotline' })).closedReason).toBe('closed: Staff day (holiday); opens Wed 08:00');
  });

  it('a dry run at a future instant reflects known calendar transitions and changes no state', async () => {
    await h.put('/v1/groups/rr', { name: 'RR', strategy: 'round-robin', members: [{ personId: 'alice' }, { personId: 'bob' }, { personId: 'carol' }] }).expect(201);
    const now = h.clock.now();
    await h.hub.engine.apply('acme', 'bob', [{ op: 'put', signal: outlookMeeting(now + 90 * MIN, now + 150 * MIN) }]);
    await h.put('/v1/people/carol/status', { activity: 'dnd', until: new Date(now + 60 * MIN).toISOString() }).expect(200);
    const live = await route({ group: 'rr' });
    expect(names(live.ring)).toEqual(['alice', 'bob']);
    const before = await h.hub.routingState.readGroup('acme', 'rr');
    expect(before.pointer).toBe('alice');

    const at = new Date(now + 120 * MIN).toISOString();
    const later = await route({ group: 'rr', at });
    expect(later).toMatchObject({ at, dryRun: true });
    // Bob's meeting has started by then and carol's DND has ended.
    expect(names(later.ring)).toEqual(['carol', 'alice']);
    expect(later.leftOut).toEqual([expect.objectContaining({ personId: 'bob', code: 'in-meeting', reason: 'in meeting until 12:00 (Outlook)' })]);
    await route({ group: 'rr', at });
    await route({ group: 'rr', dryRun: true });
    expect(await h.hub.routingState.readGroup('acme', 'rr')).toEqual(before);

    // A supervisor may simulate, never move the strategy.
    const sup = (await h.post('/v1/keys', { name: 's', role: 'supervisor' }).expect(201)).body.secret;
    expect((await route({ group: 'rr' }, sup)).dryRun).toBe(true);
    expect(await h.hub.routingState.readGroup('acme', 'rr')).toEqual(before);
    // The PBX does.
    const pbxKey = (await h.post('/v1/keys', { name: 'p', role: 'pbx' }).expect(201)).body.secret;
    expect(firstRung(await route({ group: 'rr' }, pbxKey))).toBe('bob');
    expect((await h.hub.routingState.readGroup('acme', 'rr')).pointer).toBe('bob');
  });

  it('round robin rotates a backup tier too, not only the first tier', async () => {
    await h
      .put('/v1/groups/rr', { name: 'RR', strategy: 'round-robin', members: [{ personId: 'alice' }, { personId: 'bob', priority: 1 }, { personId: 'carol', priority: 1 }] })
      .expect(201);
    const calls = [];
    for (let i = 0; i < 4; i++) calls.push(names((await route({ group: 'rr' })).ring));
    // Alice, alone in the first tier, is offered every call first; the calls that reach the backups are shared.
    expect(calls).toEqual([
      ['alice', 'bob', 'carol'],
      ['alice', 'carol', 'bob'],
      ['alice', 'bob', 'carol'],
      ['alice', 'carol', 'bob'],
    ]);
  });

  it('a dry run assumes registered phones stay registered', async () => {
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now(), expiresSec: 60 }], pbx).expect(200);
    const later = await route({ group: 'support', at: new Date(h.clock.now() + 2 * HOUR).toISOString() });
    expect(names(later.ring)).toEqual(['alice', 'bob']);
  });

  it('refuses instants in the past or too far ahead', async () => {
    const past = await h.post('/v1/route', { group: 'support', at: '2026-03-02T09:00:00Z' }).expect(422);
    expect(past.body.error.code).toBe('instant_in_past');
    expect((await h.post('/v1/route', { group: 'support', at: '2026-05-02T09:00:00Z' }).expect(422)).body.error.code).toBe('instant_too_far');
    expect((await h.post('/v1/route', { group: 'support', person: 'alice' }).expect(400)).body.error.code).toBe('invalid_body');
    await h.post('/v1/route', { dialled: '9999' }).expect(404);
  });

  it('matches required skills from the call and the group', async () => {
    await h.put('/v1/people/bob', { name: 'Bob', extension: '1002', skills: { french: 3 } }).expect(200);
    const r = await route({ group: 'support', skills: { french: 2 } });
    expect(names(r.ring)).toEqual(['bob']);
    expect(r.leftOut).toEqual([expect.objectContaining({ personId: 'alice', code: 'missing-skill', reason: 'lacks skill french' })]);
    expect(names((await route({ group: 'support', skills: ['french'] })).ring)).toEqual(['bob']);
    // The group's own requirement holds whatever the call asks for.
    const g = (await h.get('/v1/groups/support')).body;
    await h.put('/v1/groups/support', { ...g, id: undefined, tenantId: undefined, requiredSkills: { french: 3 } }).expect(200);
    expect(names((await route({ group: 'support', skills: { french: 1 } })).ring)).toEqual(['bob']);
    await h.put('/v1/people/bob', { name: 'Bob', extension: '1002', skills: { french: 2 } }).expect(200);
    expect((await route({ group: 'support', skills: { french: 1 } })).ring).toEqual([]);
  });

  it('follows the overflow group when nobody here can answer', async () => {
    await h.put('/v1/groups/sales', { name: 'Sales', strategy: 'sequential', members: [{ personId: 'carol' }] }).expect(201);
    await h.put('/v1/groups/support', { name: 'Support', extension: '2000', members: [{ personId: 'alice' }, { personId: 'bob' }], fallback: [{ type: 'overflow', groupId: 'sales' }, { type: 'hangup', message: 'Sorry' }] }).expect(200);
    for (const who of ['alice', 'bob']) await h.put(`/v1/people/${who}/status`, { activity: 'dnd' }).expect(200);
    const r = await route({ dialled: '2000' });
    expect(r).toMatchObject({ status: 'fallback', ring: [] });
    expect(r.fallback).toEqual([
      { type: 'overflow', groupId: 'sales', name: 'Sales', strategy: 'sequential', ring: [expect.objectContaining({ personId: 'carol', step: 0 })] },
      { type: 'hangup', message: 'Sorry', sipCode: 480 },
    ]);
    await h.put('/v1/people/carol/status', { activity: 'away' }).expect(200);
    expect((await route({ dialled: '2000' })).fallback[0]).toMatchObject({ ring: [], skipped: 'nobody in Sales can take the call' });
  });

  it('words a closed overflow group in the zone of the group that was called, like the rest of the answer', async () => {
    const weekdays = Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri'].map((d) => [d, [['08:00', '20:00']]]));
    await h.put('/v1/groups/us', { name: 'US', timeZone: 'America/New_York', members: [{ personId: 'carol' }], schedule: { weekly: weekdays } }).expect(201);
    await h.put('/v1/groups/support', { name: 'Support', timeZone: 'Europe/Berlin', members: [{ personId: 'alice' }], fallback: [{ type: 'overflow', groupId: 'us' }] }).expect(200);
    // 10:30 in Berlin is 04:30 in New York, where US opens at 08:00: 14:00 in Berlin.
    expect((await route({ group: 'support' })).fallback[0]).toMatchObject({ type: 'overflow', ring: [], skipped: 'US is closed: outside opening hours; opens 14:00' });
    expect((await route({ group: 'us' })).closedReason).toBe('closed: outside opening hours; opens 08:00');
    // After the US change to summer time (8 March) and before Berlin's (29 March), New York is five hours behind.
    await h.clock.advanceTo('2026-03-10T06:00:00Z');
    expect((await route({ group: 'support' })).fallback[0]).toMatchObject({ skipped: 'US is closed: outside opening hours; opens 13:00' });
  });

  it('routes a dialled person to all their reachable devices, in the person zone', async () => {
    await h.put('/v1/people/alice/devices/alice-soft', { kind: 'softphone', contact: 'sip:alice-soft@192.0.2.20' }).expect(201);
    await h.pbx([{ type: 'registered', device: 'alice-soft', at: h.clock.now() }], pbx).expect(200);
    const r = await route({ dialled: '1001' });
    expect(r).toMatchObject({ target: { kind: 'person', id: 'alice', timeZone: 'UTC' }, status: 'ringing' });
    expect(r.ring[0].contacts.map((c: { uri: string }) => c.uri)).toEqual(['sip:alice@192.0.2.10', 'sip:alice-soft@192.0.2.20']);
    await h.put('/v1/people/alice/status', { activity: 'dnd' }).expect(200);
    const rt = await h.post('/v1/route?format=rtjson', { dialled: '1001' }).expect(200);
    expect(rt.body).toMatchObject({ routes: [], step_sizes: '', hangup_code: 480, status: 'fallback' });
  });

  it('lets the PBX, administrators and supervisors ask, and shows a sensitive member only as busy to the PBX', async () => {
    await h.put('/v1/people/alice', { name: 'Alice', extension: '1001', sensitive: true }).expect(200);
    const now = h.clock.now();
    await h.hub.engine.apply('acme', 'alice', [{ op: 'put', signal: outlookMeeting(now - MIN, now + HOUR) }]);
    const keys = Object.fromEntries(
      await Promise.all(
        (['pbx', 'external'] as const).map(async (role) => [role, (await h.post('/v1/keys', { name: role, role }).expect(201)).body.secret as string] as const),
      ),
    );
    const member = (await h.post('/v1/keys', { name: 'm', role: 'member', personId: 'bob' }).expect(201)).body.secret;
    const asPbx = await route({ group: 'support' }, keys.pbx);
    expect(asPbx.leftOut).toEqual([{ personId: 'alice', name: 'Alice', code: 'busy', reason: 'busy', availability: 'busy' }]);
    // The queue's hint would give away her meeting's end: none.
    expect(asPbx.fallback[0]).toEqual({ type: 'queue', maxWaitSeconds: 3600 });
    expect((await route({ group: 'support' })).fallback[0]).toEqual({ type: 'queue', maxWaitSeconds: 3600, predictedWaitSeconds: 3600 });
    expect((await route({ group: 'support' })).leftOut[0]).toMatchObject({ code: 'in-meeting', source: 'outlook' });
    expect((await h.post('/v1/route', { group: 'support' }, member).expect(403)).body.error.code).toBe('forbidden_role');
    expect((await h.post('/v1/route', { group: 'support' }, keys.external).expect(403)).body.error).toEqual({
      code: 'forbidden_role',
      message: 'external keys may not use this route',
    });
  });

  it("tells a supervisor neither a sensitive member's reachable endpoints nor that they ring despite a meeting", async () => {
    await h.put('/v1/people/alice', { name: 'Alice', extension: '1001', sensitive: true }).expect(200);
    const group = (await h.get('/v1/groups/support')).body;
    await h.put('/v1/groups/support', { ...group, id: undefined, tenantId: undefined, leaveWhen: { dnd: true, meeting: false } }).expect(200);
    const now = h.clock.now();
    await h.hub.engine.apply('acme', 'alice', [{ op: 'put', signal: outlookMeeting(now - MIN, now + HOUR) }]);
    const keys = Object.fromEntries(
      await Promise.all((['pbx', 'supervisor'] as const).map(async (role) => [role, (await h.post('/v1/keys', { name: role, role }).expect(201)).body.secret as string] as const)),
    );
    const alice = async (key?: string) => (await route({ group: 'support' }, key)).ring.find((r: { personId: string }) => r.personId === 'alice');
    const desk = [{ endpointId: 'alice-desk', kind: 'desk', uri: 'sip:alice@192.0.2.10' }];
    // Their presence views show her availability only: the ring list must not tell more.
    expect(await alice(keys.supervisor)).toEqual({ step: 0, personId: 'alice', name: 'Alice', priority: 0, ringTimeoutSeconds: 20, contacts: [] });
    // The PBX rings her, so it gets her contacts, but not that she is in a meeting.
    expect(await alice(keys.pbx)).toEqual({ step: 0, personId: 'alice', name: 'Alice', priority: 0, ringTimeoutSeconds: 20, contacts: desk });
    expect(await alice()).toEqual({ step: 0, personId: 'alice', name: 'Alice', priority: 0, ringTimeoutSeconds: 20, contacts: desk, note: 'rings during meetings in this group' });
    // Bob is not sensitive: a supervisor sees where he would be rung.
    expect((await route({ group: 'support' }, keys.supervisor)).ring.find((r: { personId: string }) => r.personId === 'bob').contacts).toHaveLength(1);
  });

  it('answers the rtjson document, with mobile numbers through the tenant gateway', async () => {
    await h.put('/v1/tenant', { name: 'Acme', settings: { pstnGateway: 'gw.example.test' } }).expect(200);
    await h.put('/v1/people/bob/devices/bob-phone', { kind: 'mobile', contact: '+4917000000' }).expect(201);
    const rt = await h.post('/v1/route?format=rtjson', { group: 'support' }).expect(200);
    expect(rt.body).toEqual({
      version: '1.0',
      routing: 'serial',
      routes: [
        { uri: 'sip:alice@192.0.2.10', fr_inv_timer: 20_000, fr_timer: 5_000, step: 0, kind: 'member', person: 'alice' },
        { uri: 'sip:bob@192.0.2.10', fr_inv_timer: 20_000, fr_timer: 5_000, step: 0, kind: 'member', person: 'bob' },
        { uri: 'sip:vm-2000@192.0.2.99', fr_inv_timer: 30_000, fr_timer: 5_000, step: 1, kind: 'voicemail' },
      ],
      step_sizes: '2,1',
      max_lifetime_ms: 82_000,
      status: 'ringing',
      target: 'support',
    });
    expect((await h.post('/v1/route?format=xml', { group: 'support' }).expect(400)).body.error.code).toBe('invalid_query');
  });
});

describe('fairness under 100 concurrent route requests', () => {
  let h: TestHub;
  const team = ['ann', 'ben', 'cat', 'dan', 'eve'];
  beforeEach(async () => {
    h = await startTestHub();
    await seedMembers(h, team.map((id) => ({ id })));
  });
  afterEach(() => h.stop());

  async function spread(strategy: string): Promise<Record<string, number>> {
    await h.put(`/v1/groups/${strategy}`, { name: strategy, strategy, members: team.map((personId) => ({ personId })) }).expect(201);
    const answers = await Promise.all(Array.from({ length: 100 }, () => h.post('/v1/route', { group: strategy }).expect(200)));
    const counts: Record<string, number> = {};
    for (const a of answers) {
      const first = firstRung(a.body)!;
      counts[first] = (counts[first] ?? 0) + 1;
      expect(a.body.ring).toHaveLength(5);
    }
    return counts;
  }

  const even = Object.fromEntries(team.map((id) => [id, 20]));
  it('round robin gives each member the first ring 20 times', async () => {
    expect(await spread('round-robin')).toEqual(even);
  });
  it('longest idle gives each member the first ring 20 times', async () => {
    expect(await spread('longest-idle')).toEqual(even);
  });
  it('fewest calls gives each member the first ring 20 times', async () => {
    expect(await spread('fewest-calls')).toEqual(even);
  });
  it('sequential always starts at the top, by design', async () => {
    expect(await spread('sequential')).toEqual({ ann: 100 });
  });
});
