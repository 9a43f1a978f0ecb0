import { z } from 'zod';
import { AVAILABILITIES } from '../../shared/domain/activity.js';
import { BROKEN_REASONS, CALENDAR_PROVIDERS, CONNECTION_MODES, CONNECTION_STATUSES } from '../../shared/domain/calendar.js';
import { deviceInputSchema, personInputSchema, ROLES, tenantInputSchema } from '../../shared/domain/directory.js';
import { fallbackStepSchema, groupFieldsSchema, STRATEGIES } from '../../shared/domain/group.js';
import { policyOverrideSchema } from '../../shared/domain/policy.js';
import { QUEUE_PAUSE_SETTERS } from '../../shared/domain/queue-pause.js';
import { operatorRequestLimitsSchema, REQUEST_LIMIT_CLASSES } from '../../shared/domain/request-limits.js';
import { ENDPOINT_KINDS, SOURCES } from '../../shared/domain/signal.js';
import { LEAVE_CODES } from '../routing/decision.js';
import { ariTargetSchema, sipTargetSchema, targetInputSchema, webhookTargetSchema } from '../../shared/domain/target.js';
import { instant } from './view-schema.js';

/**
 * The JSON bodies the routes answer, for the OpenAPI document (read as output: a field with a default is
 * always there). Built from the input schemas where a stored record is what the caller wrote plus its ids;
 * the rest mirror the views that build them. Objects stay open: fields are only ever added.
 */

const ids = z.array(z.string());
/** A record as stored: what was written, and the ids it is filed under. */
const stored = <S extends z.ZodRawShape>(shape: S) => z.object({ ...shape, id: z.string(), tenantId: z.string() });

// ── tenants ──

const limitsSchema = z.object(Object.fromEntries(REQUEST_LIMIT_CLASSES.map((c) => [c, z.number().int()])) as Record<(typeof REQUEST_LIMIT_CLASSES)[number], z.ZodNumber>)
  .meta({ id: 'RequestLimits', description: 'the request limits that apply to the tenant: per minute and replica, `openStreams` at once; 0: none' });

export const tenantSchema = stored(tenantInputSchema.shape)
  .extend({ operatorRequestLimits: z.object(operatorRequestLimitsSchema.shape).optional().describe("the operator's limits for the tenant, if set") })
  .meta({ id: 'Tenant' });

export const tenantListSchema = z.object({
  tenants: z.array(tenantSchema),
  deleting: z.array(z.object({ id: z.string(), since: instant })).describe('tenants whose deletion was cut short: send DELETE again'),
});
export const tenantLimitsSchema = z.object({ tenant: tenantSchema, requestLimits: limitsSchema });
export const tenantAnswerSchema = z.object({ tenant: tenantSchema });
export const ownTenantSchema = tenantLimitsSchema.extend({
  effectivePolicy: z.object(policyOverrideSchema.shape).required().describe('the default policy with the tenant\'s overrides'),
});

// ── keys ──

export const apiKeySchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  personId: z.string().optional().describe('member keys: their person'),
  createdAt: instant,
  signingKeyId: z.string().optional().describe('pbx keys: `<tenant>/<key id>`, the X-Presence-Key-Id of signed batches'),
}).meta({ id: 'ApiKey', description: 'an API key, never its secret' });
export const apiKeyListSchema = z.object({ keys: z.array(apiKeySchema) });
const secret = z.string().describe('shown once');
export const newApiKeySchema = apiKeySchema.extend({ secret }).meta({ id: 'NewApiKey', description: 'a new API key with its secret' });
export const createdTenantSchema = z.object({ tenant: tenantSchema, adminKey: newApiKeySchema });

// ── people and devices ──

export const personSchema = stored(personInputSchema.shape).meta({ id: 'Person' });
export const personListSchema = z.object({ people: z.array(personSchema) });

export const deviceSchema = stored(deviceInputSchema.shape)
  .extend({ hasToken: z.boolean().describe('mobile devices: whether a token is issued'), tokenIssuedAt: instant.optional().describe('when the current token was issued (RFC 3339, UTC)') })
  .meta({ id: 'Device' });
export const deviceListSchema = z.object({ devices: z.array(deviceSchema) });
const token = z.string().describe("the mobile device's own token (phd_…), shown once");
export const deviceAnswerSchema = z.object({ device: deviceSchema, token: token.optional().describe('a new mobile device: its own token (phd_…), shown once') });
export const deviceTokenSchema = z.object({ token });

const changesSchema = z.object({ created: ids, updated: ids, unchanged: ids, deleted: ids });
export const applyAnswerSchema = z.object({
  dryRun: z.boolean(),
  plan: z.object({
    tenant: z.enum(['unchanged', 'updated']),
    people: changesSchema,
    devices: changesSchema,
    groups: changesSchema,
    targets: changesSchema,
    secrets: z.record(z.string(), z.string()).optional().describe('signing secrets of new webhook targets by id, shown once'),
  }),
});

// ── routing ──

export const groupSchema = stored(groupFieldsSchema.shape).meta({ id: 'Group' });
export const groupListSchema = z.object({ groups: z.array(groupSchema) });

const contactSchema = z.object({ endpointId: z.string(), kind: z.enum(ENDPOINT_KINDS), uri: z.string() });
const ringEntrySchema = z.object({
  step: z.number().int().describe('people with the same step ring together'),
  personId: z.string(),
  name: z.string(),
  priority: z.number(),
  ringTimeoutSeconds: z.number(),
  contacts: z.array(contactSchema),
  note: z.string().optional().describe('why they ring although their presence alone would not allow it'),
}).meta({ id: 'RingEntry' });
const fallbackOutcomeSchema = z.object({
  type: z.enum(fallbackStepSchema.options.map((o) => o.shape.type.value) as [string, ...string[]]),
  maxWaitSeconds: z.number().optional(),
  predictedWaitSeconds: z.number().optional(),
  groupId: z.string().optional(),
  name: z.string().optional(),
  strategy: z.enum(STRATEGIES).optional(),
  ring: z.array(ringEntrySchema).optional(),
  box: z.string().optional(),
  number: z.string().optional(),
  label: z.string().optional(),
  message: z.string().optional(),
  sipCode: z.number().int().optional(),
  uri: z.string().optional(),
  skipped: z.string().optional().describe('why this step is passed over'),
}).describe('one step of the fallback chain: queue (maxWaitSeconds, predictedWaitSeconds, uri), overflow (groupId, name, strategy, ring), voicemail (box, uri), forward (number, uri, label) or hangup (message, sipCode)');

export const routeDecisionSchema = z.object({
  at: instant,
  dryRun: z.boolean(),
  status: z.enum(['ringing', 'fallback', 'closed']),
  target: z.object({ kind: z.enum(['group', 'person']), id: z.string(), name: z.string(), timeZone: z.string() }),
  open: z.boolean(),
  closedReason: z.string().optional(),
  scheduleChangesAt: instant.optional(),
  strategy: z.enum(STRATEGIES),
  ringTimeoutSeconds: z.number(),
  totalRingSeconds: z.number(),
  ring: z.array(ringEntrySchema),
  fallback: z.array(fallbackOutcomeSchema),
  leftOut: z.array(z.object({
    personId: z.string(),
    name: z.string().optional(),
    code: z.enum(LEAVE_CODES),
    reason: z.string(),
    availability: z.enum(AVAILABILITIES).optional(),
    activity: z.string().optional(),
    source: z.enum(SOURCES).optional(),
    until: instant.optional(),
    predictedFreeAt: instant.optional(),
  })).describe('members not on the ring list, and why (as much as the caller may see)'),
}).meta({ id: 'RouteDecision' });

export const rtjsonSchema = z.object({
  version: z.literal('1.0'),
  routing: z.literal('serial'),
  routes: z.array(z.object({
    uri: z.string(),
    fr_timer: z.number().int(),
    fr_inv_timer: z.number().int(),
    step: z.number().int(),
    kind: z.enum(['member', 'queue', 'overflow', 'voicemail', 'forward']),
    person: z.string().optional(),
  })),
  step_sizes: z.string(),
  max_lifetime_ms: z.number().int(),
  hangup_code: z.number().int().optional(),
  hangup_reason: z.string().optional(),
  status: z.enum(['ringing', 'fallback', 'closed']),
  target: z.string(),
}).meta({ id: 'Rtjson', description: "Kamailio's rtjson routing document (`?format=rtjson`)" });
export const routeAnswerSchema = z.union([routeDecisionSchema, rtjsonSchema]);

export const queuePauseSchema = z.object({
  personId: z.string(),
  since: instant,
  setBy: z.enum(QUEUE_PAUSE_SETTERS),
  until: instant.optional(),
  groups: ids.optional(),
  exceptGroups: ids.optional(),
  reason: z.string().optional(),
}).meta({ id: 'QueuePause', description: '`until` and `reason` are not shown to supervisors for a sensitive person' });
export const queuePauseListSchema = z.object({ pauses: z.array(queuePauseSchema) });

// ── push targets ──

const publicTargetSchema = (s: z.ZodObject, extra: z.ZodRawShape) => {
  const { password: _p, secret: _s, ...shape } = s.shape as Record<string, z.ZodType>;
  return stored(shape).extend(extra);
};
export const targetSchema = z.discriminatedUnion('kind', [
  publicTargetSchema(webhookTargetSchema, { previousSecretUntil: instant.optional().describe('until when the secret replaced last still signs (RFC 3339, UTC)') }),
  publicTargetSchema(ariTargetSchema, { hasPassword: z.boolean() }),
  publicTargetSchema(sipTargetSchema, { hasPassword: z.boolean() }),
]).meta({ id: 'Target', description: 'a push target without its secrets' });
export const targetListSchema = z.object({ targets: z.array(targetSchema) });
export const targetAnswerSchema = z.object({ target: targetSchema, secret: secret.optional().describe('a new webhook target: its signing secret, shown once') });
export const targetSecretSchema = z.object({ secret, previousSecretUntil: instant });
const nullableInstant = instant.nullable();
export const targetStatusSchema = z.object({
  targetId: z.string(),
  kind: z.enum(targetInputSchema.options.map((o) => o.shape.kind.value)),
  state: z.enum(['healthy', 'failing', 'idle', 'starting', 'disabled', 'unknown']),
  consecutiveFailures: z.number().int().optional(),
  lastSuccessAt: nullableInstant.optional(),
  lastFailureAt: nullableInstant.optional(),
  lastError: z.string().nullable().optional(),
  delivered: z.number().int().optional(),
  failed: z.number().int().optional(),
  superseded: z.number().int().optional(),
  waiting: z.number().int().optional(),
  nextProbeAt: nullableInstant.optional(),
  details: z.unknown().optional().describe("the publisher's own (SIP: registrations and subscriptions)"),
  reportedBy: z.string().optional(),
  reportedAt: instant.optional(),
  reason: z.literal('owner-not-reporting').optional(),
  owner: z.string().optional(),
  detail: z.string().optional(),
}).meta({ id: 'TargetStatus', description: 'the counters and last outcomes are there for healthy, failing and idle; reason, owner and detail for unknown' });

// ── calendars ──

const providers = z.array(z.enum(CALENDAR_PROVIDERS)).describe('the providers configured');
/** What `connectionView` answers; its type is this schema's, so the two cannot part. */
export const connectionSchema = z.object({
  provider: z.enum(CALENDAR_PROVIDERS),
  mode: z.enum(CONNECTION_MODES),
  status: z.enum(CONNECTION_STATUSES),
  account: z.object({ id: z.string(), email: z.string().optional(), name: z.string().optional() }),
  connectedAt: instant,
  brokenReason: z.enum(BROKEN_REASONS).optional(),
  brokenAt: instant.optional(),
  sync: z.object({ state: z.enum(['ok', 'pending', 'error', 'broken']), lastSyncAt: instant.optional(), lastError: z.object({ code: z.string(), message: z.string(), at: instant }).optional() }),
  subscriptions: z.array(z.object({ kind: z.string(), expiresAt: instant })),
}).meta({ id: 'CalendarConnection' });
export const connectLinkSchema = z.object({ url: z.string(), expiresAt: instant, providers });
export const personCalendarSchema = z.object({ personId: z.string(), providers, connections: z.array(connectionSchema) });
export const calendarsSchema = z.object({
  providers,
  summary: z.object({ connected: z.number().int(), broken: z.number().int() }),
  connections: z.array(connectionSchema.extend({ personId: z.string() })),
  adminConsent: z.array(z.object({ directoryTenant: z.string(), status: z.enum(CONNECTION_STATUSES), grantedAt: instant, brokenReason: z.enum(BROKEN_REASONS).optional() })),
});
export const adminConsentLinkSchema = z.object({ url: z.string(), redirectUris: z.array(z.string()).describe('what the app registration must list'), expiresAt: instant });
export const connectDirectorySchema = z.object({ connected: ids, notFound: ids, skipped: ids });

// ── connectors and operations ──

const eventNote = z.object({ index: z.number().int(), code: z.string(), message: z.string() });
export const pbxBatchAnswerSchema = z.object({
  received: z.number().int(),
  applied: z.number().int(),
  ignored: z.number().int(),
  ignoredEvents: z.array(eventNote),
  rejected: z.array(eventNote),
});
export const heartbeatAnswerSchema = z.object({
  accepted: z.literal(true),
  reachableUntil: nullableInstant,
  reachableForMs: z.number().int().nullable(),
  ignoredFields: ids.optional(),
  ignoredFieldCount: z.number().int().optional(),
});
export const graphAckSchema = z.object({ accepted: z.number().int(), ignored: z.number().int() });
export const googleAckSchema = z.object({ accepted: z.boolean(), duplicate: z.literal(true).optional() });
export const healthSchema = z.object({ status: z.literal('ok') });
export const readySchema = z.object({ status: z.enum(['ready', 'not ready']), store: z.enum(['embedded', 'redis']) });
export const openApiDocumentSchema = z.object({
  openapi: z.literal('3.1.0'),
  info: z.object({ title: z.string(), version: z.string(), description: z.string() }),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
  webhooks: z.record(z.string(), z.unknown()),
  components: z.object({ schemas: z.record(z.string(), z.unknown()), securitySchemes: z.record(z.string(), z.unknown()) }),
});
