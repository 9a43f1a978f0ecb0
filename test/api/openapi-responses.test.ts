import type request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCalendarHub, type CalendarTestHub } from '../support/calendar-hub.js';
import { OPERATOR_KEY, seedAlice, type PbxKey } from '../support/hub.js';
import { misfits, type Schema } from '../support/openapi-misfits.js';

type Call = (h: CalendarTestHub, s: Seeds) => request.Test | PromiseLike<request.Response>;
interface Seeds {
  pbx: PbxKey;
  token: string;
  link: string;
}

/**
 * Each route of the document, called as a client would, and the status its answer must have: both the
 * successes and the failures a client meets. Rows run in order on one hub (a row may keep what a later one
 * needs); a route with no row fails the last test, so a new route needs its row here.
 */
const ROWS: Array<[string, string, number, Call, ((body: Schema, s: Seeds) => void)?]> = [
  ['post', '/v1/tenants', 201, (h) => h.post('/v1/tenants', { id: 'beta', name: 'Beta', operatorRequestLimits: { api: 10 } }, OPERATOR_KEY)],
  ['post', '/v1/tenants', 409, (h) => h.post('/v1/tenants', { id: 'beta', name: 'Beta' }, OPERATOR_KEY)],
  ['put', '/v1/tenants/{tenantId}/request-limits', 200, (h) => h.put('/v1/tenants/beta/request-limits', { api: 5, openStreams: 0 }, OPERATOR_KEY)],
  ['put', '/v1/tenants/{tenantId}/request-limits', 404, (h) => h.put('/v1/tenants/nobody/request-limits', {}, OPERATOR_KEY)],
  ['get', '/v1/tenants', 200, (h) => h.get('/v1/tenants', OPERATOR_KEY)],
  ['delete', '/v1/tenants/{tenantId}', 204, (h) => h.del('/v1/tenants/beta', OPERATOR_KEY)],
  ['delete', '/v1/tenants/{tenantId}', 404, (h) => h.del('/v1/tenants/beta', OPERATOR_KEY)],
  ['put', '/v1/tenant', 200, (h) => h.put('/v1/tenant', { name: 'Acme', settings: { allowPrivateTargets: true, pstnGateway: 'gw.example.test', calendar: {}, requestLimits: { api: 100 } }, policy: { lookaheadMs: 3_600_000 } })],
  ['put', '/v1/tenant', 400, (h) => h.put('/v1/tenant', { name: 'Acme', colour: 'red' })],
  ['get', '/v1/tenant', 200, (h) => h.get('/v1/tenant')],
  ['put', '/v1/people/{personId}', 201, (h) => h.put('/v1/people/bob', { name: 'Bob', email: 'bob@example.test', extension: '1002', mobileNumber: '+4915112345678', workingHours: { mon: [['09:00', '17:00']] }, teams: ['support'], skills: { de: 50 } })],
  ['put', '/v1/people/{personId}', 200, (h) => h.put('/v1/people/bob', { name: 'Bob', email: 'bob@example.test', extension: '1002', teams: ['support'], skills: { de: 50 } })],
  ['put', '/v1/people/{personId}', 409, (h) => h.put('/v1/people/carol', { name: 'Carol', extension: '1002' })],
  ['get', '/v1/people', 200, (h) => h.get('/v1/people')],
  ['get', '/v1/people/{personId}', 200, (h) => h.get('/v1/people/alice')],
  ['get', '/v1/people/{personId}', 404, (h) => h.get('/v1/people/nobody')],
  ['put', '/v1/people/{personId}/devices/{deviceId}', 201, (h) => h.put('/v1/people/bob/devices/bob-app', { kind: 'mobile', name: 'Phone', contact: '+4915112345678' })],
  ['put', '/v1/people/{personId}/devices/{deviceId}', 200, (h) => h.put('/v1/people/bob/devices/bob-app', { kind: 'mobile', name: 'Phone' })],
  ['put', '/v1/people/{personId}/devices/{deviceId}', 409, (h) => h.put('/v1/people/bob/devices/alice-desk', { kind: 'desk' })],
  ['post', '/v1/people/{personId}/devices/{deviceId}/token', 200, (h) => h.post('/v1/people/bob/devices/bob-app/token', {}), (body, s) => (s.token = body.token)],
  ['post', '/v1/people/{personId}/devices/{deviceId}/token', 422, (h) => h.post('/v1/people/alice/devices/alice-desk/token', {})],
  ['get', '/v1/people/{personId}/devices', 200, (h) => h.get('/v1/people/bob/devices')],
  ['post', '/v1/heartbeat', 200, (h, s) => h.post('/v1/heartbeat', { state: 'foreground', battery: 80 }, s.token)],
  ['post', '/v1/heartbeat', 401, (h) => h.post('/v1/heartbeat', { state: 'foreground' }, 'phd_unknown')],
  ['delete', '/v1/people/{personId}/devices/{deviceId}/token', 204, (h) => h.del('/v1/people/bob/devices/bob-app/token')],
  ['delete', '/v1/people/{personId}/devices/{deviceId}', 204, (h) => h.del('/v1/people/bob/devices/bob-app')],
  ['delete', '/v1/people/{personId}/devices/{deviceId}', 404, (h) => h.del('/v1/people/bob/devices/bob-app')],
  ['post', '/v1/keys', 201, (h) => h.post('/v1/keys', { name: 'bob', role: 'member', personId: 'bob' })],
  ['post', '/v1/keys', 400, (h) => h.post('/v1/keys', { name: 'bob', role: 'member' })],
  ['get', '/v1/keys', 200, (h) => h.get('/v1/keys')],
  ['delete', '/v1/keys/{keyId}', 404, (h) => h.del('/v1/keys/nokey')],
  ['post', '/v1/pbx/events', 200, (h, s) => h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() - 1000 }, { type: 'registered', device: 'alice-desk', at: h.clock.now() - 1000 }, { type: 'bogus' }], s.pbx)],
  ['post', '/v1/pbx/events', 401, (h, s) => h.pbx([], { ...s.pbx, secret: 'phk_wrong' })],
  ['put', '/v1/people/{personId}/status', 200, (h) => h.put('/v1/people/alice/status', { activity: 'away', note: 'lunch', until: '2026-03-02T11:00:00Z' })],
  ['put', '/v1/people/{personId}/status', 422, (h) => h.put('/v1/people/alice/status', { activity: 'away', until: '2026-03-01T11:00:00Z' })],
  ['delete', '/v1/people/{personId}/status', 200, (h) => h.del('/v1/people/alice/status')],
  ['get', '/v1/presence', 200, (h) => h.get('/v1/presence')],
  ['get', '/v1/presence/{personId}', 200, (h) => h.get('/v1/presence/alice')],
  ['get', '/v1/teams/{teamId}/presence', 200, (h) => h.get('/v1/teams/support/presence')],
  ['put', '/v1/groups/{groupId}', 201, (h) => h.put('/v1/groups/sales', { name: 'Sales', extension: '600', strategy: 'sequential', members: [{ personId: 'alice' }, { personId: 'bob' }], fallback: [{ type: 'queue', uri: 'sip:queue@example.test' }, { type: 'voicemail', box: '600' }, { type: 'hangup', message: 'Closed' }] })],
  ['put', '/v1/groups/{groupId}', 200, (h) => h.put('/v1/groups/sales', { name: 'Sales', extension: '600', members: [{ personId: 'alice' }, { personId: 'bob' }], fallback: [{ type: 'forward', number: '+4930123456', label: 'reception' }] })],
  ['put', '/v1/groups/{groupId}', 422, (h) => h.put('/v1/groups/ghosts', { name: 'Ghosts', members: [{ personId: 'nobody' }] })],
  ['get', '/v1/groups', 200, (h) => h.get('/v1/groups')],
  ['get', '/v1/groups/{groupId}', 200, (h) => h.get('/v1/groups/sales')],
  ['post', '/v1/route', 200, (h) => h.post('/v1/route', { group: 'sales', dryRun: true })],
  ['post', '/v1/route', 200, (h) => h.post('/v1/route?format=rtjson', { group: 'sales', dryRun: true })],
  ['post', '/v1/route', 404, (h) => h.post('/v1/route', { group: 'nobody' })],
  ['put', '/v1/people/{personId}/queue-pause', 200, (h) => h.put('/v1/people/alice/queue-pause', { groups: ['sales'], until: '2026-03-02T12:00:00Z', reason: 'training' })],
  ['put', '/v1/people/{personId}/queue-pause/groups/{groupId}', 200, (h) => h.put('/v1/people/bob/queue-pause/groups/sales', {})],
  ['get', '/v1/queue-pauses', 200, (h) => h.get('/v1/queue-pauses')],
  ['get', '/v1/people/{personId}/queue-pause', 200, (h) => h.get('/v1/people/alice/queue-pause')],
  ['delete', '/v1/people/{personId}/queue-pause/groups/{groupId}', 204, (h) => h.del('/v1/people/bob/queue-pause/groups/sales')],
  ['delete', '/v1/people/{personId}/queue-pause', 204, (h) => h.del('/v1/people/alice/queue-pause')],
  ['get', '/v1/people/{personId}/queue-pause', 404, (h) => h.get('/v1/people/alice/queue-pause')],
  ['delete', '/v1/groups/{groupId}', 204, (h) => h.del('/v1/groups/sales')],
  ['delete', '/v1/groups/{groupId}', 404, (h) => h.del('/v1/groups/sales')],
  ['put', '/v1/targets/{targetId}', 201, (h) => h.put('/v1/targets/crm', { kind: 'webhook', name: 'CRM', url: 'http://127.0.0.1:9/hook', teams: ['support'], coalesceMs: 0 })],
  ['put', '/v1/targets/{targetId}', 200, (h) => h.put('/v1/targets/crm', { kind: 'webhook', name: 'CRM', url: 'http://127.0.0.1:9/hook', enabled: false })],
  ['put', '/v1/targets/{targetId}', 201, (h) => h.put('/v1/targets/ast', { kind: 'ari', name: 'Asterisk', baseUrl: 'http://127.0.0.1:9', username: 'u', password: 'p', enabled: false })],
  ['put', '/v1/targets/{targetId}', 201, (h) => h.put('/v1/targets/kam', { kind: 'sip', name: 'Kamailio', server: 'sip:127.0.0.1:9', domain: 'example.test', enabled: false })],
  ['put', '/v1/targets/{targetId}', 422, (h) => h.put('/v1/targets/ast2', { kind: 'ari', name: 'Asterisk', baseUrl: 'http://127.0.0.1:9', username: 'u' })],
  ['post', '/v1/targets/{targetId}/secret', 200, (h) => h.post('/v1/targets/crm/secret', {})],
  ['post', '/v1/targets/{targetId}/secret', 422, (h) => h.post('/v1/targets/ast/secret', {})],
  ['get', '/v1/targets', 200, (h) => h.get('/v1/targets')],
  ['get', '/v1/targets/{targetId}', 200, (h) => h.get('/v1/targets/crm')],
  ['get', '/v1/targets/{targetId}/status', 200, (h) => h.get('/v1/targets/crm/status')],
  ['get', '/v1/targets/{targetId}/status', 404, (h) => h.get('/v1/targets/nobody/status')],
  ['delete', '/v1/targets/{targetId}', 204, (h) => h.del('/v1/targets/kam')],
  ['post', '/v1/directory/apply', 200, (h) => h.post('/v1/directory/apply?dryRun=true', { tenant: 'acme', people: [{ id: 'zed', name: 'Zed' }] })],
  ['post', '/v1/directory/apply', 403, (h) => h.post('/v1/directory/apply', { tenant: 'other', people: [] })],
  ['post', '/v1/people/{personId}/connect-link', 201, (h) => h.post('/v1/people/alice/connect-link', {}), (body, s) => (s.link = new URL(body.url).pathname)],
  ['get', '/v1/people/{personId}/calendar', 200, async (h) => {
    // A broken grant, as a provider's invalid_grant leaves it (connecting for real is the calendar suites' part).
    const at = h.clock.now() - 60_000;
    const account = { id: 'g-alice', email: 'alice@example.test', name: 'Alice' };
    await h.hub.store.directory.write([{ op: 'put', collection: 'calendarConnections', doc: { id: 'google.alice', tenantId: 'acme', personId: 'alice', provider: 'google', mode: 'delegated', status: 'broken', account, scopes: [], connectedAt: at, updatedAt: at, brokenReason: 'invalid_grant', brokenAt: at } as never }]);
    return h.get('/v1/people/alice/calendar');
  }],
  ['get', '/v1/calendars', 200, (h) => h.get('/v1/calendars')],
  ['delete', '/v1/people/{personId}/calendar/{provider}', 204, (h) => h.del('/v1/people/alice/calendar/google')],
  ['delete', '/v1/people/{personId}/calendar/{provider}', 404, (h) => h.del('/v1/people/alice/calendar/google')],
  ['post', '/v1/calendars/microsoft/admin-consent', 201, (h) => h.post('/v1/calendars/microsoft/admin-consent', {})],
  ['delete', '/v1/calendars/microsoft/admin-consent', 404, (h) => h.del('/v1/calendars/microsoft/admin-consent')],
  ['post', '/v1/calendars/microsoft/connect-directory', 409, (h) => h.post('/v1/calendars/microsoft/connect-directory', {})],
  ['get', '/connect/{link}', 200, (h, s) => h.http.get(s.link)],
  ['get', '/connect/{link}', 404, (h) => h.http.get('/connect/forged')],
  ['post', '/connect/{link}/{provider}', 303, (h, s) => h.http.post(`${s.link}/google`)],
  ['post', '/connect/{link}/{provider}', 403, (h, s) => h.http.post(`${s.link}/google`).set('Sec-Fetch-Site', 'cross-site')],
  ['post', '/connect/{link}/{provider}/disconnect', 303, (h, s) => h.http.post(`${s.link}/google/disconnect`)],
  ['get', '/oauth/{provider}/callback', 400, (h) => h.http.get('/oauth/google/callback?state=forged&code=x')],
  ['get', '/oauth/microsoft/admin-consent/{ticket}', 400, (h) => h.http.get('/oauth/microsoft/admin-consent/forged')],
  ['post', '/oauth/microsoft/admin-consent/{ticket}', 400, (h) => h.http.post('/oauth/microsoft/admin-consent/forged')],
  ['get', '/oauth/microsoft/admin-sign-in', 400, (h) => h.http.get('/oauth/microsoft/admin-sign-in?state=forged')],
  ['get', '/oauth/microsoft/admin-callback', 400, (h) => h.http.get('/oauth/microsoft/admin-callback?state=forged')],
  ['post', '/v1/webhooks/microsoft', 200, (h) => h.http.post('/v1/webhooks/microsoft?validationToken=abc')],
  ['post', '/v1/webhooks/microsoft', 202, (h) => h.http.post('/v1/webhooks/microsoft').set('Content-Type', 'application/json').send('{"value":[{"subscriptionId":"x","clientState":"y"}]}')],
  ['post', '/v1/webhooks/microsoft/lifecycle', 202, (h) => h.http.post('/v1/webhooks/microsoft/lifecycle').set('Content-Type', 'application/json').send('{"value":[]}')],
  ['post', '/v1/webhooks/microsoft/lifecycle', 400, (h) => h.http.post('/v1/webhooks/microsoft/lifecycle').set('Content-Type', 'application/json').send('[')],
  ['post', '/v1/webhooks/google', 200, (h) => h.http.post('/v1/webhooks/google').set({ 'x-goog-channel-id': 'c', 'x-goog-resource-id': 'r', 'x-goog-resource-state': 'exists', 'x-goog-channel-token': 't' })],
  ['post', '/v1/webhooks/google', 400, (h) => h.http.post('/v1/webhooks/google')],
  ['get', '/v1/stream', 401, (h) => h.get('/v1/stream', 'phk_unknown')],
  ['delete', '/v1/people/{personId}', 204, (h) => h.del('/v1/people/bob')],
  ['delete', '/v1/people/{personId}', 404, (h) => h.del('/v1/people/bob')],
  ['delete', '/v1/keys/{keyId}', 204, async (h) => h.del(`/v1/keys/${(await h.get('/v1/keys')).body.keys.find((k: { role: string }) => k.role === 'pbx').id}`)],
  ['get', '/v1/people', 401, (h) => h.get('/v1/people', 'phk_unknown')],
  ['get', '/v1/people', 403, async (h) => h.get('/v1/people', (await h.post('/v1/keys', { name: 'partner', role: 'external' })).body.secret)],
  ['get', '/healthz', 200, (h) => h.http.get('/healthz')],
  ['get', '/readyz', 200, (h) => h.http.get('/readyz')],
  ['get', '/metrics', 200, (h) => h.http.get('/metrics')],
  ['get', '/openapi.json', 200, (h) => h.http.get('/openapi.json')],
  ['get', '/dashboard', 200, (h) => h.http.get('/dashboard')],
  ['get', '/dashboard/app.js', 200, (h) => h.http.get('/dashboard/app.js')],
  ['get', '/dashboard/queue.js', 200, (h) => h.http.get('/dashboard/queue.js')],
  ['get', '/dashboard/style.css', 200, (h) => h.http.get('/dashboard/style.css')],
];

describe('/openapi.json documents every answer of every route', () => {
  let h: CalendarTestHub;
  let doc: Schema;
  const called = new Set<string>();
  beforeAll(async () => {
    h = await startCalendarHub();
    doc = (await h.http.get('/openapi.json').expect(200)).body;
  });
  afterAll(() => h.stop());

  it('each answer fits the schema of its status and media type: no field undocumented, none required missing', async () => {
    const pbx = await seedAlice(h, { teams: ['support'] });
    const seeds: Seeds = { pbx, token: '', link: '' };
    for (const [method, path, status, call, keep] of ROWS) {
      const name = `${method.toUpperCase()} ${path} ${status}`;
      const res = (await call(h, seeds)) as request.Response;
      expect(res.status, `${name}: ${res.text?.slice(0, 300)}`).toBe(status);
      called.add(`${method} ${path}`);
      keep?.(res.body, seeds);
      const documented = doc.paths[path]?.[method]?.responses?.[status] ?? doc.paths[path]?.[method]?.responses?.['4XX'];
      expect(documented, `${name} is documented`).toBeDefined();
      const media = (res.headers['content-type'] as string | undefined)?.split(';')[0];
      if (status >= 300 && status < 400) expect(documented.headers?.Location, name).toBeDefined();
      if (!res.text || (status >= 300 && status < 400)) {
        expect(documented.content, `${name} has no body`).toBeUndefined();
        continue;
      }
      const content = Object.entries((documented.content ?? {}) as Record<string, Schema>).find(([m]) => m.split(';')[0] === media);
      expect(content, `${name} answers ${media}: documented ${Object.keys(documented.content ?? {})}`).toBeDefined();
      if (media !== 'application/json') continue;
      expect(misfits(doc, content![1].schema, res.body), name).toEqual([]);
      // A failure's code is one its status names, where it names any.
      const codes = content![1].schema.properties?.error?.properties?.code?.examples as string[] | undefined;
      if (codes) expect(codes, name).toContain(res.body.error.code);
    }
  });

  it('every route of the document has a row above, and every JSON success a schema', () => {
    const routes = Object.entries(doc.paths as Record<string, Record<string, Schema>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    expect(routes.filter((r) => !called.has(r) && r !== 'get /v1/stream')).toEqual([]);
    const untyped = Object.entries(doc.paths as Record<string, Record<string, Schema>>).flatMap(([p, ops]) =>
      Object.entries(ops).flatMap(([m, op]) => Object.entries(op.responses as Record<string, Schema>).filter(([s, r]) => /^2\d\d$/.test(s) && s !== '204' && !r.content).map(([s]) => `${m} ${p} ${s}`)),
    );
    expect(untyped).toEqual([]);
  });
});
