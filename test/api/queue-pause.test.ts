import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeWith } from '../support/components.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import { sharedRedis } from '../support/redis.js';
import { seedMembers } from '../support/routing.js';
import type { QueuePause } from '../../shared/domain/queue-pause.js';
import { answerWhileWaiting, type Answer } from '../support/turn-wait.js';

const MIN = 60_000;

/**
 * Queue-only DND: a paused person leaves group and queue ring lists (all, or the groups named) and
 * comes back by themself at `until`, while calls dialled to them still ring. On either store.
 */
function queuePauses(start: () => Promise<TestHub>): void {
  let h: TestHub;
  let keys: { alice: string; bob: string; supervisor: string };
  const route = (body: unknown) => h.post('/v1/route', body).expect(200).then((r) => r.body);
  const rung = (d: { ring: Array<{ personId: string }> }) => [...new Set(d.ring.map((r) => r.personId))];
  const stored = () => h.hub.store.directory.get('queuePauses', 'acme', 'alice');

  const answer = (req: PromiseLike<Answer>, release?: () => Promise<unknown>) => answerWhileWaiting(h, req, release);

  beforeEach(async () => {
    h = await start(); // Monday 2 March 2026, 09:30Z
    await seedMembers(h, [{ id: 'alice' }, { id: 'bob' }, { id: 'carol', sensitive: true }]);
    const group = (id: string, name: string, extension: string) =>
      h
        .put(`/v1/groups/${id}`, {
          name,
          extension,
          timeZone: 'Europe/Berlin',
          members: [{ personId: 'alice' }, { personId: 'bob' }, { personId: 'carol' }],
          fallback: [{ type: 'queue', maxWaitSeconds: 600 }, { type: 'voicemail', box: extension }],
        })
        .expect(201);
    await group('support', 'Support', '2000');
    await group('sales', 'Sales', '3000');
    const key = async (role: string, personId?: string) => (await h.post('/v1/keys', { name: role, role, ...(personId ? { personId } : {}) }).expect(201)).body.secret as string;
    keys = { alice: await key('member', 'alice'), bob: await key('member', 'bob'), supervisor: await key('supervisor') };
  });
  afterEach(() => h.stop());

  it('a member pauses themself: left out of every group with the reason, still rung when dialled, back at until', async () => {
    const until = new Date(h.clock.now() + 30 * MIN).toISOString();
    const set = await h.put('/v1/people/alice/queue-pause', { until, reason: 'training' }, keys.alice).expect(200);
    expect(set.body).toEqual({ personId: 'alice', since: '2026-03-02T09:30:00.000Z', until: '2026-03-02T10:00:00.000Z', reason: 'training', setBy: 'self' });
    expect((await h.get('/v1/people/alice/queue-pause', keys.alice).expect(200)).body).toEqual(set.body);

    for (const group of ['support', 'sales']) {
      const d = await route({ group });
      expect(rung(d)).toEqual(['bob', 'carol']);
      expect(d.leftOut).toEqual([{ personId: 'alice', name: 'Alice', code: 'paused', reason: 'paused from group calls until 11:00 (training)', until, predictedFreeAt: until }]);
    }
    // Her presence is untouched, and a call to her own extension rings her.
    expect((await h.get('/v1/presence/alice').expect(200)).body).toMatchObject({ availability: 'available', routable: true });
    expect(rung(await route({ dialled: '1001' }))).toEqual(['alice']);
    // A dry run after the pause ends: she is back; so she is once the instant comes, with nothing to clear.
    expect(rung(await route({ group: 'support', at: '2026-03-02T10:00:00Z' }))).toEqual(['alice', 'bob', 'carol']);
    await h.clock.advanceTo(Date.parse(until));
    expect(rung(await route({ group: 'support' }))).toEqual(['alice', 'bob', 'carol']);
    expect((await h.get('/v1/people/alice/queue-pause', keys.alice).expect(404)).body.error.code).toBe('queue_pause_not_found');
  });

  it('a pause for some groups leaves the others ringing, and clearing it brings the person back at once', async () => {
    await h.put('/v1/people/bob/queue-pause', { groups: ['sales'] }, keys.supervisor).expect(200);
    expect(rung(await route({ group: 'sales' }))).toEqual(['alice', 'carol']);
    expect(rung(await route({ group: 'support' }))).toEqual(['alice', 'bob', 'carol']);
    expect((await h.get('/v1/people/bob/queue-pause', keys.bob).expect(200)).body).toMatchObject({ groups: ['sales'], setBy: 'supervisor' });
    // The person may end what a supervisor set.
    await h.del('/v1/people/bob/queue-pause', keys.bob).expect(204);
    expect(rung(await route({ group: 'sales' }))).toEqual(['alice', 'bob', 'carol']);
    await h.del('/v1/people/bob/queue-pause', keys.bob).expect(204);
  });

  it('an overflow group leaves out who paused from it, by its own id', async () => {
    await h
      .put('/v1/groups/front', { name: 'Front desk', timeZone: 'Europe/Berlin', members: [{ personId: 'carol' }], fallback: [{ type: 'overflow', groupId: 'sales' }] })
      .expect(201);
    await h.put('/v1/people/carol/queue-pause', { groups: ['front'] }).expect(200);
    await h.put('/v1/people/bob/queue-pause', { groups: ['sales'] }).expect(200);
    const d = await route({ group: 'front' });
    expect(d.status).toBe('fallback');
    expect(d.fallback[0]).toMatchObject({ type: 'overflow', groupId: 'sales' });
    expect(rung(d.fallback[0])).toEqual(['alice', 'carol']);
  });

  it('the queue waits for a pause with an end, not for one without', async () => {
    await h.put('/v1/people/alice/queue-pause', { until: new Date(h.clock.now() + 5 * MIN).toISOString() }).expect(200);
    await h.put('/v1/people/bob/queue-pause', {}).expect(200);
    await h.put('/v1/people/carol/queue-pause', {}).expect(200);
    const d = await route({ group: 'support' });
    expect(d.status).toBe('fallback');
    expect(d.fallback[0]).toEqual({ type: 'queue', maxWaitSeconds: 600, predictedWaitSeconds: 300 });
    // In DND for longer than her pause: she is free when both have ended.
    await h.put('/v1/people/alice/status', { activity: 'dnd', until: new Date(h.clock.now() + 8 * MIN).toISOString() }).expect(200);
    expect((await route({ group: 'support' })).fallback[0]).toEqual({ type: 'queue', maxWaitSeconds: 600, predictedWaitSeconds: 480 });
    await h.del('/v1/people/alice/status').expect(200);
    await h.del('/v1/people/alice/queue-pause').expect(204);
    await h.put('/v1/people/alice/queue-pause', {}).expect(200);
    expect((await route({ group: 'support' })).fallback[0]).toEqual({ type: 'queue', maxWaitSeconds: 600, skipped: 'nobody in the group is expected to become free' });
  });

  it("a sensitive person's pause shows neither its end nor its reason", async () => {
    await h.put('/v1/people/carol/queue-pause', { until: new Date(h.clock.now() + 30 * MIN).toISOString(), reason: 'doctor' }).expect(200);
    const d = (await h.post('/v1/route', { group: 'support', dryRun: true }, keys.supervisor).expect(200)).body;
    expect(d.leftOut).toEqual([{ personId: 'carol', name: 'Carol', code: 'paused', reason: 'paused from group calls' }]);
  });

  it('until the end of the current meeting: a meeting set by hand counts as a calendar one does, for the pause and the manual status alike', async () => {
    // "In meeting until 10:30" from a manual status, no calendar connected.
    const end = '2026-03-02T10:30:00.000Z';
    await h.put('/v1/people/alice/status', { activity: 'in-meeting', until: end }).expect(200);
    expect((await h.get('/v1/presence/alice')).body).toMatchObject({ activity: 'in-meeting', until: end });
    expect((await h.put('/v1/people/alice/queue-pause', { until: 'end-of-current-meeting' }).expect(200)).body.until).toBe(end);
    expect((await h.put('/v1/people/alice/status', { activity: 'dnd', until: 'end-of-current-meeting' }).expect(200)).body).toMatchObject({ activity: 'dnd', until: end });
    // Without an end there is nothing to wait for; nor when the meeting is over.
    await h.put('/v1/people/bob/status', { activity: 'in-meeting' }).expect(200);
    expect((await h.put('/v1/people/bob/queue-pause', { until: 'end-of-current-meeting' }).expect(422)).body.error.code).toBe('no_current_meeting');
    await h.clock.advance(61 * MIN);
    expect((await h.put('/v1/people/alice/queue-pause', { until: 'end-of-current-meeting' }).expect(422)).body.error.code).toBe('no_current_meeting');
  });

  it('until may be the end of the working day; members may pause only themselves; bad input changes nothing', async () => {
    await h.put('/v1/people/bob', { name: 'Bob', extension: '1002', timeZone: 'Europe/Berlin', workingHours: { mon: [['09:00', '17:00']] } }).expect(200);
    const eod = await h.put('/v1/people/bob/queue-pause', { until: 'end-of-working-day' }, keys.bob).expect(200);
    expect(eod.body.until).toBe('2026-03-02T16:00:00.000Z');

    const refused = async (req: Promise<{ status: number; body: { error: { code: string } } }>, status: number, code: string) => {
      const res = await req;
      expect(res.status, code).toBe(status);
      expect(res.body.error.code).toBe(code);
    };
    await refused(h.put('/v1/people/bob/queue-pause', { reason: 'mine' }, keys.alice), 403, 'not_your_person');
    await refused(h.del('/v1/people/bob/queue-pause', keys.alice), 403, 'not_your_person');
    await refused(h.get('/v1/people/bob/queue-pause', keys.alice), 403, 'not_your_person');
    await refused(h.put('/v1/people/bob/queue-pause', { groups: ['nope'] }), 422, 'unknown_group');
    await refused(h.put('/v1/people/bob/queue-pause', { until: '2026-03-02T09:00:00Z' }), 422, 'until_in_past');
    await refused(h.put('/v1/people/alice/queue-pause', { until: 'end-of-current-meeting' }), 422, 'no_current_meeting');
    await refused(h.put('/v1/people/bob/queue-pause', { groups: ['sales', 'sales'] }), 400, 'invalid_body');
    await refused(h.put('/v1/people/bob/queue-pause', { paused: true }), 400, 'invalid_body');
    await refused(h.put('/v1/people/nobody/queue-pause', {}), 404, 'person_not_found');
    expect((await h.get('/v1/people/bob/queue-pause').expect(200)).body).toEqual(eod.body);
    expect((await h.get('/v1/people/alice/queue-pause').expect(404)).body.error.code).toBe('queue_pause_not_found');
  });

  it('one group at a time: pause from one more group or let back into one, keeping the rest of the pause', async () => {
    const groupsOf = async () => (await h.get('/v1/people/alice/queue-pause').expect(200)).body;
    await h.put('/v1/people/alice/queue-pause/groups/support', {}, keys.supervisor).expect(200);
    expect(await groupsOf()).toMatchObject({ groups: ['support'], setBy: 'supervisor' });
    await h.put('/v1/people/alice/queue-pause/groups/sales', {}, keys.alice).expect(200);
    await h.put('/v1/people/alice/queue-pause/groups/sales', {}, keys.alice).expect(200);
    // Still the supervisor's pause, now from both.
    expect(await groupsOf()).toMatchObject({ groups: ['support', 'sales'], setBy: 'supervisor' });
    expect(rung(await route({ group: 'sales' }))).toEqual(['bob', 'carol']);
    await h.del('/v1/people/alice/queue-pause/groups/support', keys.alice).expect(204);
    expect(await groupsOf()).toMatchObject({ groups: ['sales'] });
    expect(rung(await route({ group: 'support' }))).toEqual(['alice', 'bob', 'carol']);
    await h.del('/v1/people/alice/queue-pause/groups/sales', keys.alice).expect(204);
    await h.get('/v1/people/alice/queue-pause').expect(404);
    await h.del('/v1/people/alice/queue-pause/groups/sales', keys.alice).expect(204);

    // Paused from every group, with an end and a reason: one more group changes nothing; letting her back
    // into one keeps the pause for her other groups.
    const until = new Date(h.clock.now() + 60 * MIN).toISOString();
    await h.put('/v1/people/alice/queue-pause', { until, reason: 'training' }).expect(200);
    expect((await h.put('/v1/people/alice/queue-pause/groups/support', {}).expect(200)).body).not.toHaveProperty('groups');
    await h.del('/v1/people/alice/queue-pause/groups/support').expect(204);
    expect(await groupsOf()).toEqual({ personId: 'alice', since: '2026-03-02T09:30:00.000Z', until, exceptGroups: ['support'], reason: 'training', setBy: 'admin' });
    expect(rung(await route({ group: 'support' }))).toEqual(['alice', 'bob', 'carol']);
    expect(rung(await route({ group: 'sales' }))).toEqual(['bob', 'carol']);
    // Still a pause from every group but that one: a group she joins later is covered too.
    await h.put('/v1/groups/billing', { name: 'Billing', extension: '4000', timeZone: 'Europe/Berlin', members: [{ personId: 'alice' }, { personId: 'bob' }] }).expect(201);
    expect(rung(await route({ group: 'billing' }))).toEqual(['bob']);
    expect((await route({ group: 'billing' })).leftOut).toEqual([expect.objectContaining({ personId: 'alice', code: 'paused' })]);
    // Pausing her from that group again takes the exception back.
    await h.put('/v1/people/alice/queue-pause/groups/support', {}).expect(200);
    expect(await groupsOf()).toEqual({ personId: 'alice', since: '2026-03-02T09:30:00.000Z', until, reason: 'training', setBy: 'admin' });
    expect(rung(await route({ group: 'support' }))).toEqual(['bob', 'carol']);
    await h.del('/v1/people/alice/queue-pause/groups/support').expect(204);

    const refused = async (req: Promise<{ status: number; body: { error: { code: string } } }>, status: number, code: string) => {
      const res = await req;
      expect(res.status, code).toBe(status);
      expect(res.body.error.code).toBe(code);
    };
    await refused(h.put('/v1/people/alice/queue-pause/groups/nope', {}), 404, 'group_not_found');
    await refused(h.del('/v1/people/alice/queue-pause/groups/nope'), 404, 'group_not_found');
    await refused(h.put('/v1/people/alice/queue-pause/groups/support', {}, keys.bob), 403, 'not_your_person');
    await refused(h.del('/v1/people/nobody/queue-pause/groups/support'), 404, 'person_not_found');
    expect(await groupsOf()).toMatchObject({ exceptGroups: ['support'], reason: 'training' });
    // Let back into every group she is in, the pause still covers the next one she joins.
    await h.del('/v1/people/alice/queue-pause/groups/sales').expect(204);
    await h.del('/v1/people/alice/queue-pause/groups/billing').expect(204);
    expect(await groupsOf()).toMatchObject({ exceptGroups: ['support', 'sales', 'billing'] });
    expect(rung(await route({ group: 'sales' }))).toEqual(['alice', 'bob', 'carol']);
    await h.put('/v1/groups/front', { name: 'Front desk', extension: '5000', timeZone: 'Europe/Berlin', members: [{ personId: 'alice' }] }).expect(201);
    expect((await route({ group: 'front' })).leftOut).toEqual([expect.objectContaining({ personId: 'alice', code: 'paused' })]);
  });

  it("a supervisor sees neither the end nor the reason of a sensitive person's pause; the person and admins do", async () => {
    const carol = (await h.post('/v1/keys', { name: 'carol', role: 'member', personId: 'carol' }).expect(201)).body.secret as string;
    const until = new Date(h.clock.now() + 30 * MIN).toISOString();
    const full = { personId: 'carol', since: '2026-03-02T09:30:00.000Z', until, reason: 'doctor', setBy: 'self' };
    expect((await h.put('/v1/people/carol/queue-pause', { until, reason: 'doctor' }, carol).expect(200)).body).toEqual(full);
    expect((await h.get('/v1/people/carol/queue-pause', carol).expect(200)).body).toEqual(full);
    expect((await h.get('/v1/people/carol/queue-pause').expect(200)).body).toEqual(full);
    expect((await h.get('/v1/people/carol/queue-pause', keys.supervisor).expect(200)).body).toEqual({ personId: 'carol', since: full.since, setBy: 'self' });
    expect((await h.put('/v1/people/carol/queue-pause/groups/sales', {}, keys.supervisor).expect(200)).body).toEqual({ personId: 'carol', since: full.since, setBy: 'self' });
  });

  it('lists who is paused now, with what the caller may see of each pause', async () => {
    const until = new Date(h.clock.now() + 30 * MIN).toISOString();
    await h.put('/v1/people/alice/queue-pause', { groups: ['support'], reason: 'training', until }).expect(200);
    await h.put('/v1/people/carol/queue-pause', { reason: 'doctor' }).expect(200);
    await h.put('/v1/people/bob/queue-pause', { until: new Date(h.clock.now() + 5 * MIN).toISOString() }).expect(200);
    await h.clock.advance(6 * MIN);
    const since = '2026-03-02T09:30:00.000Z';
    const alice = { personId: 'alice', since, until, groups: ['support'], reason: 'training', setBy: 'admin' };
    // Bob's pause has ended; Carol is sensitive.
    expect((await h.get('/v1/queue-pauses', keys.supervisor).expect(200)).body.pauses).toEqual([alice, { personId: 'carol', since, setBy: 'admin' }]);
    expect((await h.get('/v1/queue-pauses').expect(200)).body.pauses).toEqual([alice, { personId: 'carol', since, reason: 'doctor', setBy: 'admin' }]);
    expect((await h.get('/v1/queue-pauses', keys.alice).expect(403)).body.error.code).toBe('forbidden_role');
  });

  it('two supervisors pausing or letting back one person in two queues at once both count', async () => {
    const groupsOf = async () => (await h.get('/v1/people/alice/queue-pause').expect(200)).body.groups as string[];
    await Promise.all([h.put('/v1/people/alice/queue-pause/groups/support', {}, keys.supervisor).expect(200), h.put('/v1/people/alice/queue-pause/groups/sales', {}).expect(200)]);
    expect((await groupsOf()).sort()).toEqual(['sales', 'support']);
    await h.put('/v1/people/alice/queue-pause', {}).expect(200);
    await Promise.all([h.del('/v1/people/alice/queue-pause/groups/support', keys.supervisor).expect(204), h.del('/v1/people/alice/queue-pause/groups/sales').expect(204)]);
    expect(((await h.get('/v1/people/alice/queue-pause').expect(200)).body.exceptGroups as string[]).sort()).toEqual(['sales', 'support']);
  });

  it("waits its turn behind another replica's change of the pause, and answers 503 queue_pause_busy if it never comes", async () => {
    const turn = 'queue-pause:acme:alice';
    expect(await h.hub.store.leases.acquire(turn, 'another-replica', 60_000, h.clock.now())).toBe(true);
    const busy = await answer(h.put('/v1/people/alice/queue-pause/groups/support', {}));
    expect(busy.status).toBe(503);
    expect(busy.body.error?.code).toBe('queue_pause_busy');
    expect(Number(busy.headers['retry-after'])).toBeGreaterThan(0);
    await h.get('/v1/people/alice/queue-pause').expect(404);
    // The other replica's change ends while this one waits: this one goes next.
    const next = await answer(h.put('/v1/people/alice/queue-pause/groups/support', {}), () => h.hub.store.leases.release(turn, 'another-replica'));
    expect(next.status).toBe(200);
    expect((await h.get('/v1/people/alice/queue-pause').expect(200)).body.groups).toEqual(['support']);
  });

  it('letting someone paused from every group back into a group they are not in yet lets them in when they join it', async () => {
    await h.put('/v1/groups/billing', { name: 'Billing', extension: '4000', timeZone: 'Europe/Berlin', members: [{ personId: 'bob' }] }).expect(201);
    await h.put('/v1/people/alice/queue-pause', {}).expect(200);
    await h.del('/v1/people/alice/queue-pause/groups/billing').expect(204);
    expect((await h.get('/v1/people/alice/queue-pause').expect(200)).body).toMatchObject({ exceptGroups: ['billing'] });
    await h.put('/v1/groups/billing', { name: 'Billing', extension: '4000', timeZone: 'Europe/Berlin', members: [{ personId: 'bob' }, { personId: 'alice' }] }).expect(200);
    expect(rung(await route({ group: 'billing' }))).toEqual(['bob', 'alice']);
    expect(rung(await route({ group: 'support' }))).toEqual(['bob', 'carol']);
  });

  it('one PUT pauses from every group but those excepted, now and for groups joined later; exceptGroups goes only with a pause from every group', async () => {
    await h.put('/v1/groups/billing', { name: 'Billing', extension: '4000', timeZone: 'Europe/Berlin', members: [{ personId: 'bob' }] }).expect(201);
    const set = await h.put('/v1/people/alice/queue-pause', { exceptGroups: ['support'], reason: 'back office' }, keys.supervisor).expect(200);
    expect(set.body).toEqual({ personId: 'alice', since: '2026-03-02T09:30:00.000Z', exceptGroups: ['support'], reason: 'back office', setBy: 'supervisor' });
    expect((await h.get('/v1/people/alice/queue-pause').expect(200)).body).toEqual(set.body);
    expect(rung(await route({ group: 'support' }))).toEqual(['alice', 'bob', 'carol']);
    expect(rung(await route({ group: 'sales' }))).toEqual(['bob', 'carol']);
    await h.put('/v1/groups/billing', { name: 'Billing', extension: '4000', timeZone: 'Europe/Berlin', members: [{ personId: 'bob' }, { personId: 'alice' }] }).expect(200);
    expect(rung(await route({ group: 'billing' }))).toEqual(['bob']);
    // Letting them back into one more group and pausing them from the excepted one keep the shape.
    await h.del('/v1/people/alice/queue-pause/groups/sales').expect(204);
    expect((await h.get('/v1/people/alice/queue-pause').expect(200)).body.exceptGroups).toEqual(['support', 'sales']);

    const before = await stored();
    const refused = async (body: unknown, status: number, code: string, path?: string) => {
      const res = await h.put('/v1/people/alice/queue-pause', body).expect(status);
      expect(res.body.error.code).toBe(code);
      if (path) expect(res.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
    };
    await refused({ groups: ['sales'], exceptGroups: ['support'] }, 400, 'invalid_body', 'exceptGroups');
    await refused({ exceptGroups: [] }, 400, 'invalid_body', 'exceptGroups');
    await refused({ exceptGroups: ['support', 'support'] }, 400, 'invalid_body', 'exceptGroups');
    await refused({ exceptGroups: ['support', 'nope'] }, 422, 'unknown_group');
    expect(await stored()).toEqual(before);
  });

  it('a pause stored before exceptions existed (a list of groups, or every group) reads and routes as before', async () => {
    await h.hub.store.directory.write([{ op: 'put', collection: 'queuePauses', doc: { tenantId: 'acme', id: 'alice', personId: 'alice', since: h.clock.now(), groups: ['sales'], setBy: 'supervisor' } }]);
    expect((await h.get('/v1/people/alice/queue-pause').expect(200)).body).toEqual({ personId: 'alice', since: '2026-03-02T09:30:00.000Z', groups: ['sales'], setBy: 'supervisor' });
    expect(rung(await route({ group: 'sales' }))).toEqual(['bob', 'carol']);
    expect(rung(await route({ group: 'support' }))).toEqual(['alice', 'bob', 'carol']);
  });

  it('deleting the person deletes their pause', async () => {
    await h.put('/v1/people/alice/queue-pause', {}).expect(200);
    await h.del('/v1/people/alice').expect(204);
    expect(await h.hub.store.directory.get('queuePauses', 'acme', 'alice')).toBeUndefined();
    await h.put('/v1/people/alice', { name: 'Alice', extension: '1001' }).expect(201);
    expect((await h.get('/v1/people/alice/queue-pause').expect(404)).body.error.code).toBe('queue_pause_not_found');
  });

  it('a person pruned by the apply file loses their pause with them', async () => {
    await h.put('/v1/people/bob/queue-pause', {}).expect(200);
    const person = (id: string, extension: string) => ({ id, name: id[0]!.toUpperCase() + id.slice(1), extension, timeZone: 'UTC', sensitive: id === 'carol' });
    const file = (people: Array<[string, string]>) => ({
      tenant: 'acme',
      people: people.map(([id, ext]) => person(id, ext)),
      groups: [{ id: 'support', name: 'Support', extension: '2000', timeZone: 'Europe/Berlin', members: people.map(([personId]) => ({ personId })) }],
    });
    const pruned = await h.post('/v1/directory/apply?prune=true', file([['alice', '1001'], ['carol', '1003']])).expect(200);
    expect(pruned.body.plan.people.deleted).toEqual(['bob']);
    expect(await h.hub.store.directory.get('queuePauses', 'acme', 'bob')).toBeUndefined();
    // Someone new under the same id starts unpaused.
    await h.post('/v1/directory/apply', file([['alice', '1001'], ['bob', '1002'], ['carol', '1003']])).expect(200);
    await h.get('/v1/people/bob/queue-pause').expect(404);
    const d = await route({ group: 'support' });
    expect(d.leftOut.find((l: { personId: string }) => l.personId === 'bob')?.code).not.toBe('paused');
  });

  /**
   * What a change leaves when its replica lost its turn while writing (stalled past its lease, so a
   * deletion went ahead) and died before its look after writing: a pause of a deleted person, or naming a
   * deleted group. Nobody sees it; someone or a group created again under that id must not inherit it.
   */
  const stray = (personId: string, over: Partial<QueuePause>) =>
    h.hub.store.directory.write([{ op: 'put', collection: 'queuePauses', doc: { tenantId: 'acme', id: personId, personId, since: h.clock.now(), setBy: 'supervisor', reason: 'stray', ...over } }]);

  it("a pause left of a deleted person (by an older version, or a replica that lost its turn mid-write) is not inherited by someone created under their id (PUT or apply)", async () => {
    await h.del('/v1/people/alice').expect(204);
    await stray('alice', {});
    expect((await h.get('/v1/queue-pauses').expect(200)).body.pauses).toEqual([]);
    await h.put('/v1/people/alice', { name: 'Alice', extension: '1001' }).expect(201);
    await h.get('/v1/people/alice/queue-pause').expect(404);
    expect(await stored()).toBeUndefined();

    const people = ['alice', 'bob', 'carol'].map((id, i) => ({ id, name: id, extension: String(1001 + i), timeZone: 'UTC' }));
    await h.post('/v1/directory/apply?prune=true', { tenant: 'acme', people: people.filter((p) => p.id !== 'bob'), groups: [] }).expect(200);
    await stray('bob', { groups: ['support'] });
    const back = await h.post('/v1/directory/apply', { tenant: 'acme', people, groups: [] }).expect(200);
    expect(back.body.plan.people.created).toEqual(['bob']);
    await h.get('/v1/people/bob/queue-pause').expect(404);
  });

  it('a stray pause naming a deleted group does not pause anyone from a group created under its id (PUT or apply)', async () => {
    const billing = { name: 'Billing', extension: '4000', timeZone: 'Europe/Berlin', members: [{ personId: 'alice' }, { personId: 'bob' }, { personId: 'carol' }] };
    await stray('alice', { groups: ['support', 'billing'] });
    await stray('bob', { groups: ['billing'] });
    await stray('carol', { exceptGroups: ['billing'] });
    await h.put('/v1/groups/billing', billing).expect(201);
    expect(await stored()).toMatchObject({ groups: ['support'], reason: 'stray' });
    expect(await h.hub.store.directory.get('queuePauses', 'acme', 'bob')).toBeUndefined();
    expect(await h.hub.store.directory.get('queuePauses', 'acme', 'carol')).not.toHaveProperty('exceptGroups');
    // Carol's exception went with the old group: paused from every group, the new one too.
    expect(rung(await route({ group: 'billing' }))).toEqual(['alice', 'bob']);

    await h.del('/v1/groups/billing').expect(204);
    await stray('bob', { groups: ['billing'] });
    const file = { tenant: 'acme', people: ['alice', 'bob', 'carol'].map((id, i) => ({ id, name: id, extension: String(1001 + i), timeZone: 'UTC' })), groups: [{ id: 'billing', ...billing }] };
    expect((await h.post('/v1/directory/apply', file).expect(200)).body.plan.groups.created).toEqual(['billing']);
    expect(await h.hub.store.directory.get('queuePauses', 'acme', 'bob')).toBeUndefined();
  });

  /** The directory as seeded, as a file for `apply` (people and groups as they are). */
  const seededFile = (extra: { people?: unknown[]; groups?: unknown[] } = {}) => {
    const members = [{ personId: 'alice' }, { personId: 'bob' }, { personId: 'carol' }];
    const group = (id: string, name: string, extension: string) => ({ id, name, extension, timeZone: 'Europe/Berlin', members, fallback: [{ type: 'queue', maxWaitSeconds: 600 }, { type: 'voicemail', box: extension }] });
    return {
      tenant: 'acme',
      people: [...['alice', 'bob', 'carol'].map((id, i) => ({ id, name: id[0]!.toUpperCase() + id.slice(1), extension: String(1001 + i), sensitive: id === 'carol', timeZone: 'UTC' })), ...(extra.people ?? [])],
      groups: [group('support', 'Support', '2000'), group('sales', 'Sales', '3000'), ...(extra.groups ?? [])],
    };
  };

  it('a live pause survives writing its person or group again: PUT person, PUT group, apply of the same file, apply creating others', async () => {
    await h.put('/v1/people/alice/queue-pause', { groups: ['support'], reason: 'training' }, keys.supervisor).expect(200);
    await h.put('/v1/people/bob/queue-pause', { exceptGroups: ['sales'] }, keys.supervisor).expect(200);
    const pauses = async () => (await h.get('/v1/queue-pauses').expect(200)).body.pauses.map((p: QueuePause) => ({ personId: p.personId, groups: p.groups, exceptGroups: p.exceptGroups }));
    const before = await pauses();
    expect(before).toHaveLength(2);

    expect((await h.put('/v1/people/alice', { name: 'Alice', extension: '1001', timeZone: 'UTC' }).expect(200)).status).toBe(200);
    expect((await h.put('/v1/people/bob', { name: 'Bob B.', extension: '1002', timeZone: 'UTC' }).expect(200)).status).toBe(200);
    const members = [{ personId: 'alice' }, { personId: 'bob' }, { personId: 'carol' }];
    await h.put('/v1/groups/support', { name: 'Support', extension: '2000', timeZone: 'Europe/Berlin', members }).expect(200);
    await h.put('/v1/groups/sales', { name: 'Sales 2', extension: '3000', timeZone: 'Europe/Berlin', members }).expect(200);
    expect(await pauses()).toEqual(before);

    for (let i = 0; i < 2; i++) {
      const plan = (await h.post('/v1/directory/apply', seededFile()).expect(200)).body.plan;
      expect([...plan.people.created, ...plan.groups.created]).toEqual([]);
      expect(await pauses()).toEqual(before);
    }
    const grown = seededFile({
      people: [{ id: 'dave', name: 'Dave', extension: '1004', timeZone: 'UTC' }],
      groups: [{ id: 'billing', name: 'Billing', extension: '4000', timeZone: 'Europe/Berlin', members }],
    });
    const plan = (await h.post('/v1/directory/apply', grown).expect(200)).body.plan;
    expect([plan.people.created, plan.groups.created]).toEqual([['dave'], ['billing']]);
    expect(await pauses()).toEqual(before);
    expect(rung(await route({ group: 'support' }))).toEqual(['carol']);
  });

  /**
   * `apply` plans what it creates from what it read first; someone created and paused meanwhile (another
   * admin, another replica) is not a stray pause of an old one, and must keep their pause.
   */
  it('apply does not clear the live pause of someone, or from a group, created and paused while it was reading', async () => {
    const docs = h.hub.store.directory;
    const list = docs.list.bind(docs);
    let meanwhile: (() => Promise<unknown>) | undefined = async () => {
      await h.put('/v1/people/dave', { name: 'Dave', extension: '1004', timeZone: 'UTC' }).expect(201);
      await h.put('/v1/groups/billing', { name: 'Billing', extension: '4000', timeZone: 'Europe/Berlin', members: [{ personId: 'alice' }, { personId: 'dave' }] }).expect(201);
      await h.put('/v1/people/dave/queue-pause', { reason: 'lunch' }, keys.supervisor).expect(200);
      await h.put('/v1/people/alice/queue-pause', { groups: ['billing'] }, keys.supervisor).expect(200);
    };
    docs.list = (async (collection: string, ...rest: unknown[]) => {
      const read = await (list as (...a: unknown[]) => Promise<unknown>)(collection, ...rest);
      if (collection === 'groups' && meanwhile) {
        const run = meanwhile;
        meanwhile = undefined;
        await run();
      }
      return read;
    }) as typeof docs.list;
    try {
      const file = seededFile({
        people: [{ id: 'dave', name: 'Dave', extension: '1004', timeZone: 'UTC' }],
        groups: [{ id: 'billing', name: 'Billing', extension: '4000', timeZone: 'Europe/Berlin', members: [{ personId: 'alice' }, { personId: 'dave' }] }],
      });
      const plan = (await h.post('/v1/directory/apply', file).expect(200)).body.plan;
      expect(meanwhile).toBeUndefined();
      expect([plan.people.created, plan.groups.created]).toEqual([['dave'], ['billing']]);
    } finally {
      docs.list = list;
    }
    expect(await h.hub.store.directory.get('queuePauses', 'acme', 'dave')).toMatchObject({ reason: 'lunch' });
    expect(await stored()).toMatchObject({ groups: ['billing'] });
    expect(rung(await route({ group: 'billing' }))).toEqual([]);
  });

  it('deleting a group takes it out of the pauses that list it; a pause left with no group ends', async () => {
    await h.put('/v1/people/alice/queue-pause', { groups: ['support', 'sales'], reason: 'training' }).expect(200);
    await h.put('/v1/people/bob/queue-pause', { groups: ['sales'] }).expect(200);
    await h.del('/v1/groups/sales').expect(204);
    expect((await h.get('/v1/people/alice/queue-pause').expect(200)).body).toMatchObject({ groups: ['support'], reason: 'training' });
    await h.get('/v1/people/bob/queue-pause').expect(404);
    // A new group under the old id is a new group: nobody is paused from it.
    await h
      .put('/v1/groups/sales', { name: 'Sales', extension: '3000', timeZone: 'Europe/Berlin', members: [{ personId: 'alice' }, { personId: 'bob' }] })
      .expect(201);
    expect(rung(await route({ group: 'sales' }))).toEqual(['alice', 'bob']);
    // The person's own pause can be changed again without naming a group that is gone.
    await h.put('/v1/people/alice/queue-pause', { groups: ['support', 'sales'] }).expect(200);
    // An exception from a pause from every group goes with its group too: a new group under that id is paused like any other.
    await h.put('/v1/people/bob/queue-pause', {}).expect(200);
    await h.del('/v1/people/bob/queue-pause/groups/sales').expect(204);
    await h.del('/v1/people/bob/queue-pause/groups/support').expect(204);
    await h.del('/v1/groups/sales').expect(204);
    expect((await h.get('/v1/people/bob/queue-pause').expect(200)).body).toMatchObject({ exceptGroups: ['support'] });
    await h.put('/v1/groups/sales', { name: 'Sales', extension: '3000', timeZone: 'Europe/Berlin', members: [{ personId: 'alice' }, { personId: 'bob' }] }).expect(201);
    await h.put('/v1/people/alice/queue-pause', { groups: ['support', 'sales'] }).expect(200);
    // Pruned by the apply file: the same.
    const file = { tenant: 'acme', people: ['alice', 'bob', 'carol'].map((id, i) => ({ id, name: id[0]!.toUpperCase() + id.slice(1), extension: String(1001 + i), timeZone: 'UTC', sensitive: id === 'carol' })), groups: [] };
    expect((await h.post('/v1/directory/apply?prune=true', file).expect(200)).body.plan.groups.deleted).toEqual(['sales', 'support']);
    await h.get('/v1/people/alice/queue-pause').expect(404);
  });

  it("deleting a group (or pruning it) waits for another replica's change of a pause that names it, and keeps that change", async () => {
    const billing = { name: 'Billing', extension: '4000', timeZone: 'Europe/Berlin', members: [{ personId: 'alice' }] };
    await h.put('/v1/groups/billing', billing).expect(201);
    const group = (name: string, extension: string) => ({
      name,
      extension,
      timeZone: 'Europe/Berlin',
      members: [{ personId: 'alice' }, { personId: 'bob' }, { personId: 'carol' }],
      fallback: [{ type: 'queue', maxWaitSeconds: 600 }, { type: 'voicemail', box: extension }],
    });
    const people = ['alice', 'bob', 'carol'].map((id, i) => ({ id, name: id[0]!.toUpperCase() + id.slice(1), extension: String(1001 + i), timeZone: 'UTC', sensitive: id === 'carol' }));
    const prune = { tenant: 'acme', people, groups: [{ id: 'support', ...group('Support', '2000') }, { id: 'billing', ...billing }] };
    const deletions = [() => h.del('/v1/groups/sales'), () => h.post('/v1/directory/apply?prune=true', prune)];
    for (const deletion of deletions) {
      expect((await h.put('/v1/groups/sales', group('Sales', '3000'))).status).toBeLessThan(300);
      await h.put('/v1/people/alice/queue-pause', { groups: ['support', 'sales'], reason: 'training' }).expect(200);
      const turn = 'queue-pause:acme:alice';
      expect(await h.hub.store.leases.acquire(turn, 'another-replica', 60_000, h.clock.now())).toBe(true);
      // In its turn, the other replica pauses her from billing too (what its one-group call writes).
      const held = (await stored())!;
      const deleted = await answer(deletion(), async () => {
        await h.hub.store.directory.write([{ op: 'put', collection: 'queuePauses', doc: { ...held, groups: [...held.groups!, 'billing'] } }]);
        await h.hub.store.leases.release(turn, 'another-replica');
      });
      expect(deleted.status).toBeLessThan(300);
      expect((await h.get('/v1/people/alice/queue-pause').expect(200)).body).toMatchObject({ groups: ['support', 'billing'], reason: 'training' });
      await h.get('/v1/groups/sales').expect(404);
    }
  });

  it('a group deletion whose turn was taken from it (the store lost its leases) deletes nothing and answers 503 queue_pause_busy', async () => {
    await h.put('/v1/people/alice/queue-pause', { groups: ['support', 'sales'] }).expect(200);
    const leases = h.hub.store.leases;
    const owners: string[] = [];
    const acquireAll = leases.acquireAll.bind(leases);
    leases.acquireAll = (keys, owner, ttlMs, now) => (owners.push(owner), acquireAll(keys, owner, ttlMs, now));
    // Held in its turn, as it reads the pauses it changes: its leases go, and another replica takes one.
    const docs = h.hub.store.directory;
    const reading = gate(docs.list.bind(docs) as typeof docs.list, (c) => c === 'queuePauses' && owners.length > 0);
    docs.list = reading.held as typeof docs.list;
    const turn = 'queue-pause:acme:alice';
    const deleted = h.del('/v1/groups/sales').then((r) => r);
    await reading.reached;
    await leases.releaseAll([turn], owners[0]!);
    expect(await leases.acquire(turn, 'another-replica', 60_000, h.clock.now())).toBe(true);
    await h.clock.advance(5_000 / 3);
    reading.release();
    expect([(await deleted).status, code(await deleted)]).toEqual([503, 'queue_pause_busy']);
    await h.get('/v1/groups/sales').expect(200);
    expect((await stored())?.groups).toEqual(['support', 'sales']);
    // Tried again once the other replica's turn is over, it goes through.
    await leases.release(turn, 'another-replica');
    await h.del('/v1/groups/sales').expect(204);
    expect((await stored())?.groups).toEqual(['support']);
  });

  it('a pause change and a group deletion at once: the group leaves the pause and the change is kept', async () => {
    await h.put('/v1/groups/billing', { name: 'Billing', extension: '4000', timeZone: 'Europe/Berlin', members: [{ personId: 'alice' }] }).expect(201);
    await h.put('/v1/people/alice/queue-pause', { groups: ['support', 'sales'] }).expect(200);
    await Promise.all([h.put('/v1/people/alice/queue-pause/groups/billing', {}).expect(200), h.del('/v1/groups/sales').expect(204)]);
    expect((await stored())?.groups).toEqual(['support', 'billing']);
    await Promise.all([h.del('/v1/groups/billing').expect(204), h.del('/v1/people/alice/queue-pause/groups/support').expect(204)]);
    expect(await stored()).toBeUndefined();
  });

  /** Holds the first call `when` picks until `release()`; `reached` settles once that call waits. */
  function gate<A extends unknown[], R>(fn: (...args: A) => Promise<R>, when: (...args: A) => boolean = () => true) {
    let release!: () => void;
    let reach!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (reach = resolve));
    let armed = true;
    const held = async (...args: A): Promise<R> => {
      if (armed && when(...args)) {
        armed = false;
        reach();
        await released;
      }
      return fn(...args);
    };
    return { held, reached, release };
  }
  /** Holds the next change of a pause before it takes its turn (its request's checks passed). */
  const beforeTurn = () => {
    const pauses = h.hub.directory.pauses;
    const g = gate(pauses.change.bind(pauses));
    pauses.change = g.held;
    return g;
  };
  /** Holds the next write of Alice's pause, in her turn (its checks passed). */
  const beforeWrite = () => {
    const docs = h.hub.store.directory;
    const g = gate(docs.write.bind(docs), (ops) => ops.some((op) => op.op === 'put' && op.collection === 'queuePauses' && op.doc.id === 'alice'));
    docs.write = g.held;
    return g;
  };
  const code = (res: { body: { error?: { code: string } } }) => res.body.error?.code;

  it('a pause set while its person is deleted never outlives them, whichever comes first', async () => {
    // The deletion lands after the request checked the person, before its turn: refused, nothing stored.
    const turn = beforeTurn();
    let set = h.put('/v1/people/alice/queue-pause', { reason: 'training' }).then((r) => r);
    await turn.reached;
    await h.del('/v1/people/alice').expect(204);
    turn.release();
    expect([(await set).status, code(await set)]).toEqual([404, 'person_not_found']);
    expect(await stored()).toBeUndefined();

    // The change holds her turn when the deletion comes: the deletion waits, and ends the pause with her.
    await h.put('/v1/people/alice', { name: 'Alice', extension: '1001' }).expect(201);
    const write = beforeWrite();
    set = h.put('/v1/people/alice/queue-pause', { reason: 'training' }).then((r) => r);
    await write.reached;
    const deleted = h.del('/v1/people/alice').then((r) => r);
    // Time for the deletion to reach her turn; were it later, the change would still come first.
    await new Promise((resolve) => setTimeout(resolve, 20));
    write.release();
    expect((await set).status).toBe(200);
    expect((await deleted).status).toBe(204);
    expect(await stored()).toBeUndefined();
    await h.put('/v1/people/alice', { name: 'Alice', extension: '1001' }).expect(201);
    await h.get('/v1/people/alice/queue-pause').expect(404);
  });

  it('a pause is never written for a person deleted as it is written, even by a replica that stops right after', async () => {
    // Another replica deletes her at the moment this one writes (its turn ran out: the deletion did not
    // wait for it), and this replica stops right after its write, before any look or undo could follow.
    const write = beforeWrite();
    const docs = h.hub.store.directory;
    const afterWrite = docs.write;
    const set = h.put('/v1/people/alice/queue-pause', { reason: 'training' }).then((r) => r);
    await write.reached;
    await afterWrite.call(docs, [
      { op: 'delete', collection: 'people', tenantId: 'acme', id: 'alice' },
      { op: 'delete', collection: 'queuePauses', tenantId: 'acme', id: 'alice' },
    ]);
    // The held write is under way; nothing after it gets through.
    docs.write = (() => Promise.reject(new Error('this replica stopped'))) as typeof docs.write;
    write.release();
    expect([(await set).status, code(await set)]).toEqual([404, 'person_not_found']);
    docs.write = afterWrite;
    expect(await stored()).toBeUndefined();
    // Someone created under her id later inherits nothing.
    await h.put('/v1/people/alice', { name: 'Alice', extension: '1001' }).expect(201);
    await h.get('/v1/people/alice/queue-pause').expect(404);
  });

  it('a pause set while its group is deleted never names the deleted group, whichever comes first', async () => {
    await h.put('/v1/people/alice/queue-pause', { groups: ['support'], reason: 'training' }).expect(200);
    // The deletion lands after the request checked the group, before its turn: refused, the pause as it was.
    const turn = beforeTurn();
    let add = h.put('/v1/people/alice/queue-pause/groups/sales', {}).then((r) => r);
    await turn.reached;
    await h.del('/v1/groups/sales').expect(204);
    turn.release();
    expect([(await add).status, code(await add)]).toEqual([404, 'group_not_found']);
    expect(await stored()).toMatchObject({ groups: ['support'], reason: 'training' });

    // The deletion lands in the change's turn, between its check and its write (it waits for no turn: the
    // pause does not name the group yet): the store refuses the write, nothing of it is stored.
    await h.put('/v1/groups/billing', { name: 'Billing', extension: '4000', timeZone: 'Europe/Berlin', members: [{ personId: 'alice' }] }).expect(201);
    let write = beforeWrite();
    add = h.put('/v1/people/alice/queue-pause', { groups: ['support', 'billing'] }).then((r) => r);
    await write.reached;
    await h.del('/v1/groups/billing').expect(204);
    write.release();
    expect([(await add).status, code(await add)]).toEqual([422, 'unknown_group']);
    expect(await stored()).toMatchObject({ groups: ['support'], reason: 'training' });

    // The same with no pause before: none after.
    await h.del('/v1/people/alice/queue-pause').expect(204);
    await h.put('/v1/groups/billing', { name: 'Billing', extension: '4000', timeZone: 'Europe/Berlin', members: [{ personId: 'alice' }] }).expect(201);
    write = beforeWrite();
    add = h.put('/v1/people/alice/queue-pause/groups/billing', {}).then((r) => r);
    await write.reached;
    await h.del('/v1/groups/billing').expect(204);
    write.release();
    expect([(await add).status, code(await add)]).toEqual([404, 'group_not_found']);
    expect(await stored()).toBeUndefined();

    // The change comes and goes between the deletion's look at the pauses and its write: the deletion
    // looks again after writing.
    await h.put('/v1/groups/billing', { name: 'Billing', extension: '4000', timeZone: 'Europe/Berlin', members: [{ personId: 'alice' }] }).expect(201);
    const docs = h.hub.store.directory;
    const batch = gate(docs.write.bind(docs), (ops) => ops.some((op) => op.op === 'delete' && op.collection === 'groups'));
    docs.write = batch.held;
    const deleted = h.del('/v1/groups/billing').then((r) => r);
    await batch.reached;
    await h.put('/v1/people/alice/queue-pause', { groups: ['support', 'billing'] }).expect(200);
    batch.release();
    expect((await deleted).status).toBe(204);
    expect(await stored()).toMatchObject({ groups: ['support'] });
  });
}

describe('pausing a person from group and queue calls (embedded store)', () => queuePauses(() => startTestHub()));

describeWith(['redis'], 'pausing a person from group and queue calls (Redis)', () => {
  const redisEnv = sharedRedis('pause');
  queuePauses(() => startTestHub({ env: redisEnv() }));
});
