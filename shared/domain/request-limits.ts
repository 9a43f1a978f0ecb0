import { z } from 'zod';

/**
 * What a tenant's callers are limited in: `api` requests per API key, `tenantApi` the same requests of all
 * the tenant's keys together, `pbxEvents` events (not batches) per tenant, `heartbeats` per mobile device,
 * `streams` SSE connections opened per key, each per minute; `openStreams` SSE connections of the tenant
 * open at once (a count, not a rate).
 */
export const REQUEST_LIMIT_CLASSES = ['api', 'tenantApi', 'pbxEvents', 'heartbeats', 'streams', 'openStreams'] as const;
export type RequestLimitClass = (typeof REQUEST_LIMIT_CLASSES)[number];

/** Classes that count what is open now rather than what arrived in the last minute. */
export type HeldLimitClass = Extract<RequestLimitClass, 'openStreams'>;
/** Classes that count requests as they arrive, in token buckets refilled over the minute. */
export type RateLimitClass = Exclude<RequestLimitClass, HeldLimitClass>;

/** What each class counts, as a refusal says it ("too many …"). */
export const REQUEST_LIMIT_COUNTS: Record<RequestLimitClass, string> = {
  api: 'API requests for this key',
  tenantApi: "API requests for this tenant (all its keys together)",
  pbxEvents: 'PBX events for this tenant',
  heartbeats: 'heartbeats from this device',
  streams: 'stream connections opened with this key',
  openStreams: 'streams open at once for this tenant',
};

/** Per minute for each class (`openStreams`: at once); 0 means no limit. */
export type RequestLimits = Record<RequestLimitClass, number>;

/** Limits for one tenant with each value in `limit`, any class left out keeping what applied without it. */
const overrideOf = (limit: z.ZodNumber) =>
  z
    .object({
      api: limit.optional(),
      tenantApi: limit.optional(),
      pbxEvents: limit.optional(),
      heartbeats: limit.optional(),
      streams: limit.optional(),
      openStreams: limit.optional(),
    })
    .strict();

/**
 * The tenant's own limits (settings `requestLimits`), each at most its ceiling. No 0: it means "no limit",
 * which would lift the ceiling, and lifting is the operator's.
 */
export const requestLimitsOverrideSchema = overrideOf(z.number().int().min(1).max(100_000_000));
/** The operator's limits for one tenant (`operatorRequestLimits`), its ceilings: 0 lifts that class's limit, as in the `REQUEST_LIMIT_*` variables. */
export const operatorRequestLimitsSchema = overrideOf(z.number().int().min(0).max(100_000_000));
export type RequestLimitsOverride = z.infer<typeof requestLimitsOverrideSchema>;

/** The operator's limits for one tenant, stored apart from the tenant's own document, under the platform scope. */
export interface OperatorRequestLimits {
  /** The tenant's id. */
  id: string;
  tenantId: string;
  limits: RequestLimitsOverride;
}

/** What may be set for one tenant: its own lowering, and the operator's ceiling in place of the deployment's default. */
export interface TenantLimitSettings {
  own?: RequestLimitsOverride | undefined;
  operator?: RequestLimitsOverride | undefined;
}

/** The most a tenant's own value may be: the operator's value for it, else the deployment's default (0: none). */
export function ceilingsOf(defaults: RequestLimits, operator: RequestLimitsOverride | undefined): RequestLimits {
  return Object.fromEntries(REQUEST_LIMIT_CLASSES.map((c) => [c, operator?.[c] ?? defaults[c]])) as RequestLimits;
}

/**
 * The limits that apply to a tenant: the lower of its own value and its ceiling. An own value never lifts
 * a limit: one stored before the ceiling was lowered is held to the new ceiling.
 */
export function effectiveLimits(defaults: RequestLimits, set: TenantLimitSettings): RequestLimits {
  const ceilings = ceilingsOf(defaults, set.operator);
  const limit = (c: RequestLimitClass) => {
    const own = set.own?.[c];
    return own === undefined ? ceilings[c] : ceilings[c] === 0 ? own : Math.min(own, ceilings[c]);
  };
  return Object.fromEntries(REQUEST_LIMIT_CLASSES.map((c) => [c, limit(c)])) as RequestLimits;
}

/** Classes a tenant's own values set above their ceiling (a tenant may lower its limits, not raise them). */
export function aboveCeiling(ceilings: RequestLimits, own: RequestLimitsOverride | undefined): RequestLimitClass[] {
  return REQUEST_LIMIT_CLASSES.filter((c) => own?.[c] !== undefined && ceilings[c] > 0 && own[c]! > ceilings[c]);
}
