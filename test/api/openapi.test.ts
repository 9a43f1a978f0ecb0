import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys, ADMIN_KEY, seedAlice, startTestHub, type TestHub } from '../support/hub.js';
import { startReceiver } from '../support/receiver.js';
import { misfits, type Schema } from '../support/openapi-misfits.js';
import { openStream } from '../support/sse.js';

describe('/openapi.json matches the routes', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub();
  });
  afterAll(() => h.stop());

  it('lists exactly the routes the app serves, each with its method, parameters and body', async () => {
    const doc = (await h.http.get('/openapi.json').expect(200)).body;
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    // What express actually routes, read from its router.
    const router = (h.app as unknown as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } }).router;
    const served = router.stack
      .filter((l) => l.route)
      .flatMap((l) => Object.keys(l.route!.methods).map((m) => `${m.toUpperCase()} ${l.route!.path.replace(/:([A-Za-z]+)/g, '{$1}')}`));
    expect(documented.sort()).toEqual(served.sort());
    const put = doc.paths['/v1/people/{personId}/status'].put;
    expect(put.parameters).toContainEqual(expect.objectContaining({ name: 'personId', in: 'path', required: true }));
    expect(put.requestBody.content['application/json'].schema.properties.activity).toBeDefined();
    expect(doc.paths['/v1/pbx/events'].post.security).toEqual([{ pbxKeyId: [], pbxTimestamp: [], pbxSignature: [] }]);
    expect(doc.paths['/v1/pbx/events'].post.responses['200'].description).toMatch(/counts events.*rejected and ignoredEvents list/);
    // A heartbeat admits fields a newer app adds (and names them); directory bodies stay closed, so a typo is a 400.
    const bodySchema = (p: string, m: string) => doc.paths[p][m].requestBody.content['application/json'].schema;
    expect(bodySchema('/v1/heartbeat', 'post').additionalProperties).toBeUndefined();
    expect(doc.paths['/v1/heartbeat'].post.responses['200'].description).toMatch(/ignoredFields names .*the first 20.*ignoredFieldCount/);
    // The operator sets one tenant's limits, with the same per-class body a tenant's own settings take.
    const operatorLimits = doc.paths['/v1/tenants/{tenantId}/request-limits'].put;
    expect(operatorLimits.security).toEqual([{ operatorKey: [] }]);
    expect(Object.keys(operatorLimits.requestBody.content['application/json'].schema.properties).sort()).toEqual(['api', 'heartbeats', 'openStreams', 'pbxEvents', 'streams', 'tenantApi']);
    // 0 lifts a class for one tenant (the operator's only; a tenant's own values start at 1); a new tenant may carry them.
    expect(operatorLimits.requestBody.content['application/json'].schema.properties.api.minimum).toBe(0);
    expect(bodySchema('/v1/tenant', 'put').properties.settings.properties.requestLimits.properties.api.minimum).toBe(1);
    expect(bodySchema('/v1/tenants', 'post').properties.operatorRequestLimits.properties.api.minimum).toBe(0);
    expect(doc.paths['/v1/tenants'].post.responses['400'].description).toMatch(/request_limit_above_default.*nothing stored/);
    // Writes for a tenant being deleted are refused; its id is taken until the deletion finishes.
    expect(doc.paths['/v1/tenants'].post.responses['409'].description).toMatch(/tenant_exists, whatever the settings.*tenant_being_deleted/);
    expect(doc.paths['/v1/tenants/{tenantId}'].delete.responses['204'].description).toMatch(/cut short/);
    for (const [p, m] of [['/v1/keys', 'post'], ['/v1/groups/{groupId}', 'put'], ['/v1/targets/{targetId}', 'put'], ['/v1/people/{personId}', 'put']] as const) {
      expect(doc.paths[p][m].responses['404'].description, `${m} ${p}`).toMatch(/tenant_not_found/);
    }
    expect(doc.paths['/v1/targets/{targetId}/secret'].post.responses['404'].description).toMatch(/target_not_found/);
    expect(doc.paths['/oauth/microsoft/admin-callback'].get.responses['404'].description).toMatch(/tenant_not_found/);
    expect(doc.paths['/oauth/{provider}/callback'].get.responses['404'].description).toMatch(/person_not_found, tenant_not_found/);
    for (const [p, m] of [['/v1/tenant', 'put'], ['/v1/tenants/{tenantId}/request-limits', 'put'], ['/v1/directory/apply', 'post']] as const) {
      expect(doc.paths[p][m].responses['503'].description, `${m} ${p}`).toMatch(/tenant_settings_busy/);
    }
    expect(bodySchema('/v1/people/{personId}/devices/{deviceId}', 'put').additionalProperties).toBe(false);
    expect(bodySchema('/v1/people/{personId}', 'put').additionalProperties).toBe(false);
    const targetStatus = doc.paths['/v1/targets/{targetId}/status'].get;
    expect(targetStatus.description ?? targetStatus.summary).toMatch(/nextProbeAt/);
    expect(targetStatus.responses['200'].description).toMatch(/failing \(with nextProbeAt/);
  });

  it('documents a 429 with Retry-After wherever a request limit can refuse, and nowhere else', async () => {
    const doc = (await h.http.get('/openapi.json').expect(200)).body;
    const limited = (p: string, m: string) => doc.paths[p][m].responses['429'];
    expect(limited('/v1/people', 'get').description).toMatch(/^too many API requests for this key; or too many failed authentications from this address/);
    expect(limited('/v1/stream', 'get').description).toMatch(/^too many stream connections opened with this key; or too many streams open at once for this tenant; or too many failed/);
    expect(limited('/v1/stream', 'get').headers['Retry-After'].description).toMatch(/open at once, when to look again/);
    expect(limited('/v1/heartbeat', 'post').description).toMatch(/^too many heartbeats from this device/);
    expect(limited('/v1/pbx/events', 'post').description).toMatch(/^more events than the tenant's PBX event limit has left \(nothing applied; .*; or too many failed authentications/);
    expect(limited('/v1/tenants', 'post').description).toMatch(/^too many failed authentications from this address/);
    expect(limited('/v1/people', 'get').headers['Retry-After'].schema).toEqual({ type: 'integer' });
    for (const [p, m] of [['/healthz', 'get'], ['/metrics', 'get'], ['/v1/webhooks/microsoft', 'post'], ['/v1/webhooks/google', 'post']] as const) {
      expect(limited(p, m), `${m} ${p}`).toBeUndefined();
    }
  });

  it('every documented route answers something other than route_not_found', async () => {
    const doc = (await h.http.get('/openapi.json')).body;
    for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      if (p === '/v1/stream') continue;
      for (const m of Object.keys(ops)) {
        const res = await (h.http as unknown as Record<string, (u: string) => PromiseLike<{ body: { error?: { code: string } } }>>)[m]!(p.replace(/\{[^}]+\}/g, 'x'));
        expect(res.body?.error?.code, `${m} ${p}`).not.toBe('route_not_found');
      }
    }
  });

  it('documents what each role is shown of presence, on REST, the stream and webhooks, as the service answers it', async () => {
    const doc = (await h.http.get('/openapi.json').expect(200)).body as Schema;
    const json = (p: string) => doc.paths[p].get.responses['200'].content['application/json'].schema as Schema;
    const pbx = await seedAlice(h, { teams: ['support'] });
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() - 1000 }], pbx).expect(200);
    await h.put('/v1/people/bob', { name: 'Bob', extension: '1002', teams: ['support'], sensitive: true }).expect(201);
    await h.put('/v1/people/alice/status', { activity: 'away', note: 'dentist', until: '2026-03-02T11:00:00Z' }).expect(200);
    await h.put('/v1/tenant', { name: 'Acme', settings: { allowPrivateTargets: true } }).expect(200);
    const rx = await startReceiver();
    try {
      await h.put('/v1/targets/crm', { kind: 'webhook', name: 'CRM', url: `${rx.url}/hook`, coalesceMs: 0 }).expect(201);
      const keys = { admin: ADMIN_KEY, ...(await createKeys(h)) };
      const base = await h.listen();
      // Every field documented is answered to some role: one no view fills any more is caught too.
      const answered = new Set<string>();
      for (const [name, key] of Object.entries(keys)) {
        const all = (await h.get('/v1/presence', key).expect(200)).body;
        expect(misfits(doc, json('/v1/presence'), all), name).toEqual([]);
        for (const v of all.presence as Array<Record<string, unknown>>) for (const k of Object.keys(v)) answered.add(k);
        expect(misfits(doc, json('/v1/teams/{teamId}/presence'), (await h.get('/v1/teams/support/presence', key).expect(200)).body), name).toEqual([]);
        for (const id of ['alice', 'bob']) expect(misfits(doc, json('/v1/presence/{personId}'), (await h.get(`/v1/presence/${id}`, key).expect(200)).body), `${name} ${id}`).toEqual([]);
        const stream = await openStream(`${base}/v1/stream`, key);
        const snapshot = await stream.waitFor((e) => e.event === 'snapshot');
        stream.close();
        expect(misfits(doc, { $ref: '#/components/schemas/StreamSnapshot' }, snapshot.data), name).toEqual([]);
      }
      expect([...answered].sort()).toEqual(Object.keys(doc.components.schemas.PresenceView.properties as Schema).sort());
      // Each event the stream's answer names is a schema of the document.
      expect(doc.paths['/v1/stream'].get.responses['200'].content['text/event-stream'].schema.description).toMatch(/StreamSnapshot, PresenceView, StreamRemoved/);
      await h.del('/v1/people/bob').expect(204);
      const deliveries = await rx.waitFor(3);
      const hook = doc.webhooks.presence.post;
      expect(hook.parameters.map((p: Schema) => p.name)).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
      for (const d of deliveries) expect(misfits(doc, hook.requestBody.content['application/json'].schema, JSON.parse(d.body)), d.body).toEqual([]);
      expect(deliveries.map((d) => JSON.parse(d.body).type)).toContain('presence.removed');
    } finally {
      await rx.close();
    }
  });
});
