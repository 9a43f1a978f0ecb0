import { z } from 'zod';
import { calendarPolicySchema } from './calendar.js';
import { policyOverrideSchema } from './policy.js';
import { requestLimitsOverrideSchema, type RequestLimitsOverride } from './request-limits.js';
import { ENDPOINT_KINDS } from './signal.js';
import { WEEKDAYS } from './working-hours.js';
import { isValidHHMM, isValidZone } from '../merge/working-hours.js';

export const idSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case letters, digits, dot, dash, underscore; at most 64');
export const tenantIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes');
export const sipUriSchema = z.string().max(300).regex(/^sips?:[^\s@]+@[^\s@]+$/, 'a SIP URI like sip:alice@example.com');
export const zoneSchema = z.string().refine(isValidZone, 'an IANA time zone such as Europe/Berlin');
export const extensionSchema = z.string().regex(/^[0-9*#+]{1,20}$/, 'digits, *, # or +');
export const phoneNumberSchema = z.string().regex(/^\+?[0-9]{3,20}$/, 'a phone number, digits with an optional leading +');
/**
 * Where a device is rung (a SIP URI, or a number): routing sends it to the proxy as a branch's Request-URI,
 * so no whitespace or control characters (CR/LF would end the request line, RFC 3261 §25.1).
 */
// eslint-disable-next-line no-control-regex
export const CONTACT_PATTERN = /^[^\s\u0000-\u001f\u007f]*$/;
export const contactSchema = z.string().max(300).regex(CONTACT_PATTERN, 'a SIP URI or number, without spaces or control characters');
const sipUri = sipUriSchema;
const zone = zoneSchema;
const hhmm = z.string().refine(isValidHHMM, 'HH:mm, or 24:00');
const interval = z
  .tuple([hhmm, hhmm])
  .refine(([a, b]) => b === '24:00' || a < b, 'start before end');
export const weeklyHoursSchema = z.partialRecord(z.enum(WEEKDAYS), z.array(interval).max(8));

export const ROLES = ['admin', 'supervisor', 'member', 'pbx', 'external'] as const;
export type Role = (typeof ROLES)[number];

export const tenantSettingsSchema = z
  .object({
    /** Lets this tenant's push targets live on private networks (PBXs often do). */
    allowPrivateTargets: z.boolean().default(false),
    /** Wrap-up after a queue call when the PBX event does not say. */
    wrapUpSeconds: z.number().int().min(0).max(3600).default(0),
    /** How calendar events count (tentative, all-day, private, buffers, meetings as busy or dnd). */
    calendar: calendarPolicySchema.optional(),
    /**
     * Where phone numbers (mobile apps, duty phones) are sent as SIP: `host[:port]`, so that the rtjson
     * routing document can carry `sip:<number>@<gateway>`. Without it numbers stay in the JSON answer only.
     */
    pstnGateway: z
      .string()
      .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'host or host:port')
      .optional(),
    /** This tenant's own request limits, per replica: each at most its ceiling (the operator's value, else the deployment's default). */
    requestLimits: requestLimitsOverrideSchema.optional(),
  })
  .strict();

export const tenantInputSchema = z
  .object({
    name: z.string().min(1).max(200),
    policy: policyOverrideSchema.optional(),
    settings: tenantSettingsSchema.default({ allowPrivateTargets: false, wrapUpSeconds: 0 }),
  })
  .strict();
export type TenantInput = z.infer<typeof tenantInputSchema>;
export interface Tenant extends TenantInput {
  id: string;
  /** Stored under the platform scope `*`; answered as the tenant's own id (`DirectoryService`). */
  tenantId: string;
  /**
   * Set by the operator only (`PUT /v1/tenants/{id}/request-limits`): this tenant's ceilings in place of the
   * deployment's defaults. Stored apart (`operatorRequestLimits` collection) and shown here: the tenant's own writes cannot name it.
   */
  operatorRequestLimits?: RequestLimitsOverride;
}

/** A tenant whose deletion began and has not finished, stored under the platform scope by the tenant's id. */
export interface TenantDeletion {
  id: string;
  tenantId: string;
  since: number;
}

export const personInputSchema = z
  .object({
    name: z.string().min(1).max(200),
    email: z.email().optional(),
    sipUri: sipUri.optional(),
    extension: extensionSchema.optional(),
    mobileNumber: phoneNumberSchema.optional(),
    timeZone: zone.default('UTC'),
    workingHours: weeklyHoursSchema.optional(),
    teams: z.array(idSchema).max(50).default([]),
    skills: z.record(idSchema, z.number().int().min(0).max(100)).default({}),
    sensitive: z.boolean().default(false),
  })
  .strict();
export type PersonInput = z.infer<typeof personInputSchema>;
export interface Person extends PersonInput {
  id: string;
  tenantId: string;
}

export const deviceInputSchema = z
  .object({
    personId: idSchema,
    kind: z.enum(ENDPOINT_KINDS),
    name: z.string().max(200).optional(),
    /** A SIP URI for desk phones and softphones; for a mobile app, the number to ring. */
    contact: contactSchema.optional(),
  })
  .strict();
export type DeviceInput = z.infer<typeof deviceInputSchema>;
export interface Device extends DeviceInput {
  id: string;
  tenantId: string;
  /** Mobile apps only: SHA-256 of the device's own bearer token, and when it was issued. */
  tokenHash?: string;
  tokenIssuedAt?: number;
}

export interface ApiKey {
  id: string;
  tenantId: string;
  name: string;
  role: Role;
  /** `member` keys belong to one person. */
  personId?: string;
  hash: string;
  /** `pbx` keys only: the key itself, sealed, because verifying an HMAC needs the secret. */
  sealed?: string;
  createdAt: number;
}

export const apiKeyInputSchema = z
  .object({
    name: z.string().min(1).max(200),
    role: z.enum(ROLES),
    personId: idSchema.optional(),
  })
  .strict()
  .refine((k) => (k.role === 'member') === (k.personId !== undefined), {
    message: 'a member key needs personId, and only a member key may have one',
    path: ['personId'],
  });
export type ApiKeyInput = z.infer<typeof apiKeyInputSchema>;
