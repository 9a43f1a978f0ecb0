import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';

const doc = (groups: unknown[], people = ['alice', 'bob']) => ({
  tenant: 'acme',
  people: people.map((id, i) => ({ id, name: id, extension: String(1001 + i) })),
  groups,
});

const support = {
  id: 'support',
  name: 'Support',
  extension: '2000',
  strategy: 'longest-idle',
  members: [{ personId: 'alice' }, { personId: 'bob', priority: 1 }],
  fallback: [{ type: 'overflow', groupId: 'sales' }, { type: 'hangup', message: 'Sorry' }],
};
const sales = { id: 'sales', name: 'Sales', members: [{ personId: 'bob' }] };

describe('groups in the apply file', () => {
  let h: TestHub;
  const apply = (body: unknown, q = '') => h.post(`/v1/directory/apply${q}`, body);
  beforeEach(async () => {
    h = await startTestHub();
  });
  afterEach(() => h.stop());

  it('creates groups with the people they list in one batch, then is idempotent', async () => {
    const first = await apply(doc([support, sales])).expect(200);
    expect(first.body.plan.groups).toEqual({ created: ['support', 'sales'], updated: [], unchanged: [], deleted: [] });
    expect((await h.get('/v1/groups/support')).body).toMatchObject({ strategy: 'longest-idle', members: [{ personId: 'alice' }, { personId: 'bob', priority: 1 }] });
    const again = await apply(doc([support, sales])).expect(200);
    expect(again.body.plan.groups).toEqual({ created: [], updated: [], unchanged: ['support', 'sales'], deleted: [] });
    const changed = await apply(doc([{ ...support, strategy: 'fewest-calls' }, sales])).expect(200);
    expect(changed.body.plan.groups.updated).toEqual(['support']);
  });

  it('prunes groups not listed, and refuses a listed group that names a pruned person or group, writing nothing', async () => {
    await apply(doc([support, sales])).expect(200);
    const bad = await apply(doc([support], ['alice', 'bob']), '?prune=true').expect(422);
    expect(bad.body.error.code).toBe('unknown_overflow_group');
    expect((await h.get('/v1/groups')).body.groups).toHaveLength(2);
    const noBob = await apply(doc([{ ...support, members: [{ personId: 'alice' }, { personId: 'bob' }], fallback: [] }], ['alice']), '?prune=true').expect(422);
    expect(noBob.body.error.code).toBe('unknown_member');
    await h.get('/v1/people/bob').expect(200);
    const ok = await apply(doc([{ ...support, members: [{ personId: 'alice' }], fallback: [] }], ['alice']), '?prune=true').expect(200);
    expect(ok.body.plan.groups).toEqual({ created: [], updated: ['support'], unchanged: [], deleted: ['sales'] });
    expect(ok.body.plan.people.deleted).toEqual(['bob']);
    await h.get('/v1/groups/sales').expect(404);
  });

  it('validates groups as the admin API does', async () => {
    const res = await apply(doc([{ ...support, strategy: 'random' }, sales])).expect(400);
    expect(res.body.error.details).toContainEqual(expect.objectContaining({ path: 'groups.0.strategy' }));
    expect((await apply(doc([sales, sales])).expect(400)).body.error.details).toContainEqual(expect.objectContaining({ message: 'group sales appears twice' }));
    expect((await apply(doc([{ ...sales, extension: '1001' }])).expect(409)).body.error.code).toBe('extension_taken');
    await h.get('/v1/people/alice').expect(404);
  });
});
