import { z } from 'zod';

/**
 * Graph payloads, validated at the boundary. Enumerations stay plain strings here on purpose: the
 * mapper decides every value explicitly, so a value Microsoft adds later arrives there as "unknown"
 * instead of failing the whole page.
 */
const dateTimeTimeZone = z.looseObject({ dateTime: z.string(), timeZone: z.string().optional() });

export const graphEventSchema = z.looseObject({
  id: z.string().min(1),
  '@removed': z.looseObject({ reason: z.string().optional() }).optional(),
  isCancelled: z.boolean().optional(),
  isAllDay: z.boolean().optional(),
  showAs: z.string().optional(),
  sensitivity: z.string().optional(),
  type: z.string().optional(),
  responseStatus: z.looseObject({ response: z.string().optional() }).nullish(),
  start: dateTimeTimeZone.optional(),
  end: dateTimeTimeZone.optional(),
});
export type GraphEvent = z.infer<typeof graphEventSchema>;

/** One page of `calendarView/delta`: `@odata.nextLink` until the last, which has `@odata.deltaLink`. */
export const deltaPageSchema = z.looseObject({
  value: z.array(z.unknown()),
  '@odata.nextLink': z.string().optional(),
  '@odata.deltaLink': z.string().optional(),
});

/** A change or lifecycle notification item (protocols §1.3). */
export const notificationItemSchema = z.looseObject({
  subscriptionId: z.string().min(1).max(200),
  clientState: z.string().max(256).optional(),
  changeType: z.string().optional(),
  lifecycleEvent: z.string().optional(),
  resource: z.string().optional(),
  tenantId: z.string().optional(),
  subscriptionExpirationDateTime: z.string().optional(),
});
export const notificationBatchSchema = z.looseObject({ value: z.array(z.unknown()).max(1000) });
export type NotificationItem = z.infer<typeof notificationItemSchema>;

export const subscriptionSchema = z.looseObject({ id: z.string().min(1), expirationDateTime: z.string() });

export const userSchema = z.looseObject({
  id: z.string().min(1),
  displayName: z.string().nullish(),
  mail: z.string().nullish(),
  userPrincipalName: z.string().nullish(),
});
export type GraphUser = z.infer<typeof userSchema>;

export const presenceSchema = z.looseObject({ availability: z.string().optional(), activity: z.string().optional() });
export type GraphPresence = z.infer<typeof presenceSchema>;

/** `POST /$batch` answer: each inner response is throttled on its own (protocols §1.6). */
export const batchResponseSchema = z.looseObject({
  responses: z.array(z.looseObject({ id: z.string(), status: z.number(), headers: z.record(z.string(), z.string()).optional(), body: z.unknown() })),
});
