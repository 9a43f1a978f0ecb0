import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeWith } from '../support/components.js';
import { ADMIN_KEY, OPERATOR_KEY, seedAlice, startTestHub, type TestHub } from '../support/hub.js';
import { series } from '../support/metrics.js';
import { sharedRedis } from '../support/redis.js';
import { openStream, type SseClient } from '../support/sse.js';
import { answerWhileWaiting } from '../support/turn-wait.js';

/**
 * The operator sets one tenant's request limits in place of the deployment's defaults (above or below
 * them); the tenant may lower them further, never raise them, and none of its own writes undoes the
 * operator's. Limits of 3 heartbeats a minute and 600 API requests per key by default.
 */
const LIMITS = { REQUEST_LIMIT_HEARTBEATS_PER_MIN: '3', REQUEST_LIMIT_API_PER_MIN: '600', REQUEST_LIMIT_OPEN_STREAMS: '5' };
const DEFAULTS = { api: 600, tenantApi: 30_000, pbxEvents: 120_000, heartbeats: 3, streams: 60, openStreams: 5 };

const setByOperator = (h: TestHub, tenant: string, limits: unknown) => h.put(`/v1/tenants/${tenant}/request-limits`, limits, OPERATOR_KEY);

/** DNS whose answer for `slow.example.test` waits until `answer()`; `asked` settles once it was asked. */
function slowDns() {
  let answer!: () => void;
  let ask!: () => void;
  const slow = new Promise<void>((r) => (answer = r));
  const asked = new Promise<void>((r) => (ask = r));
  const resolve = async (host: string) => {
    if (host === 'slow.example.test') {
      ask();
      await slow;
    }
    return [{ address: '93.184.215.14', family: 4 }];
  };
  return { resolve, asked, answer };
}

/**
 * An apply file renaming the tenant, with a webhook target on the slow host, sent to `tenant`: it reads the
 * tenant, and while it waits for DNS the operator sets limits through `operator`; then it writes. Both stay.
 */
async function operatorWritesWhileApplying(tenant: TestHub, operator: TestHub, dns: ReturnType<typeof slowDns>): Promise<void> {
  const target = { id: 'hook', kind: 'webhook', name: 'Hook', enabled: true, url: 'https://slow.example.test/hook' };
  const applying = tenant.post('/v1/directory/apply', { tenant: 'acme', name: 'Acme Inc', targets: [target] }).then((r) => r);
  await dns.asked;
  await setByOperator(operator, 'acme', { api: 900 }).expect(200);
  dns.answer();
  expect((await applying).status).toBe(200);
  expect((await operator.get('/v1/tenant').expect(200)).body.tenant).toMatchObject({ name: 'Acme Inc', operatorRequestLimits: { api: 900 } });
}

describe("the operator's request limits for one tenant", () => {
  let h: TestHub;
  let betaAdmin: string;

  beforeEach(async () => {
    h = await startTestHub({ env: LIMITS });
    await seedAlice(h);
    betaAdmin = (await h.post('/v1/tenants', { id: 'beta', name: 'Beta' }, OPERATOR_KEY).expect(201)).body.adminKey.secret as string;
  });
  afterEach(() => h.stop());

  it("raise the tenant's limits above the defaults, shown to the operator and the tenant; the raise lets more through; other tenants keep the defaults", async () => {
    const set = (await setByOperator(h, 'acme', { heartbeats: 5, api: 900 }).expect(200)).body;
    expect(set.tenant.operatorRequestLimits).toEqual({ heartbeats: 5, api: 900 });
    expect(set.requestLimits).toEqual({ ...DEFAULTS, heartbeats: 5, api: 900 });
    const own = (await h.get('/v1/tenant').expect(200)).body;
    expect(own.tenant.operatorRequestLimits).toEqual({ heartbeats: 5, api: 900 });
    expect(own.requestLimits).toEqual({ ...DEFAULTS, heartbeats: 5, api: 900 });
    const listed = (await h.get('/v1/tenants', OPERATOR_KEY).expect(200)).body.tenants as Array<{ id: string; operatorRequestLimits?: unknown }>;
    expect(listed.find((t) => t.id === 'acme')?.operatorRequestLimits).toEqual({ heartbeats: 5, api: 900 });
    expect(listed.find((t) => t.id === 'beta')).not.toHaveProperty('operatorRequestLimits');
    expect((await h.get('/v1/tenant', betaAdmin).expect(200)).body.requestLimits).toEqual(DEFAULTS);

    const token = (await h.put('/v1/people/alice/devices/alice-phone', { kind: 'mobile' }).expect(201)).body.token as string;
    const beat = () => h.http.post('/v1/heartbeat').set('Authorization', `Bearer ${token}`).send({ state: 'foreground' });
    for (let i = 0; i < 5; i++) await beat().expect(200);
    expect((await beat()).body.error.details).toEqual({ limit: 'heartbeats', perMinute: 5 });
  });

  it("the tenant lowers within the raise, not above it; its own writes (PUT /v1/tenant, apply) keep the operator's limits and cannot name them", async () => {
    await setByOperator(h, 'acme', { api: 900 }).expect(200);
    // Above the default, within the operator's raise: the lower of the two applies.
    await h.put('/v1/tenant', { name: 'Acme', settings: { requestLimits: { api: 800 } } }).expect(200);
    expect((await h.get('/v1/tenant').expect(200)).body.requestLimits.api).toBe(800);
    const above = await h.put('/v1/tenant', { name: 'Acme', settings: { requestLimits: { api: 901 } } }).expect(400);
    expect(above.body.error).toMatchObject({ code: 'request_limit_above_default', details: [{ path: 'settings.requestLimits.api', message: 'at most 900' }] });
    expect(above.body.error.message).toMatch(/api above 900 \(the operator's limit for this tenant\)/);
    // A tenant admin cannot set the operator's field, nor call the operator's route.
    expect((await h.put('/v1/tenant', { name: 'Acme', operatorRequestLimits: { api: 5000 } }).expect(400)).body.error.code).toBe('invalid_body');
    expect((await setByOperator(h, 'acme', { api: 5000 }).set('Authorization', `Bearer ${ADMIN_KEY}`)).status).toBe(403);
    // Writes of the whole tenant document leave the operator's limits in place.
    await h.put('/v1/tenant', { name: 'Acme Corp' }).expect(200);
    await h.post('/v1/directory/apply', { tenant: 'acme', name: 'Acme Inc', settings: { requestLimits: { heartbeats: 2 } } }).expect(200);
    const read = (await h.get('/v1/tenant').expect(200)).body;
    expect(read.tenant).toMatchObject({ name: 'Acme Inc', operatorRequestLimits: { api: 900 } });
    expect(read.requestLimits).toEqual({ ...DEFAULTS, api: 900, heartbeats: 2 });
  });

  it("an operator's value below the default binds the tenant too; `{}` takes the operator's limits away, and a tenant's own value above the default is held to it again", async () => {
    await setByOperator(h, 'acme', { heartbeats: 2, api: 900 }).expect(200);
    expect((await h.put('/v1/tenant', { name: 'Acme', settings: { requestLimits: { heartbeats: 3 } } }).expect(400)).body.error.details).toEqual([
      { path: 'settings.requestLimits.heartbeats', message: 'at most 2' },
    ]);
    await h.put('/v1/tenant', { name: 'Acme', settings: { requestLimits: { api: 800 } } }).expect(200);
    const cleared = (await setByOperator(h, 'acme', {}).expect(200)).body;
    expect(cleared.tenant).not.toHaveProperty('operatorRequestLimits');
    expect(cleared.requestLimits).toEqual(DEFAULTS);
    expect((await h.put('/v1/tenant', { name: 'Acme', settings: { requestLimits: { api: 800 } } }).expect(400)).body.error.code).toBe('request_limit_above_default');
  });

  it("a tenant write at the same moment as the operator's, in one process, keeps the operator's limits", async () => {
    const settings = { allowPrivateTargets: false, wrapUpSeconds: 0 };
    await Promise.all([h.hub.directory.setOperatorRequestLimits('acme', { api: 900 }), h.hub.directory.putTenant('acme', { name: 'Acme Corp', settings })]);
    expect((await h.get('/v1/tenant').expect(200)).body.tenant).toMatchObject({ name: 'Acme Corp', operatorRequestLimits: { api: 900 } });
  });

  it("an apply file that takes a while (a target's host resolving) keeps the limits the operator set meanwhile", async () => {
    const dns = slowDns();
    const hub = await startTestHub({ env: LIMITS, resolve: dns.resolve });
    try {
      await seedAlice(hub);
      await operatorWritesWhileApplying(hub, hub, dns);
    } finally {
      await hub.stop();
    }
  });

  it('a tenant deleted takes its limits with it: one created again under its id starts from the defaults', async () => {
    await setByOperator(h, 'beta', { api: 900 }).expect(200);
    await h.del('/v1/tenants/beta', OPERATOR_KEY).expect(204);
    const again = (await h.post('/v1/tenants', { id: 'beta', name: 'Beta' }, OPERATOR_KEY).expect(201)).body;
    expect(again.tenant).not.toHaveProperty('operatorRequestLimits');
    expect((await h.get('/v1/tenant', again.adminKey.secret as string).expect(200)).body.requestLimits).toEqual(DEFAULTS);
  });

  it("0 lifts the tenant's limit of that class, as in the variables: shown, applied, and the tenant's own value is no longer capped (its own 0 still refused)", async () => {
    const set = (await setByOperator(h, 'acme', { heartbeats: 0 }).expect(200)).body;
    expect(set.tenant.operatorRequestLimits).toEqual({ heartbeats: 0 });
    expect(set.requestLimits).toEqual({ ...DEFAULTS, heartbeats: 0 });
    expect((await h.get('/v1/tenant').expect(200)).body.requestLimits).toEqual({ ...DEFAULTS, heartbeats: 0 });
    const listed = (await h.get('/v1/tenants', OPERATOR_KEY).expect(200)).body.tenants as Array<{ id: string; operatorRequestLimits?: unknown }>;
    expect(listed.find((t) => t.id === 'acme')?.operatorRequestLimits).toEqual({ heartbeats: 0 });
    expect((await h.get('/v1/tenant', betaAdmin).expect(200)).body.requestLimits).toEqual(DEFAULTS);

    const token = (await h.put('/v1/people/alice/devices/alice-phone', { kind: 'mobile' }).expect(201)).body.token as string;
    for (let i = 0; i < 10; i++) await h.http.post('/v1/heartbeat').set('Authorization', `Bearer ${token}`).send({ state: 'foreground' }).expect(200);

    await h.put('/v1/tenant', { name: 'Acme', settings: { requestLimits: { heartbeats: 50 } } }).expect(200);
    expect((await h.get('/v1/tenant').expect(200)).body.requestLimits.heartbeats).toBe(50);
    expect((await h.put('/v1/tenant', { name: 'Acme', settings: { requestLimits: { heartbeats: 0 } } }).expect(400)).body.error.code).toBe('invalid_body');
  });

  it('0 for openStreams lifts the places held at once: more streams than the default stay open, and presence_open_streams still counts them', async () => {
    await setByOperator(h, 'acme', { openStreams: 0 }).expect(200);
    const url = await h.listen();
    const clients: SseClient[] = [];
    try {
      for (let i = 0; i < DEFAULTS.openStreams + 2; i++) clients.push(await openStream(`${url}/v1/stream`, ADMIN_KEY));
      expect(h.hub.limits.held('acme', 'openStreams')).toBe(DEFAULTS.openStreams + 2);
      expect(series((await h.get('/metrics').expect(200)).text, 'presence_open_streams', { tenant: 'acme' })).toBe(DEFAULTS.openStreams + 2);
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('POST /v1/tenants sets them at creation, checked with the tenant\'s own values in the same body', async () => {
    const created = (await h.post('/v1/tenants', { id: 'gamma', name: 'Gamma', operatorRequestLimits: { api: 900, heartbeats: 0 }, settings: { requestLimits: { api: 800 } } }, OPERATOR_KEY).expect(201)).body;
    expect(created.tenant.operatorRequestLimits).toEqual({ api: 900, heartbeats: 0 });
    expect((await h.get('/v1/tenant', created.adminKey.secret as string).expect(200)).body.requestLimits).toEqual({ ...DEFAULTS, api: 800, heartbeats: 0 });
  });

  it('POST /v1/tenants with a refused body stores nothing: neither the tenant nor its limits', async () => {
    const refused = [
      [{ id: 'gamma', name: 'Gamma', operatorRequestLimits: { api: 900 }, settings: { requestLimits: { api: 901 } } }, 'request_limit_above_default'],
      [{ id: 'gamma', name: 'Gamma', settings: { requestLimits: { api: 601 } } }, 'request_limit_above_default'],
      [{ id: 'gamma', name: 'Gamma', operatorRequestLimits: { api: -1 } }, 'invalid_body'],
      [{ id: 'gamma', name: 'Gamma', operatorRequestLimits: { everything: 1 } }, 'invalid_body'],
    ] as const;
    for (const [body, code] of refused) expect((await h.post('/v1/tenants', body, OPERATOR_KEY).expect(400)).body.error.code).toBe(code);
    expect(await h.hub.store.directory.get('tenants', '*', 'gamma')).toBeUndefined();
    expect(await h.hub.store.directory.get('operatorRequestLimits', '*', 'gamma')).toBeUndefined();
    const created = (await h.post('/v1/tenants', { id: 'gamma', name: 'Gamma' }, OPERATOR_KEY).expect(201)).body;
    expect(created.tenant).not.toHaveProperty('operatorRequestLimits');
  });

  it("a tenant's own limits are checked against the operator's as they are when written: PUT /v1/tenant waits for another replica's change of them, then is refused by it", async () => {
    await setByOperator(h, 'acme', { api: 900 }).expect(200);
    const turn = 'tenant-settings:acme';
    expect(await h.hub.store.leases.acquire(turn, 'another-replica', 60_000, h.clock.now())).toBe(true);
    // That replica lowers the operator's limit in its turn, then ends it.
    const lowered = async () => {
      await h.hub.store.directory.write([{ op: 'put', collection: 'operatorRequestLimits', doc: { id: 'acme', tenantId: '*', limits: { api: 700 } } }]);
      await h.hub.store.leases.release(turn, 'another-replica');
    };
    const res = await answerWhileWaiting(h, h.put('/v1/tenant', { name: 'Acme', settings: { requestLimits: { api: 800 } } }), lowered);
    expect([res.status, res.body.error?.code]).toEqual([400, 'request_limit_above_default']);
    expect((await h.hub.store.directory.get('tenants', '*', 'acme'))?.settings.requestLimits).toBeUndefined();
  });

  it("answers 503 tenant_settings_busy when another replica's change of the tenant's settings never ends, and writes nothing", async () => {
    expect(await h.hub.store.leases.acquire('tenant-settings:acme', 'another-replica', 60_000, h.clock.now())).toBe(true);
    const res = await answerWhileWaiting(h, setByOperator(h, 'acme', { api: 900 }));
    expect([res.status, res.body.error?.code]).toEqual([503, 'tenant_settings_busy']);
    expect(await h.hub.store.directory.get('operatorRequestLimits', '*', 'acme')).toBeUndefined();
  });

  it('POST /v1/tenants for an id that exists is 409 tenant_exists whatever its settings: a provisioning script sending its tenants again learns they exist', async () => {
    await h.post('/v1/tenants', { id: 'gamma', name: 'Gamma' }, OPERATOR_KEY).expect(201);
    const again = await h.post('/v1/tenants', { id: 'gamma', name: 'Gamma', settings: { requestLimits: { api: 601 } } }, OPERATOR_KEY).expect(409);
    expect(again.body.error.code).toBe('tenant_exists');
  });

  it('POST /v1/tenants that fails while writing (a replica dying, the store refusing) leaves no tenant without its admin key: the same POST then succeeds', async () => {
    const docs = h.hub.store.directory;
    const write = docs.write.bind(docs);
    docs.write = (async (ops) => {
      if (ops.some((op) => op.collection === 'apiKeys')) throw new Error('the store went away');
      return write(ops);
    }) as typeof docs.write;
    const body = { id: 'gamma', name: 'Gamma', operatorRequestLimits: { api: 900 } };
    try {
      await h.post('/v1/tenants', body, OPERATOR_KEY).expect(500);
    } finally {
      docs.write = write;
    }
    expect(await docs.get('tenants', '*', 'gamma')).toBeUndefined();
    expect(await docs.get('operatorRequestLimits', '*', 'gamma')).toBeUndefined();
    const created = (await h.post('/v1/tenants', body, OPERATOR_KEY).expect(201)).body;
    expect((await h.get('/v1/tenant', created.adminKey.secret as string).expect(200)).body.tenant).toMatchObject({ id: 'gamma', operatorRequestLimits: { api: 900 } });
    expect((await h.post('/v1/tenants', body, OPERATOR_KEY).expect(409)).body.error.code).toBe('tenant_exists');
  });

  it('refuses a malformed value or an unknown tenant, changing nothing', async () => {
    await setByOperator(h, 'acme', { api: 900 }).expect(200);
    for (const body of [{ api: -1 }, { api: 1.5 }, { api: '10' }, { everything: 1 }, { api: 100_000_001 }]) {
      expect((await setByOperator(h, 'acme', body).expect(400)).body.error.code).toBe('invalid_body');
    }
    expect((await setByOperator(h, 'nope', { api: 900 }).expect(404)).body.error.code).toBe('tenant_not_found');
    expect((await h.get('/v1/tenant').expect(200)).body.tenant.operatorRequestLimits).toEqual({ api: 900 });
  });
});

describeWith(['redis'], "the operator's request limits reach another replica (Redis)", () => {
  const redisEnv = sharedRedis('oplimits');

  it('within a second of the write, and a tenant write there keeps them', async () => {
    const env = { ...redisEnv(), ...LIMITS };
    const writer = await startTestHub({ env });
    const reader = await startTestHub({ env });
    try {
      const limitsOn = async (hub: TestHub) => (await hub.get('/v1/tenant').expect(200)).body.requestLimits as Record<string, number>;
      expect((await limitsOn(reader)).heartbeats).toBe(3);
      await setByOperator(writer, 'acme', { heartbeats: 10 }).expect(200);
      // The reader's copy of the tenant's limits is reused for a second by its own clock.
      await reader.clock.advance(999);
      expect((await limitsOn(reader)).heartbeats).toBe(3);
      await reader.clock.advance(1);
      expect((await limitsOn(reader)).heartbeats).toBe(10);
      await reader.put('/v1/tenant', { name: 'Acme', settings: { requestLimits: { heartbeats: 8 } } }).expect(200);
      expect((await writer.get('/v1/tenant').expect(200)).body.tenant).toMatchObject({ operatorRequestLimits: { heartbeats: 10 }, settings: { requestLimits: { heartbeats: 8 } } });
    } finally {
      await reader.stop();
      await writer.stop();
    }
  });

  it("a tenant's write on one replica, read before the operator's write on another and written after it, keeps the operator's limits", async () => {
    const env = { ...redisEnv(), ...LIMITS };
    const dns = slowDns();
    const operator = await startTestHub({ env });
    const tenant = await startTestHub({ env, resolve: dns.resolve });
    try {
      await operatorWritesWhileApplying(tenant, operator, dns);
    } finally {
      await tenant.stop();
      await operator.stop();
    }
  });
});
