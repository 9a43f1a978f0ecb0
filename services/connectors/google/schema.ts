import { z } from 'zod';

/**
 * Google Calendar payloads, validated at the boundary. Enumerations stay plain strings: the mapper
 * decides every value explicitly, so a value Google adds later arrives there as "unknown".
 */
const eventDateTime = z.looseObject({ date: z.string().optional(), dateTime: z.string().optional(), timeZone: z.string().optional() });

export const googleEventSchema = z.looseObject({
  id: z.string().min(1),
  status: z.string().optional(),
  transparency: z.string().optional(),
  visibility: z.string().optional(),
  eventType: z.string().optional(),
  start: eventDateTime.optional(),
  end: eventDateTime.optional(),
  organizer: z.looseObject({ self: z.boolean().optional() }).optional(),
  attendees: z.array(z.looseObject({ self: z.boolean().optional(), responseStatus: z.string().optional() })).optional(),
});
export type GoogleEvent = z.infer<typeof googleEventSchema>;

/** `events.list`: `nextPageToken` until the last page, which carries `nextSyncToken` (protocols §2.3). */
export const eventsPageSchema = z.looseObject({
  items: z.array(z.unknown()).default([]),
  nextPageToken: z.string().optional(),
  nextSyncToken: z.string().optional(),
  timeZone: z.string().optional(),
});

/** `events.watch` answer (protocols §2.2). */
export const channelSchema = z.looseObject({ id: z.string(), resourceId: z.string(), expiration: z.union([z.string(), z.number()]).optional() });

/** `calendars.get('primary')`: its id is the account's address. */
export const calendarSchema = z.looseObject({ id: z.string(), summary: z.string().optional(), timeZone: z.string().optional() });

/** Push notification headers (protocols §2.2); the body is empty. */
export const pushHeadersSchema = z.object({
  channelId: z.string().min(1).max(64),
  token: z.string().max(256).optional(),
  resourceId: z.string().max(256).optional(),
  resourceState: z.string().max(32),
  messageNumber: z.coerce.number().int().nonnegative().optional(),
});
export type PushHeaders = z.infer<typeof pushHeadersSchema>;
