import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OPERATOR_KEY, startTestHub, type TestHub } from '../support/hub.js';
import { seedMembers } from '../support/routing.js';

const SUPPORT = {
  name: 'Support',
  extension: '2000',
  timeZone: 'Europe/Berlin',
  strategy: 'round-robin',
  ringTimeoutSeconds: 15,
  wrapUpSeconds: 30,
  members: [{ personId: 'alice', skills: { french: 3 } }, { personId: 'bob', priority: 1, ringTimeoutSeconds: 25 }],
  schedule: { weekly: { mon: [['08:00', '17:00']] }, holidays: [{ date: '12-25', name: 'Christmas Day' }] },
  fallback: [{ type: 'queue', maxWaitSeconds: 120 }, { type: 'voicemail', box: '2000' }],
};

describe('groups in the directory: admin API', () => {
  let h: TestHub;
  beforeEach(async () => {
    h = await startTestHub();
    await seedMembers(h, [{ id: 'alice' }, { id: 'bob' }, { id: 'carol' }]);
  });
  afterEach(() => h.stop());

  it('creates, reads, lists, replaces and deletes a group, with defaults filled in', async () => {
    const created = await h.put('/v1/groups/support', SUPPORT).expect(201);
    expect(created.body).toMatchObject({
      id: 'support',
      kind: 'hunt',
      strategy: 'round-robin',
      leaveWhen: { dnd: true, meeting: true },
      members: [
        { personId: 'alice', priority: 0, skills: { french: 3 } },
        { personId: 'bob', priority: 1, skills: {}, ringTimeoutSeconds: 25 },
      ],
      schedule: { closures: [] },
      afterHours: [],
    });
    expect((await h.get('/v1/groups/support').expect(200)).body).toEqual(created.body);
    await h.put('/v1/groups/support', { ...SUPPORT, strategy: 'longest-idle' }).expect(200);
    expect((await h.get('/v1/groups').expect(200)).body.groups.map((g: { id: string; strategy: string }) => [g.id, g.strategy])).toEqual([['support', 'longest-idle']]);
    await h.del('/v1/groups/support').expect(204);
    await h.get('/v1/groups/support').expect(404, { error: { code: 'group_not_found', message: 'group support not found' } });
  });

  it.each<[string, unknown, number, string]>([
    ['an unknown member', { ...SUPPORT, members: [{ personId: 'zoe' }] }, 422, 'unknown_member'],
    ['a member twice', { ...SUPPORT, members: [{ personId: 'alice' }, { personId: 'alice' }] }, 400, 'invalid_body'],
    ['an unknown strategy', { ...SUPPORT, strategy: 'random' }, 400, 'invalid_body'],
    ['an overflow to a group that does not exist', { ...SUPPORT, fallback: [{ type: 'overflow', groupId: 'sales' }] }, 422, 'unknown_overflow_group'],
    ['an overflow to itself', { ...SUPPORT, fallback: [{ type: 'overflow', groupId: 'support' }] }, 422, 'overflow_to_itself'],
    ['a forward with both a number and a URI', { ...SUPPORT, fallback: [{ type: 'forward', number: '+491511', uri: 'sip:a@b' }] }, 400, 'invalid_body'],
    ['an invalid time zone', { ...SUPPORT, timeZone: 'Mars/Olympus' }, 400, 'invalid_body'],
    ['a closure ending before it starts', { ...SUPPORT, schedule: { weekly: {}, closures: [{ from: '2026-03-02T12:00:00Z', until: '2026-03-02T11:00:00Z', reason: 'x' }] } }, 400, 'invalid_body'],
    ['a holiday that is not a date', { ...SUPPORT, schedule: { weekly: {}, holidays: [{ date: '2026-13-01', name: 'x' }] } }, 400, 'invalid_body'],
    ['a holiday on a day that does not exist (it would never close the group)', { ...SUPPORT, schedule: { weekly: {}, holidays: [{ date: '2026-04-31', name: 'x' }] } }, 400, 'invalid_body'],
    ['a yearly holiday on a day that does not exist', { ...SUPPORT, schedule: { weekly: {}, holidays: [{ date: '02-30', name: 'x' }] } }, 400, 'invalid_body'],
    ["a person's extension", { ...SUPPORT, extension: '1001' }, 409, 'extension_taken'],
  ])('refuses %s and writes nothing', async (_name, body, status, code) => {
    const res = await h.put('/v1/groups/support', body).expect(status);
    expect(res.body.error.code).toBe(code);
    await h.get('/v1/groups/support').expect(404);
  });

  it('takes a yearly holiday on 29 February, a day in leap years only', async () => {
    const res = await h.put('/v1/groups/support', { ...SUPPORT, schedule: { holidays: [{ date: '02-29', name: 'Leap day' }] } }).expect(201);
    expect(res.body.schedule.holidays).toEqual([{ date: '02-29', name: 'Leap day' }]);
  });

  it("refuses a person taking a group's extension, and a second group with the same extension", async () => {
    await h.put('/v1/groups/support', SUPPORT).expect(201);
    expect((await h.put('/v1/people/dave', { name: 'Dave', extension: '2000' }).expect(409)).body.error.code).toBe('extension_taken');
    expect((await h.put('/v1/groups/sales', { name: 'Sales', extension: '2000' }).expect(409)).body.error.code).toBe('extension_taken');
  });

  it('refuses to delete a group another group overflows to', async () => {
    await h.put('/v1/groups/sales', { name: 'Sales', members: [{ personId: 'carol' }] }).expect(201);
    await h.put('/v1/groups/support', { ...SUPPORT, fallback: [{ type: 'overflow', groupId: 'sales' }] }).expect(201);
    const res = await h.del('/v1/groups/sales').expect(409);
    expect(res.body.error).toEqual({ code: 'group_in_use', message: 'groups support overflow to sales; change them first' });
    await h.del('/v1/groups/support').expect(204);
    await h.del('/v1/groups/sales').expect(204);
  });

  it('deleting a person takes them out of every group', async () => {
    await h.put('/v1/groups/support', SUPPORT).expect(201);
    await h.put('/v1/groups/sales', { name: 'Sales', members: [{ personId: 'alice' }, { personId: 'carol' }] }).expect(201);
    await h.del('/v1/people/alice').expect(204);
    expect((await h.get('/v1/groups/support')).body.members.map((m: { personId: string }) => m.personId)).toEqual(['bob']);
    expect((await h.get('/v1/groups/sales')).body.members.map((m: { personId: string }) => m.personId)).toEqual(['carol']);
  });

  it('lets supervisors read groups, only administrators change them, and members not even read them', async () => {
    await h.put('/v1/groups/support', SUPPORT).expect(201);
    const sup = (await h.post('/v1/keys', { name: 's', role: 'supervisor' }).expect(201)).body.secret;
    const member = (await h.post('/v1/keys', { name: 'm', role: 'member', personId: 'alice' }).expect(201)).body.secret;
    const pbx = (await h.post('/v1/keys', { name: 'p', role: 'pbx' }).expect(201)).body.secret;
    await h.get('/v1/groups/support', sup).expect(200);
    expect((await h.put('/v1/groups/support', SUPPORT, sup).expect(403)).body.error.code).toBe('forbidden_role');
    await h.get('/v1/groups', member).expect(403);
    await h.get('/v1/groups', pbx).expect(403);
    await h.del('/v1/groups/support', sup).expect(403);
  });

  it('deleting the tenant deletes its groups and their strategy state', async () => {
    await h.put('/v1/groups/support', SUPPORT).expect(201);
    await h.hub.routingState.updateGroup('acme', 'support', (s) => ({ next: { ...s, seq: 3, pointer: 'bob' }, result: undefined }));
    await h.http.delete('/v1/tenants/acme').set('Authorization', `Bearer ${OPERATOR_KEY}`).expect(204);
    expect(await h.hub.store.directory.list('groups', 'acme')).toEqual([]);
    expect(await h.hub.routingState.readGroup('acme', 'support')).toEqual({ seq: 0, members: {} });
  });

  it("never shows or routes another tenant's groups", async () => {
    await h.put('/v1/groups/support', SUPPORT).expect(201);
    const other = await h.http.post('/v1/tenants').set('Authorization', `Bearer ${OPERATOR_KEY}`).send({ id: 'globex', name: 'Globex' }).expect(201);
    const key = other.body.adminKey.secret as string;
    await h.get('/v1/groups/support', key).expect(404);
    expect((await h.get('/v1/groups', key)).body.groups).toEqual([]);
    expect((await h.post('/v1/route', { dialled: '2000' }, key).expect(404)).body.error).toEqual({
      code: 'route_target_not_found',
      message: 'nothing is dialled as 2000: no group or person has that id or extension',
    });
    expect((await h.post('/v1/route', { group: 'support' }, key).expect(404)).body.error.code).toBe('group_not_found');
  });
});
