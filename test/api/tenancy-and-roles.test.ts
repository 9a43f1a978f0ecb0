import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, createKeys, OPERATOR_KEY, seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';

const BODIES: Record<string, unknown> = {
  'PUT /v1/people/:personId/status': { activity: 'away' },
  'PUT /v1/people/:personId/devices/:deviceId': { kind: 'desk' },
  'PUT /v1/people/:personId/queue-pause': { reason: 'not yours' },
};

describe('tenancy: a key of tenant B never reaches tenant A', () => {
  let h: TestHub;
  let bKey: string;
  let aliceBefore: unknown;

  beforeAll(async () => {
    h = await startTestHub();
    const key = await seedAlice(h);
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() }], key).expect(200);
    const b = await h.post('/v1/tenants', { id: 'beta', name: 'Beta' }, OPERATOR_KEY).expect(201);
    bKey = b.body.adminKey.secret;
    aliceBefore = (await h.get('/v1/presence/alice')).body;
  });
  afterAll(() => h.stop());

  it('every route that names a person, device or key of A answers 403 or 404 to B', async () => {
    const aKeyId = (await h.get('/v1/keys')).body.keys[0].id as string;
    const targets = h.routes.filter((r) => /:personId|:deviceId|:keyId/.test(r.path) && !(r.method === 'put' && r.path === '/v1/people/:personId'));
    expect(targets.length).toBeGreaterThanOrEqual(11);
    for (const r of targets) {
      const path = r.path.replace(':personId', 'alice').replace(':deviceId', 'alice-desk').replace(':keyId', aKeyId);
      const t = h.http[r.method](path).set('Authorization', `Bearer ${bKey}`);
      const body = BODIES[`${r.method.toUpperCase()} ${r.path}`];
      const res = await (body ? t.send(body as object) : t);
      expect([403, 404], `${r.method.toUpperCase()} ${r.path} answered ${res.status}`).toContain(res.status);
      expect(res.body.error.code).toBeTypeOf('string');
    }
    expect((await h.get('/v1/presence/alice')).body).toEqual(aliceBefore);
    expect((await h.get('/v1/keys')).body.keys.map((k: { id: string }) => k.id)).toContain(aKeyId);
  });

  it("tenant-wide views and the stream of B never include A's people", async () => {
    expect((await h.get('/v1/presence', bKey).expect(200)).body.presence).toEqual([]);
    expect((await h.get('/v1/people', bKey).expect(200)).body.people).toEqual([]);
    expect((await h.get('/v1/teams/support/presence', bKey).expect(200)).body.presence).toEqual([]);
  });

  it("B may create its own alice without touching A's", async () => {
    await h.put('/v1/people/alice', { name: 'Other Alice', extension: '1001' }, bKey).expect(201);
    expect((await h.get('/v1/people/alice')).body.name).toBe('Alice');
    expect((await h.get('/v1/people/alice', bKey)).body.name).toBe('Other Alice');
  });

  it('a tenant created again under a deleted one\'s id inherits none of its push targets, and their publishers stop', async () => {
    const first = (await h.post('/v1/tenants', { id: 'gamma', name: 'Gamma', settings: { allowPrivateTargets: true } }, OPERATOR_KEY).expect(201)).body.adminKey.secret;
    await h.put('/v1/targets/hook', { kind: 'webhook', name: 'theirs', url: 'http://127.0.0.1:9/theirs', enabled: true }, first).expect(201);
    expect(h.hub.pipeline.status('gamma', 'hook')).toBeDefined();
    await h.http.delete('/v1/tenants/gamma').set('Authorization', `Bearer ${OPERATOR_KEY}`).expect(204);
    expect(h.hub.pipeline.status('gamma', 'hook')).toBeUndefined();
    const again = (await h.post('/v1/tenants', { id: 'gamma', name: 'Gamma again' }, OPERATOR_KEY).expect(201)).body.adminKey.secret;
    expect((await h.get('/v1/targets', again).expect(200)).body.targets).toEqual([]);
    await h.get('/v1/targets/hook', again).expect(404);
  });

  it('GET /v1/tenant names the tenant it is about; the operator key, which has none, is told to use a tenant key', async () => {
    // The bootstrap admin key (acme) and a tenant's own admin key (beta): each sees its own tenant, never the platform scope.
    expect((await h.get('/v1/tenant').expect(200)).body.tenant).toMatchObject({ id: 'acme', tenantId: 'acme' });
    expect((await h.get('/v1/tenant', bKey).expect(200)).body.tenant).toMatchObject({ id: 'beta', tenantId: 'beta', name: 'Beta' });
    expect((await h.put('/v1/tenant', { name: 'Beta' }, bKey).expect(200)).body.tenant).toMatchObject({ id: 'beta', tenantId: 'beta' });
    const all = (await h.get('/v1/tenants', OPERATOR_KEY).expect(200)).body.tenants as Array<{ id: string; tenantId: string }>;
    expect(all.map((t) => t.id)).toEqual(expect.arrayContaining(['acme', 'beta']));
    for (const t of all) expect(t.tenantId).toBe(t.id);
    for (const path of ['/v1/tenant', '/v1/people']) {
      const res = await h.get(path, OPERATOR_KEY).expect(403);
      expect(res.body.error.code).toBe('tenant_required');
      expect(res.body.error.message).toMatch(/\/v1\/tenants/);
    }
  });

  it("B's PBX key cannot report events for A's devices", async () => {
    const k = await h.post('/v1/keys', { name: 'pbx', role: 'pbx' }, bKey).expect(201);
    const res = await h.pbx([{ type: 'answered', device: 'alice-desk', at: h.clock.now() }], { signingKeyId: k.body.signingKeyId, secret: k.body.secret }).expect(200);
    expect(res.body.rejected[0].code).toBe('unknown_device');
    expect((await h.get('/v1/presence/alice')).body.activity).toBe('available');
  });
});

describe('roles: each sees exactly its level of detail', () => {
  let h: TestHub;
  let pbx: PbxKey;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    h = await startTestHub();
    pbx = await seedAlice(h);
    await h.put('/v1/people/bob', { name: 'Bob', extension: '1002' }).expect(201);
    await h.put('/v1/people/carol', { name: 'Carol', extension: '1003', sensitive: true }).expect(201);
    await h.put('/v1/people/carol/devices/carol-desk', { kind: 'desk' }).expect(201);
    Object.assign(keys, await createKeys(h));
    const now = h.clock.now();
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: now }, { type: 'registered', device: 'carol-desk', at: now }], pbx).expect(200);
    await h.put('/v1/people/alice/status', { activity: 'dnd', until: '2026-03-02T11:00:00Z' }).expect(200);
    await h.put('/v1/people/carol/status', { activity: 'break', until: '2026-03-02T11:00:00Z' }).expect(200);
  });
  afterAll(() => h.stop());

  const view = async (key: string, person = 'alice') => (await h.get(`/v1/presence/${person}`, key).expect(200)).body;

  it('external partner: available or busy only', async () => {
    expect(await view(keys.external!)).toEqual({ personId: 'alice', availability: 'busy', version: expect.any(Number) });
  });

  it('colleague (member): availability only; their own person in full', async () => {
    expect(Object.keys(await view(keys.bob!)).sort()).toEqual(['availability', 'name', 'personId', 'since', 'version']);
    expect((await view(keys.bob!)).availability).toBe('dnd');
    const own = await view(keys.alice!);
    expect(own).toMatchObject({ activity: 'dnd', until: '2026-03-02T11:00:00.000Z', source: 'manual' });
    expect(own.explanation.length).toBeGreaterThan(0);
  });

  it('supervisor: activity and until, no sources or explanation; less for sensitive people', async () => {
    const v = await view(keys.supervisor!);
    expect(v).toMatchObject({ availability: 'dnd', activity: 'dnd', until: '2026-03-02T11:00:00.000Z', routable: false });
    expect(v.source).toBeUndefined();
    expect(v.explanation).toBeUndefined();
    const carol = await view(keys.supervisor!, 'carol');
    expect(carol).toMatchObject({ availability: 'away' });
    expect(carol.activity).toBeUndefined();
    expect(carol.until).toBeUndefined();
  });

  it('administrator: sources and the explanation; sensitive people in full', async () => {
    const v = await view(ADMIN_KEY, 'carol');
    expect(v).toMatchObject({ activity: 'break', source: 'manual', rule: 'manual' });
    expect(v.explanation.map((e: { verdict: string }) => e.verdict).sort()).toEqual(['reachable', 'won']);
  });

  it('PBX: routability and contacts, but no sources; for sensitive people no reason', async () => {
    const carol = await view(keys.pbx!, 'carol');
    expect(carol).toMatchObject({ availability: 'away', routable: false, endpoints: [{ id: 'carol-desk', kind: 'desk' }] });
    expect(carol.activity).toBeUndefined();
    expect((await view(keys.pbx!)).source).toBeUndefined();
  });

  it('a member may change only their own status and devices', async () => {
    const r = await h.put('/v1/people/alice/status', { activity: 'away' }, keys.bob).expect(403);
    expect(r.body.error.code).toBe('not_your_person');
    await h.put('/v1/people/bob/status', { activity: 'away' }, keys.bob).expect(200);
    await h.put('/v1/people/alice/devices/x', { kind: 'mobile' }, keys.bob).expect(403);
    await h.put('/v1/people/bob/devices/bob-phone', { kind: 'mobile' }, keys.bob).expect(201);
    await h.put('/v1/people/bob', { name: 'Bobby' }, keys.bob).expect(403);
    // Reading someone else's record is refused in the same words.
    expect((await h.get('/v1/people/alice/devices', keys.bob).expect(403)).body.error).toEqual({
      code: 'not_your_person',
      message: 'a member key may only read or change its own person',
    });
    await h.get('/v1/keys', keys.supervisor).expect(403);
  });
});
