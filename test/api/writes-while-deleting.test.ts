import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeWith } from '../support/components.js';
import { OPERATOR_KEY, seedAlice, startTestHub, type TestHub } from '../support/hub.js';
import { sharedRedis } from '../support/redis.js';
import { holdWrite, puts } from '../support/hold-write.js';

/**
 * A write for a person or tenant that read it before it was deleted, and writes after: refused with the
 * 404 of what is gone and nothing written, so no key, device or setting survives the deletion for a
 * person or tenant created again under the same id to inherit.
 */
function writesWhileDeleting(start: () => Promise<TestHub>): void {
  let h: TestHub;
  beforeEach(async () => {
    h = await start();
    await seedAlice(h);
  });
  afterEach(() => h.stop());

  /** Starts `request`, lets `deletion` run while its write waits, then answers what `request` got. */
  async function racing(collection: Parameters<typeof puts>[0], request: () => PromiseLike<{ status: number; body: { error?: { code: string } } }>, deletion: () => PromiseLike<unknown>) {
    const held = holdWrite(h, puts(collection));
    const slow = Promise.resolve(request());
    await held.reached;
    await deletion();
    held.release();
    const res = await slow;
    return [res.status, res.body.error?.code];
  }
  const deleteAlice = () => h.del('/v1/people/alice').expect(204);
  const deleteAcme = () => h.del('/v1/tenants/acme', OPERATOR_KEY).expect(204);

  it('a member key created as its person is deleted: 404 person_not_found, and a new alice has no key', async () => {
    expect(await racing('apiKeys', () => h.post('/v1/keys', { name: 'alice', role: 'member', personId: 'alice' }), deleteAlice)).toEqual([404, 'person_not_found']);
    await h.put('/v1/people/alice', { name: 'Alice again' }).expect(201);
    expect(await h.hub.store.directory.list('apiKeys', 'acme', { field: 'personId', value: 'alice' })).toEqual([]);
  });

  it('a device created as its person is deleted: 404 person_not_found, and a new alice has no device', async () => {
    expect(await racing('devices', () => h.put('/v1/people/alice/devices/alice-app', { kind: 'mobile' }), deleteAlice)).toEqual([404, 'person_not_found']);
    await h.put('/v1/people/alice', { name: 'Alice again' }).expect(201);
    expect(await h.hub.store.directory.list('devices', 'acme')).toEqual([]);
  });

  it("a key and a device created after a person's deletion looked at theirs, before it wrote: deleted with them", async () => {
    const held = holdWrite(h, (op) => op.op === 'delete' && op.collection === 'people');
    const deletion = Promise.resolve(deleteAlice());
    await held.reached;
    await h.post('/v1/keys', { name: 'alice', role: 'member', personId: 'alice' }).expect(201);
    await h.put('/v1/people/alice/devices/alice-app', { kind: 'mobile' }).expect(201);
    held.release();
    await deletion;
    await h.put('/v1/people/alice', { name: 'Alice again' }).expect(201);
    expect(await h.hub.store.directory.list('apiKeys', 'acme', { field: 'personId', value: 'alice' })).toEqual([]);
    expect(await h.hub.store.directory.list('devices', 'acme')).toEqual([]);
  });

  it("a device's new token as its person is deleted: 404, the device does not come back", async () => {
    await h.put('/v1/people/alice/devices/alice-app', { kind: 'mobile' }).expect(201);
    expect(await racing('devices', () => h.post('/v1/people/alice/devices/alice-app/token', {}), deleteAlice)).toEqual([404, 'person_not_found']);
    expect(await h.hub.store.directory.list('devices', 'acme')).toEqual([]);
  });

  it("a tenant admin's PUT /v1/tenant as the operator deletes the tenant: 404 tenant_not_found, the tenant stays gone", async () => {
    const settings = { allowPrivateTargets: false, wrapUpSeconds: 30 };
    expect(await racing('tenants', () => h.put('/v1/tenant', { name: 'Acme renamed', settings }), deleteAcme)).toEqual([404, 'tenant_not_found']);
    expect(await h.hub.store.directory.get('tenants', '*', 'acme')).toBeUndefined();
  });

  it("the operator's request limits set as it deletes the tenant: 404 tenant_not_found, none left behind", async () => {
    expect(await racing('operatorRequestLimits', () => h.put('/v1/tenants/acme/request-limits', { api: 900 }, OPERATOR_KEY), deleteAcme)).toEqual([404, 'tenant_not_found']);
    expect(await h.hub.store.directory.get('operatorRequestLimits', '*', 'acme')).toBeUndefined();
  });

  it('a directory file applied as the operator deletes the tenant: 404 tenant_not_found, nothing written back', async () => {
    const file = { tenant: 'acme', name: 'Acme renamed', people: [{ id: 'dave', name: 'Dave', devices: [] }], groups: [], targets: [] };
    expect(await racing('tenants', () => h.post('/v1/directory/apply', file), deleteAcme)).toEqual([404, 'tenant_not_found']);
    expect(await h.hub.store.directory.get('tenants', '*', 'acme')).toBeUndefined();
    expect(await h.hub.store.directory.list('people', 'acme')).toEqual([]);
  });

  it('a device for a person a directory file leaves unchanged, as the person is deleted: 404 person_not_found', async () => {
    const alice = await h.hub.store.directory.get('people', 'acme', 'alice');
    const { id: _id, tenantId: _t, ...person } = alice!;
    const file = { tenant: 'acme', people: [{ id: 'alice', ...person, devices: [{ id: 'alice-desk', kind: 'desk', contact: 'sip:alice@192.0.2.10' }, { id: 'alice-app', kind: 'mobile' }] }], groups: [], targets: [] };
    expect(await racing('devices', () => h.post('/v1/directory/apply', file), deleteAlice)).toEqual([404, 'person_not_found']);
    expect(await h.hub.store.directory.list('devices', 'acme')).toEqual([]);
  });
}

describe('writes for a person or tenant being deleted (embedded store)', () => {
  writesWhileDeleting(() => startTestHub());
});

describeWith(['redis'], 'writes for a person or tenant being deleted (Redis)', () => {
  const redisEnv = sharedRedis('deleting');
  writesWhileDeleting(() => startTestHub({ env: redisEnv() }));
});

describe('the bootstrap tenant', () => {
  it('is created at start when absent, and a start finding it keeps its settings', async () => {
    const h = await startTestHub();
    try {
      expect(await h.hub.store.directory.get('tenants', '*', 'acme')).toMatchObject({ id: 'acme', name: 'acme' });
      await h.put('/v1/tenant', { name: 'Acme Corp', settings: { allowPrivateTargets: false, wrapUpSeconds: 30 } }).expect(200);
      await h.hub.directory.bootstrapTenant('acme', { name: 'acme', settings: { allowPrivateTargets: false, wrapUpSeconds: 0 } });
      expect((await h.get('/v1/tenant').expect(200)).body.tenant).toMatchObject({ name: 'Acme Corp', settings: { wrapUpSeconds: 30 } });
    } finally {
      await h.stop();
    }
  });
});
