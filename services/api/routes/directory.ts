import { z } from 'zod';
import {
  apiKeyInputSchema,
  deviceInputSchema,
  type ApiKey,
  type Device,
  personInputSchema,
  tenantIdSchema,
  tenantInputSchema,
} from '../../../shared/domain/directory.js';
import { operatorRequestLimitsSchema } from '../../../shared/domain/request-limits.js';
import { notFound } from '../../../shared/errors/errors.js';
import { applyDirectory } from '../../directory/apply.js';
import { directoryDocumentSchema } from '../../directory/apply-document.js';
import type { Hub } from '../../hub.js';
import { recordId } from '../http-errors.js';
import { assertSelfOrRoles, tenantOf, type Principal } from '../auth.js';
import { route, type AnyRoute } from '../route.js';
import { apiKeyListSchema, apiKeySchema, applyAnswerSchema, deviceAnswerSchema, deviceListSchema, deviceSchema, deviceTokenSchema, newApiKeySchema, createdTenantSchema, ownTenantSchema, personListSchema, personSchema, tenantAnswerSchema, tenantLimitsSchema, tenantListSchema } from '../response-schema.js';

const applyQuery = z.object({
  dryRun: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  prune: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
});

const newTenantSchema = tenantInputSchema.extend({ id: tenantIdSchema, operatorRequestLimits: operatorRequestLimitsSchema.optional() });

/** A key as answered: its instant in RFC 3339, and a PBX key's name in its signed batches, `<tenant>/<key id>`. */
function keyView(key: Omit<ApiKey, 'hash' | 'sealed'>): z.output<typeof apiKeySchema> {
  const view = { ...key, createdAt: new Date(key.createdAt).toISOString() };
  return key.role === 'pbx' ? { ...view, signingKeyId: `${key.tenantId}/${key.id}` } : view;
}

/** A device as answered: never its token's hash, only whether it has one and since when. */
function deviceView({ tokenHash, tokenIssuedAt, ...device }: Device): z.output<typeof deviceSchema> {
  return { ...device, hasToken: tokenHash !== undefined, ...(tokenIssuedAt === undefined ? {} : { tokenIssuedAt: new Date(tokenIssuedAt).toISOString() }) };
}

export function directoryRoutes(hub: Hub): AnyRoute[] {
  const { directory } = hub;
  /** The device named in the path, if it belongs to the person in the path and the caller may act for them. */
  async function ownDevice(principal: Principal, params: Record<string, string>) {
    assertSelfOrRoles(principal, params.personId!, ['admin']);
    const tenantId = tenantOf(principal);
    const device = await directory.getDevice(tenantId, params.deviceId!);
    if (device.personId !== params.personId) throw notFound('device', params.deviceId);
    return { tenantId, device };
  }
  return [
    // ── tenants (operator) ──
    route({
      method: 'post',
      path: '/v1/tenants',
      summary: 'Create a tenant and its first admin key, with the operator\'s request limits for it if `operatorRequestLimits` is given (operator key only)',
      tag: 'tenants',
      auth: 'operator',
      body: newTenantSchema,
      returns: { 201: createdTenantSchema },
      responses: {
        201: 'the tenant (with operatorRequestLimits if the body set any) and an admin key secret, shown once',
        400: "invalid body, or, for an id not taken, settings.requestLimits above the operatorRequestLimits of the same body, else the deployment default (request_limit_above_default): nothing stored",
        409: 'tenant exists (tenant_exists, whatever the settings), also when another creation of the same id won at the same moment: no admin key issued; or its deletion has not finished (tenant_being_deleted: delete it again, then create it)',
      },
      async handle({ body }) {
        const { id, operatorRequestLimits, ...input } = body;
        const { tenant, admin } = await directory.createTenant(id, input, operatorRequestLimits);
        return { status: 201, body: { tenant, adminKey: { ...keyView(admin.key), secret: admin.secret } } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/tenants',
      summary: 'List tenants (operator key only); `deleting`: ids whose deletion was cut short, taken until `DELETE` is sent again',
      tag: 'tenants',
      auth: 'operator',
      returns: { 200: tenantListSchema },
      responses: { 200: 'all tenants, and `deleting: [{ id, since }]`' },
      async handle() {
        const [tenants, deleting] = await Promise.all([directory.listTenants(), directory.unfinishedDeletions()]);
        return { body: { tenants, deleting } };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/tenants/:tenantId',
      summary: 'Delete a tenant with all its people, devices, keys, groups and push targets (operator key only)',
      tag: 'tenants',
      auth: 'operator',
      responses: { 204: 'deleted; also a deletion cut short before, which this one finishes', 404: 'unknown tenant (tenant_not_found)' },
      async handle({ params }) {
        const tenantId = params.tenantId!;
        // Their publishers stop now.
        for (const targetId of await directory.deleteTenant(tenantId)) await hub.pipeline.reload(tenantId, targetId);
        return { status: 204 };
      },
    }),
    route({
      method: 'put',
      path: '/v1/tenants/:tenantId/request-limits',
      summary:
        "Set a tenant's request limits in place of the deployment's defaults, above or below them, 0 for no limit (operator key only): the whole set, `{}` for none; the tenant may lower them further, not raise them",
      tag: 'tenants',
      auth: 'operator',
      body: operatorRequestLimitsSchema,
      returns: { 200: tenantLimitsSchema },
      responses: {
        200: 'the tenant (operatorRequestLimits) and the request limits that now apply to it',
        404: 'unknown tenant, also one deleted as they are written (tenant_not_found): nothing stored',
        503: "a change of the tenant's settings on another replica kept its turn (tenant_settings_busy): nothing stored, try again",
      },
      async handle({ params, body }) {
        const tenant = await directory.setOperatorRequestLimits(params.tenantId!, body);
        return { body: { tenant, requestLimits: await hub.limits.limitsOf(tenant.id) } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/tenant',
      summary: "The caller's tenant: name, settings and presence policy",
      tag: 'tenants',
      auth: 'key',
      roles: ['admin'],
      returns: { 200: ownTenantSchema },
      responses: { 200: 'the tenant (its own settings.requestLimits, and operatorRequestLimits if the operator set any), its effective policy, and the request limits that apply to it (per minute and replica, openStreams at once; 0: none)' },
      async handle({ principal }) {
        const tenantId = tenantOf(principal);
        return { body: { tenant: await directory.getTenant(tenantId), effectivePolicy: await directory.policyFor(tenantId), requestLimits: await hub.limits.limitsOf(tenantId) } };
      },
    }),
    route({
      method: 'put',
      path: '/v1/tenant',
      summary: "Replace the caller's tenant name, settings and policy overrides",
      tag: 'tenants',
      auth: 'key',
      roles: ['admin'],
      body: tenantInputSchema,
      returns: { 200: tenantAnswerSchema },
      responses: {
        200: 'the updated tenant',
        400: "invalid body, or settings.requestLimits above the tenant's ceiling: the operator's limit for it, else the deployment default (request_limit_above_default)",
        404: 'the tenant was deleted meanwhile (tenant_not_found): not brought back',
        503: "another change of the tenant's settings or of the operator's limits for it kept its turn (tenant_settings_busy): nothing stored, try again",
      },
      async handle({ principal, body }) {
        return { body: { tenant: await directory.putTenant(tenantOf(principal), body) } };
      },
    }),
    // ── people ──
    route({
      method: 'get',
      path: '/v1/people',
      summary: 'List the directory',
      tag: 'people',
      auth: 'key',
      roles: ['admin', 'supervisor'],
      returns: { 200: personListSchema },
      responses: { 200: 'all people of the tenant' },
      async handle({ principal }) {
        return { body: { people: await directory.listPeople(tenantOf(principal)) } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/people/:personId',
      summary: 'One person from the directory',
      tag: 'people',
      auth: 'key',
      roles: ['admin', 'supervisor', 'member'],
      returns: { 200: personSchema },
      responses: { 200: 'the person', 404: 'unknown person (person_not_found)' },
      async handle({ principal, params }) {
        assertSelfOrRoles(principal, params.personId!, ['admin', 'supervisor']);
        return { body: await directory.getPerson(tenantOf(principal), params.personId!) };
      },
    }),
    route({
      method: 'put',
      path: '/v1/people/:personId',
      summary: 'Create or replace a person',
      tag: 'people',
      auth: 'key',
      roles: ['admin'],
      body: personInputSchema,
      returns: { 200: personSchema, 201: personSchema },
      responses: { 200: 'replaced', 201: 'created', 404: 'the tenant was deleted meanwhile (tenant_not_found): nothing stored', 409: 'extension or SIP URI already used (extension_taken, sipUri_taken)' },
      async handle({ principal, params, body }) {
        const { person, created } = await directory.putPerson(tenantOf(principal), recordId(params.personId, 'person'), body);
        return { status: created ? 201 : 200, body: person };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/people/:personId',
      summary: 'Delete a person with their devices, member keys and state',
      tag: 'people',
      auth: 'key',
      roles: ['admin'],
      responses: { 204: 'deleted', 404: 'unknown person (person_not_found)' },
      async handle({ principal, params }) {
        await directory.deletePerson(tenantOf(principal), params.personId!);
        return { status: 204 };
      },
    }),
    // ── devices ──
    route({
      method: 'get',
      path: '/v1/people/:personId/devices',
      summary: "A person's devices",
      tag: 'devices',
      auth: 'key',
      roles: ['admin', 'supervisor', 'member'],
      returns: { 200: deviceListSchema },
      responses: { 200: 'the devices', 404: 'unknown person (person_not_found)' },
      async handle({ principal, params }) {
        assertSelfOrRoles(principal, params.personId!, ['admin', 'supervisor']);
        const tenantId = tenantOf(principal);
        await directory.getPerson(tenantId, params.personId!);
        const devices = await directory.listDevices(tenantId, params.personId!);
        return { body: { devices: devices.map(deviceView) } };
      },
    }),
    route({
      method: 'put',
      path: '/v1/people/:personId/devices/:deviceId',
      summary: 'Create or replace a device; a new mobile device gets its own token (shown once)',
      tag: 'devices',
      auth: 'key',
      roles: ['admin', 'member'],
      body: deviceInputSchema.omit({ personId: true }),
      returns: { 200: deviceAnswerSchema, 201: deviceAnswerSchema },
      responses: { 200: 'replaced', 201: 'created', 404: 'unknown person, also one deleted as it is written (person_not_found): nothing stored', 409: 'device belongs to someone else (device_belongs_to_other_person)' },
      async handle({ principal, params, body }) {
        assertSelfOrRoles(principal, params.personId!, ['admin']);
        const deviceId = recordId(params.deviceId, 'device');
        const r = await directory.putDevice(tenantOf(principal), deviceId, { ...body, personId: params.personId! });
        const device = deviceView(r.device);
        return { status: r.created ? 201 : 200, body: r.token ? { device, token: r.token } : { device } };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/people/:personId/devices/:deviceId',
      summary: 'Delete a device; what it reported is forgotten',
      tag: 'devices',
      auth: 'key',
      roles: ['admin', 'member'],
      responses: { 204: 'deleted', 404: 'unknown device (device_not_found)' },
      async handle({ principal, params }) {
        const { tenantId, device: d } = await ownDevice(principal, params);
        await directory.deleteDevice(tenantId, d.id);
        return { status: 204 };
      },
    }),
    route({
      method: 'post',
      path: '/v1/people/:personId/devices/:deviceId/token',
      summary: 'Issue a new token for a mobile device; the previous one stops working',
      tag: 'devices',
      auth: 'key',
      roles: ['admin', 'member'],
      returns: { 200: deviceTokenSchema },
      responses: { 200: 'the token, shown once', 404: 'unknown device, also one (or its person) deleted meanwhile (device_not_found)', 422: 'not a mobile device (not_a_mobile_device)' },
      async handle({ principal, params }) {
        const { tenantId, device: d } = await ownDevice(principal, params);
        return { body: { token: await directory.issueDeviceToken(tenantId, d.id) } };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/people/:personId/devices/:deviceId/token',
      summary: "Revoke a mobile device's token; the app stops counting as reachable at once",
      tag: 'devices',
      auth: 'key',
      roles: ['admin', 'member'],
      responses: { 204: 'revoked', 404: 'unknown device, also one (or its person) deleted meanwhile (device_not_found)' },
      async handle({ principal, params }) {
        const { tenantId, device: d } = await ownDevice(principal, params);
        await directory.revokeDeviceToken(tenantId, d.id);
        return { status: 204 };
      },
    }),
    // ── keys ──
    route({
      method: 'get',
      path: '/v1/keys',
      summary: "The tenant's API keys (never their secrets)",
      tag: 'keys',
      auth: 'key',
      roles: ['admin'],
      returns: { 200: apiKeyListSchema },
      responses: { 200: 'the keys' },
      async handle({ principal }) {
        return { body: { keys: (await directory.listKeys(tenantOf(principal))).map(keyView) } };
      },
    }),
    route({
      method: 'post',
      path: '/v1/keys',
      summary: 'Create an API key with a role; the secret is shown once',
      tag: 'keys',
      auth: 'key',
      roles: ['admin'],
      body: apiKeyInputSchema,
      returns: { 201: newApiKeySchema },
      responses: { 201: 'the key and its secret', 404: 'unknown person for a member key, also one deleted as it is written (person_not_found), or the tenant deleted as it is written (tenant_not_found): no key stored' },
      async handle({ principal, body }) {
        const { key, secret } = await directory.createKey(tenantOf(principal), body);
        return { status: 201, body: { ...keyView(key), secret } };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/keys/:keyId',
      summary: 'Revoke an API key',
      tag: 'keys',
      auth: 'key',
      roles: ['admin'],
      responses: { 204: 'revoked', 404: 'unknown key (key_not_found)' },
      async handle({ principal, params }) {
        await directory.deleteKey(tenantOf(principal), params.keyId!);
        return { status: 204 };
      },
    }),
    // ── declarative apply ──
    route({
      method: 'post',
      path: '/v1/directory/apply',
      summary: 'Apply a directory document idempotently (what `presence-hub apply -f` sends)',
      tag: 'people',
      auth: 'key',
      roles: ['admin'],
      body: directoryDocumentSchema,
      query: applyQuery,
      returns: { 200: applyAnswerSchema },
      responses: {
        200: 'the plan (applied unless dryRun)',
        403: 'document for another tenant (tenant_mismatch)',
        404: 'the tenant, or a person the file gives a device but leaves unchanged, was deleted meanwhile (tenant_not_found, person_not_found); nothing written',
        409: 'a unique field clashes (extension_taken, sipUri_taken); nothing written',
        503: "the file changes the tenant and another change of its settings kept its turn (tenant_settings_busy), or a pause's turn (queue_pause_busy): nothing written, try again",
      },
      async handle({ principal, body, query }) {
        const plan = await applyDirectory(hub, tenantOf(principal), body, query);
        return { body: { dryRun: query.dryRun, plan } };
      },
    }),
  ];
}
