import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeWith } from '../support/components.js';
import { OPERATOR_KEY, seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { sharedRedis } from '../support/redis.js';
import { afterWrite, holdWrite, puts } from '../support/hold-write.js';
import { COLLECTIONS, type CollectionName } from '../../shared/store/keys.js';
import type { WriteOp } from '../../shared/store/port.js';
import { hashToken } from '../../shared/crypto/secrets.js';
import type { CalendarConnection } from '../../shared/domain/calendar.js';
import type { AppError } from '../../shared/errors/errors.js';
import { connectionId } from '../../services/calendars/connection-work.js';

/** `DELETE /v1/tenants/acme` failing between its two writes (the store going away, the replica stopping). */
async function deletionCutShort(h: TestHub): Promise<void> {
  const docs = h.hub.store.directory;
  const write = docs.write.bind(docs);
  docs.write = (async (ops, conditions) => {
    if (ops.some((op) => op.op === 'delete' && op.collection === 'tenantDeletions')) throw new Error('the store went away');
    return write(ops, conditions);
  }) as typeof docs.write;
  expect((await h.del('/v1/tenants/acme', OPERATOR_KEY)).status).toBe(500);
  docs.write = write;
}

/**
 * A write for a person or tenant that read it before it was deleted, and writes after: refused with the
 * 404 of what is gone and nothing written, so no key, device or setting survives the deletion for a
 * person or tenant created again under the same id to inherit.
 */
function writesWhileDeleting(start: () => Promise<TestHub>): void {
  let h: TestHub;
  let pbxKey: PbxKey;
  beforeEach(async () => {
    h = await start();
    pbxKey = await seedAlice(h);
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
  /** Every record stored under the tenant id `acme`, by collection (none: `{}`). */
  async function leftOfAcme() {
    const left: Record<string, string[]> = {};
    for (const c of Object.keys(COLLECTIONS) as CollectionName[]) {
      const ids = (await h.hub.store.directory.list(c, 'acme')).map((d) => d.id);
      if (ids.length > 0) left[c] = ids;
    }
    for (const c of ['tenants', 'operatorRequestLimits', 'tenantDeletions'] as const) if (await h.hub.store.directory.get(c, '*', 'acme')) left[`*/${c}`] = ['acme'];
    return left;
  }
  const group = { name: 'Sales', members: [] };
  const target = { kind: 'webhook', name: 'CRM', url: 'https://hooks.example.test/presence', enabled: false };

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

  it.each([
    ['an admin key', 'apiKeys', () => h.post('/v1/keys', { name: 'second admin', role: 'admin' })],
    ['a group', 'groups', () => h.put('/v1/groups/sales', group)],
    ['a push target', 'targets', () => h.put('/v1/targets/crm', target)],
    ['a person', 'people', () => h.put('/v1/people/bob', { name: 'Bob' })],
  ] as const)('%s written as the operator deletes the tenant: 404 tenant_not_found, nothing left behind', async (_what, collection, request) => {
    expect(await racing(collection, request, deleteAcme)).toEqual([404, 'tenant_not_found']);
    expect(await leftOfAcme()).toEqual({});
  });

  it("records written after a tenant's deletion looked, before it wrote: deleted with it, and a tenant created again under the id inherits none", async () => {
    const held = holdWrite(h, (op) => op.op === 'delete' && op.collection === 'tenants');
    const deletion = Promise.resolve(deleteAcme());
    await held.reached;
    const admin = (await h.post('/v1/keys', { name: 'second admin', role: 'admin' }).expect(201)).body.secret as string;
    await h.put('/v1/groups/sales', group).expect(201);
    await h.put('/v1/targets/crm', target).expect(201);
    await h.put('/v1/people/bob', { name: 'Bob' }).expect(201);
    held.release();
    await deletion;
    expect(await leftOfAcme()).toEqual({});
    const again = (await h.post('/v1/tenants', { id: 'acme', name: 'Acme again' }, OPERATOR_KEY).expect(201)).body.adminKey;
    await h.get('/v1/tenant', admin).expect(401);
    expect((await h.get('/v1/keys', again.secret).expect(200)).body.keys.map((k: { id: string }) => k.id)).toEqual([again.id]);
  });

  it('a deletion cut short keeps the id taken (409 tenant_being_deleted) until a second deletion finishes it; no key or device of the tenant signs in meanwhile', async () => {
    const token = (await h.put('/v1/people/alice/devices/alice-app', { kind: 'mobile' }).expect(201)).body.token as string;
    await deletionCutShort(h);
    expect(await h.hub.store.directory.get('tenantDeletions', '*', 'acme')).toBeDefined();
    expect((await h.get('/v1/tenant').expect(401)).body.error.code).toBe('invalid_credentials');
    expect((await h.pbx([], pbxKey)).status).toBe(401);
    expect((await h.http.post('/v1/heartbeat').set('Authorization', `Bearer ${token}`).send({})).body.error.code).toBe('invalid_device_token');
    // The operator sees which deletion to send again.
    expect((await h.get('/v1/tenants', OPERATOR_KEY).expect(200)).body).toEqual({ tenants: [], deleting: [{ id: 'acme', since: expect.any(String) }] });
    expect((await h.post('/v1/tenants', { id: 'acme', name: 'Acme again' }, OPERATOR_KEY).expect(409)).body.error.code).toBe('tenant_being_deleted');
    await deleteAcme();
    expect((await h.get('/v1/tenants', OPERATOR_KEY).expect(200)).body.deleting).toEqual([]);
    expect(await leftOfAcme()).toEqual({});
    await h.del('/v1/tenants/acme', OPERATOR_KEY).expect(404);
    const again = (await h.post('/v1/tenants', { id: 'acme', name: 'Acme again' }, OPERATOR_KEY).expect(201)).body.adminKey;
    expect((await h.get('/v1/keys', again.secret).expect(200)).body.keys.map((k: { id: string }) => k.id)).toEqual([again.id]);
  });

  it('two deletions of a tenant at once: both answer 204, nothing left', async () => {
    const held = holdWrite(h, (op) => op.op === 'delete' && op.collection === 'people');
    const first = Promise.resolve(deleteAcme());
    await held.reached;
    // The second finds the tenant gone, its deletion begun, and deletes on.
    const begun = holdWrite(h, (op) => op.op === 'delete' && op.collection === 'tenants');
    const second = Promise.resolve(deleteAcme());
    await begun.reached;
    begun.release();
    held.release();
    await Promise.all([first, second]);
    expect(await leftOfAcme()).toEqual({});
  });

  it("a key and a device written as their person is deleted, the person created again before the deletion's sweep: neither acts as the new person", async () => {
    const deletes = (op: WriteOp) => op.op === 'delete' && op.collection === 'people';
    afterWrite(h, deletes, () => h.put('/v1/people/alice', { name: 'Alice again' }).expect(201));
    const held = holdWrite(h, deletes);
    const deletion = Promise.resolve(deleteAlice());
    await held.reached;
    const key = (await h.post('/v1/keys', { name: 'alice', role: 'member', personId: 'alice' }).expect(201)).body.secret as string;
    const token = (await h.put('/v1/people/alice/devices/alice-app', { kind: 'mobile' }).expect(201)).body.token as string;
    held.release();
    await deletion;
    expect((await h.get('/v1/people/alice').expect(200)).body.name).toBe('Alice again');
    await h.get('/v1/people/alice', key).expect(401);
    expect((await h.http.post('/v1/heartbeat').set('Authorization', `Bearer ${token}`).send({})).body.error.code).toBe('invalid_device_token');
    expect(await h.hub.store.directory.list('apiKeys', 'acme', { field: 'personId', value: 'alice' })).toEqual([]);
    expect(await h.hub.store.directory.list('devices', 'acme')).toEqual([]);
  });

  it.each([
    ['PUT', () => h.put('/v1/people/bob', { name: 'Bob' }).expect(201)],
    ['apply', () => h.post('/v1/directory/apply', { tenant: 'acme', people: [{ id: 'bob', name: 'Bob', devices: [{ id: 'bob-app', kind: 'mobile' }] }], groups: [], targets: [] }).expect(200)],
  ] as const)('a key and a device a deleted person left (its sweep never ran) do not act as one created under the id (%s)', async (_how, create) => {
    // What a replica that stopped between a deletion and its sweep leaves: written while the person existed.
    const secret = 'phk_left-of-an-earlier-bob';
    const token = 'phd_left-of-an-earlier-bob';
    await h.hub.store.directory.write([
      { op: 'put', collection: 'apiKeys', doc: { id: 'leftkey', tenantId: 'acme', name: 'bob', role: 'member', personId: 'bob', hash: hashToken(secret), createdAt: h.clock.now() } },
      { op: 'put', collection: 'devices', doc: { id: 'bob-app', tenantId: 'acme', personId: 'bob', kind: 'mobile', tokenHash: hashToken(token), tokenIssuedAt: h.clock.now() } },
    ]);
    await create();
    await h.get('/v1/people/bob', secret).expect(401);
    expect((await h.http.post('/v1/heartbeat').set('Authorization', `Bearer ${token}`).send({})).body.error.code).toBe('invalid_device_token');
    expect(await h.hub.store.directory.list('apiKeys', 'acme', { field: 'personId', value: 'bob' })).toEqual([]);
  });

  it("a webhook target's secret rotated as the target is deleted: 404 target_not_found, the target does not come back", async () => {
    await h.put('/v1/targets/crm', target).expect(201);
    expect(await racing('targets', () => h.post('/v1/targets/crm/secret', {}), () => h.del('/v1/targets/crm').expect(204))).toEqual([404, 'target_not_found']);
    expect(await h.hub.store.directory.list('targets', 'acme')).toEqual([]);
  });

  it.each([
    ['its person', () => deleteAlice(), 'person_not_found'],
    ['the tenant', () => deleteAcme(), 'tenant_not_found'],
  ] as const)('a calendar connection stored as %s is deleted: 404, none left for a person created again under the id', async (_what, deletion, code) => {
    const now = h.clock.now();
    const conn: CalendarConnection = { id: connectionId('microsoft', 'alice'), tenantId: 'acme', personId: 'alice', provider: 'microsoft', mode: 'delegated', status: 'connected', account: { id: 'u1' }, scopes: [], connectedAt: now, updatedAt: now };
    const held = holdWrite(h, puts('calendarConnections'));
    const adding = h.hub.calendars.service.add(conn).then(
      () => undefined,
      (err: unknown) => err as AppError,
    );
    await held.reached;
    await deletion();
    held.release();
    expect((await adding)?.code).toBe(code);
    expect(await h.hub.store.directory.list('calendarConnections', 'acme')).toEqual([]);
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

/** Push targets' host names resolve to a public address. */
const resolve = async () => [{ address: '93.184.215.14', family: 4 }];

describe('writes for a person or tenant being deleted (embedded store)', () => {
  writesWhileDeleting(() => startTestHub({ resolve }));
});

describeWith(['redis'], 'writes for a person or tenant being deleted (Redis)', () => {
  const redisEnv = sharedRedis('deleting');
  writesWhileDeleting(() => startTestHub({ env: redisEnv(), resolve }));
});

describe('the bootstrap tenant', () => {
  it('a start while its deletion is unfinished creates neither it nor its admin key; once the deletion is finished, the next start creates both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ph-bootstrap-'));
    const env = { ENCRYPTION_KEY: randomBytes(32).toString('base64') };
    let h = await startTestHub({ dir, env });
    try {
      await deletionCutShort(h);
      await h.stop();
      h = await startTestHub({ dir, env });
      await h.get('/v1/tenant').expect(401);
      expect(await h.hub.store.directory.list('apiKeys', 'acme')).toEqual([]);
      await h.del('/v1/tenants/acme', OPERATOR_KEY).expect(204);
      await h.stop();
      h = await startTestHub({ dir, env });
      await h.get('/v1/tenant').expect(200);
    } finally {
      await h.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

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
