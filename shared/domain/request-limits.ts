import { z } from 'zod';

/**
 * What a tenant's callers are limited in, each per minute: `api` requests per API key, `tenantApi` the
 * same requests of all the tenant's keys together, `pbxEvents` events (not batches) per tenant,
 * `heartbeats` per mobile device, `streams` SSE connections opened per key.
 */
export const REQUEST_LIMIT_CLASSES = ['api', 'tenantApi', 'pbxEvents', 'heartbeats', 'streams'] as const;
export type RequestLimitClass = (typeof REQUEST_LIMIT_CLASSES)[number];

/** What each class counts, as a refusal says it ("too many …"). */
export const REQUEST_LIMIT_COUNTS: Record<RequestLimitClass, string> = {
  api: 'API requests for this key',
  tenantApi: "API requests for this tenant (all its keys together)",
  pbxEvents: 'PBX events for this tenant',
  heartbeats: 'heartbeats from this device',
  streams: 'stream connections opened with this key',
};

/** Per minute for each class; 0 means no limit. */
export type RequestLimits = Record<RequestLimitClass, number>;

const perMinute = z.number().int().min(1).max(100_000_000);

/** A tenant's own limits (tenant settings `requestLimits`): any class left out keeps the deployment's default. */
export const requestLimitsOverrideSchema = z
  .object({ api: perMinute.optional(), tenantApi: perMinute.optional(), pbxEvents: perMinute.optional(), heartbeats: perMinute.optional(), streams: perMinute.optional() })
  .strict();
export type RequestLimitsOverride = z.infer<typeof requestLimitsOverrideSchema>;

/**
 * The limits that apply to a tenant: its override where it has one, else the default. An override never
 * lifts a limit: one stored before the default was lowered is held to the new default.
 */
export function effectiveLimits(defaults: RequestLimits, override: RequestLimitsOverride | undefined): RequestLimits {
  const limit = (c: RequestLimitClass) => {
    const own = override?.[c];
    return own === undefined ? defaults[c] : defaults[c] === 0 ? own : Math.min(own, defaults[c]);
  };
  return Object.fromEntries(REQUEST_LIMIT_CLASSES.map((c) => [c, limit(c)])) as RequestLimits;
}

/** Classes an override sets above the deployment's default (a tenant may lower its limits, not raise them). */
export function aboveDefault(defaults: RequestLimits, override: RequestLimitsOverride | undefined): RequestLimitClass[] {
  return REQUEST_LIMIT_CLASSES.filter((c) => override?.[c] !== undefined && defaults[c] > 0 && override[c]! > defaults[c]);
}
