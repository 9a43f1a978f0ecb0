import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyRoute } from '../../services/api/route.js';
import { onlyLoopback, startCalendarHub, type CalendarTestHub } from '../support/calendar-hub.js';
import { createKeys, OPERATOR_KEY, seedAlice, type PbxKey } from '../support/hub.js';
import { openStream } from '../support/sse.js';

/**
 * Generated from the route list the app and the OpenAPI document are built from: a route added later
 * is called here too, or the test says what it needs (a path id, a body, a reason it needs no key).
 */

/** Tenant A's records, named in B's requests. */
const A = { personId: 'alice', deviceId: 'alice-desk', groupId: 'a-support', targetId: 'a-hook', provider: 'microsoft', tenantId: 'acme', teamId: 'support' } as const;

/** Bodies that name A's records wherever a body can name one. */
const BODIES: Record<string, unknown> = {
  'POST /v1/tenants': { id: 'delta', name: 'Delta' },
  'PUT /v1/tenants/:tenantId/request-limits': { openStreams: 1 },
  'PUT /v1/tenant': { name: 'Beta', settings: { allowPrivateTargets: false, wrapUpSeconds: 0 } },
  'PUT /v1/people/:personId': { name: 'Beta person' },
  'PUT /v1/people/:personId/devices/:deviceId': { kind: 'desk' },
  'PUT /v1/people/:personId/status': { activity: 'away' },
  'PUT /v1/people/:personId/queue-pause': { reason: 'not yours', groups: [A.groupId] },
  'POST /v1/keys': { name: 'as alice', role: 'member', personId: A.personId },
  'POST /v1/directory/apply': { tenant: A.tenantId, people: [{ id: A.personId, name: 'Taken over' }] },
  'PUT /v1/groups/:groupId': { name: 'Steal', members: [{ personId: A.personId }], fallback: [{ type: 'overflow', groupId: A.groupId }] },
  'POST /v1/route': { person: A.personId },
  'PUT /v1/targets/:targetId': { kind: 'webhook', name: 'Mine', url: 'https://192.0.2.1/b', enabled: false, people: [A.personId] },
  'POST /v1/heartbeat': {},
  'POST /v1/pbx/events': { events: [] },
};

/**
 * Routes where B may write a record of its own under the id A uses (ids are per tenant): the answer may
 * be a success, as long as A's records stay as they are (checked at the end).
 */
const OWN_NAMESPACE = new Set(['PUT /v1/people/:personId', 'PUT /v1/targets/:targetId', 'PUT /v1/tenant']);

/** Routes that take no API key, and why that cannot reach another tenant. */
const NO_KEY: Record<string, string> = {
  'GET /healthz': 'no tenant data',
  'GET /readyz': 'no tenant data',
  'GET /metrics': 'counters without tenant data (README)',
  'GET /openapi.json': 'the route list',
  'GET /dashboard': 'a static page; its script sends the key it is given',
  'GET /dashboard/app.js': 'a static script',
  'GET /dashboard/queue.js': 'a static script',
  'GET /dashboard/style.css': 'a static style sheet',
  'GET /connect/:link': "the person's signed link names the tenant",
  'POST /connect/:link/:provider': "the person's signed link names the tenant",
  'POST /connect/:link/:provider/disconnect': "the person's signed link names the tenant",
  'GET /oauth/:provider/callback': 'the stored flow (found by its random state) names the tenant',
  'GET /oauth/microsoft/admin-consent/:ticket': 'the stored start link (found by its random ticket) names the tenant',
  'POST /oauth/microsoft/admin-consent/:ticket': 'the stored start link (found by its random ticket) names the tenant',
  'GET /oauth/microsoft/admin-sign-in': 'the stored flow (found by its random state, browser cookie checked) names the tenant',
  'GET /oauth/microsoft/admin-callback': 'the stored flow names the tenant and the directory proven at sign-in; a directory is one tenant’s (admin-consent.test.ts)',
  'POST /v1/webhooks/microsoft': 'the subscription (found by its provider id, clientState checked) names the tenant',
  'POST /v1/webhooks/microsoft/lifecycle': 'the subscription (found by its provider id, clientState checked) names the tenant',
  'POST /v1/webhooks/google': 'the channel (found by its id, token checked) names the tenant',
};

const name = (r: AnyRoute) => `${r.method.toUpperCase()} ${r.path}`;

describe('tenancy, generated from every route: a key of tenant B never reads or changes tenant A', () => {
  let h: CalendarTestHub;
  let bAdmin: string;
  let aPbx: PbxKey;
  let aKeyId: string;
  const aSnapshot: Record<string, unknown> = {};
  const A_VIEWS = ['/v1/presence/alice', '/v1/people', '/v1/people/alice/devices', '/v1/groups', '/v1/targets', '/v1/keys', '/v1/queue-pauses', '/v1/tenant', '/v1/calendars'];

  beforeAll(async () => {
    onlyLoopback();
    h = await startCalendarHub();
    aPbx = await seedAlice(h);
    await h.put('/v1/tenant', { name: 'Acme', settings: { allowPrivateTargets: true, wrapUpSeconds: 0 } }).expect(200);
    await h.put(`/v1/groups/${A.groupId}`, { name: 'Support', members: [{ personId: A.personId }] }).expect(201);
    await h.put(`/v1/targets/${A.targetId}`, { kind: 'webhook', name: 'A hook', url: 'http://127.0.0.1:9/a', enabled: false }).expect(201);
    await h.put('/v1/people/alice/queue-pause', { reason: 'A only', groups: [A.groupId] }).expect(200);
    await h.pbx([{ type: 'registered', device: A.deviceId, at: h.clock.now() }], aPbx).expect(200);
    aKeyId = (await h.get('/v1/keys')).body.keys.find((k: { role: string }) => k.role === 'pbx').id;
    bAdmin = (await h.post('/v1/tenants', { id: 'beta', name: 'Beta' }, OPERATOR_KEY).expect(201)).body.adminKey.secret;
    for (const v of A_VIEWS) aSnapshot[v] = (await h.get(v).expect(200)).body;
  });
  afterAll(async () => {
    nock.cleanAll();
    await h.stop();
  });

  function pathFor(r: AnyRoute): string {
    return r.path.replace(/:([A-Za-z]+)/g, (_m, p: string) => {
      if (p === 'keyId') return aKeyId;
      if (p === 'link') return 'not-a-link';
      const id = (A as Record<string, string>)[p];
      if (id === undefined) throw new Error(`${r.method.toUpperCase()} ${r.path}: say in A which of tenant A's ids :${p} takes`);
      return id;
    });
  }

  it('every route is in the table: key routes are called with B’s admin key, the others say why they need none', async () => {
    const keyRoutes = h.routes.filter((r) => r.auth === 'key');
    expect(keyRoutes.length).toBeGreaterThan(40);
    for (const r of h.routes) {
      if (r.auth === 'none') expect(NO_KEY[name(r)], `${name(r)} takes no key: add it to NO_KEY with the reason`).toBeTypeOf('string');
      if (r.body && r.auth !== 'none') expect(BODIES[name(r)], `${name(r)} takes a body: add one naming A's records to BODIES`).toBeDefined();
    }
    // Nothing listed that no longer exists.
    for (const k of [...Object.keys(NO_KEY), ...Object.keys(BODIES), ...OWN_NAMESPACE]) expect(h.routes.map(name), k).toContain(k);
  });

  it("B's admin key gets 401/403/404/409/422 for every route naming A's records, and sees nothing of A elsewhere", async () => {
    // Writes into B's own namespace last: after them B has an `alice` of its own.
    const routes = h.routes.filter((x) => x.auth !== 'none' && x.path !== '/v1/stream');
    for (const r of [...routes.filter((x) => !OWN_NAMESPACE.has(name(x))), ...routes.filter((x) => OWN_NAMESPACE.has(name(x)))]) {
      const t = h.http[r.method](pathFor(r)).set('Authorization', `Bearer ${bAdmin}`);
      const body = BODIES[name(r)];
      const res = await (body !== undefined ? t.send(body as object) : t);
      const namesA = /:[A-Za-z]+/.test(r.path) || body !== undefined;
      if (res.status < 300) {
        expect(namesA && !OWN_NAMESPACE.has(name(r)) && r.method !== 'get' ? name(r) : '', `${name(r)} answered ${res.status}`).toBe('');
        const text = JSON.stringify(res.body);
        for (const marker of ['alice', A.groupId, A.targetId, aKeyId, 'Acme', '1001']) expect(text.includes(marker) && !OWN_NAMESPACE.has(name(r)) ? `${name(r)} shows ${marker}` : '').toBe('');
      } else {
        expect([401, 403, 404, 409, 422], `${name(r)} answered ${res.status}: ${JSON.stringify(res.body)}`).toContain(res.status);
        expect(res.body.error.code, name(r)).toBeTypeOf('string');
      }
    }
    for (const v of A_VIEWS) expect((await h.get(v).expect(200)).body, v).toEqual(aSnapshot[v]);
  });

  it("B's stream, even asked for A's person or team, carries none of A", async () => {
    const url = await h.listen();
    await h.put('/v1/people/alice', BODIES['PUT /v1/people/:personId'], bAdmin);
    const byPerson = await openStream(`${url}/v1/stream?person=alice`, bAdmin);
    const byTeam = await openStream(`${url}/v1/stream?team=support`, bAdmin);
    try {
      // B has an `alice` of its own: B's, never A's.
      const names = (e: { data: { presence: Array<{ name: string }> } }) => e.data.presence.map((p) => p.name);
      expect(names(await byPerson.waitFor((e) => e.event === 'snapshot'))).toEqual(['Beta person']);
      expect(names(await byTeam.waitFor((e) => e.event === 'snapshot'))).toEqual([]);
      await h.put('/v1/people/alice/status', { activity: 'dnd' }).expect(200);
      await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
      // B's own change comes after A's: once both streams show it, they have had every chance to show A's alice.
      await h.put('/v1/people/alice/status', { activity: 'break' }, bAdmin).expect(200);
      await h.put('/v1/people/b-marker', { name: 'B marker', teams: ['support'] }, bAdmin).expect(201);
      await h.put('/v1/people/b-marker/status', { activity: 'dnd' }, bAdmin).expect(200);
      await byTeam.waitFor((e) => e.event === 'presence' && e.data.personId === 'b-marker' && e.data.availability === 'dnd');
      await byPerson.waitFor((e) => e.event === 'presence' && e.data.personId === 'alice' && e.data.availability === 'away');
      const shown = [...byPerson.events, ...byTeam.events].filter((e) => e.event === 'presence');
      expect(shown.map((e) => `${e.data.personId}:${e.data.availability}`)).not.toContain('alice:dnd');
      expect(JSON.stringify([...byPerson.events, ...byTeam.events])).not.toMatch(/"Alice"|1001/);
    } finally {
      byPerson.close();
      byTeam.close();
    }
  });
});

describe('roles, generated from every route: a key outside the roles a route lists is refused, whatever it names', () => {
  let h: CalendarTestHub;
  const keys: Record<string, string> = {};
  const ROLE_OF: Record<string, string> = { supervisor: 'supervisor', bob: 'member', external: 'external', pbx: 'pbx' };

  beforeAll(async () => {
    onlyLoopback();
    h = await startCalendarHub();
    await seedAlice(h);
    await h.put('/v1/people/bob', { name: 'Bob', extension: '1002' }).expect(201);
    Object.assign(keys, await createKeys(h, { supervisor: { role: 'supervisor' }, bob: { role: 'member', personId: 'bob' }, external: { role: 'external' }, pbx: { role: 'pbx' } }));
  });
  afterAll(async () => {
    nock.cleanAll();
    await h.stop();
  });

  it('every key route says which roles may use it, and the others get 403 forbidden_role', async () => {
    const own = { ...A, personId: 'bob', deviceId: 'bob-phone', keyId: 'k', link: 'l' } as Record<string, string>;
    let refused = 0;
    for (const r of h.routes.filter((x) => x.auth === 'key')) {
      expect(r.roles, `${name(r)} must list its roles`).toBeDefined();
      for (const [holder, role] of Object.entries(ROLE_OF)) {
        if (r.roles!.includes(role as never)) continue;
        const t = h.http[r.method](r.path.replace(/:([A-Za-z]+)/g, (_m, p: string) => own[p] ?? p)).set('Authorization', `Bearer ${keys[holder]}`);
        const body = BODIES[name(r)];
        const res = await (body !== undefined ? t.send(body as object) : t);
        expect(`${name(r)} as ${role}: ${res.status} ${res.body.error?.code}`).toBe(`${name(r)} as ${role}: 403 forbidden_role`);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(100);
  });
});
