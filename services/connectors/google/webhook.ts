import { badRequest } from '../../../shared/errors/errors.js';
import { zodDetails } from '../../api/http-errors.js';
import { route, type AnyRoute } from '../../api/route.js';
import type { Hub } from '../../hub.js';
import { pushHeadersSchema } from './schema.js';
import { googleAckSchema } from '../../api/response-schema.js';

/** Remembered per channel to drop repeats; bounded by the number of live channels. */
const MAX_TRACKED_CHANNELS = 100_000;

/**
 * Google push notifications, thin: headers only (the body is empty), the channel token checked in
 * constant time, a sync enqueued, 200 at once (protocols §2.2). A message number not above the last one
 * seen on the channel is a repeat or arrived late; the sync already scheduled covers it.
 *
 * Google counts 200, 201, 202, 204 and 102 as delivered and anything else as failed (guides/push), so
 * a wrong channel token or resource id gets the same 200 as a channel we do not know, as Graph's
 * wrong `clientState` gets the same 202: nothing is read and no line logged, the answer does not tell
 * a prober which channel ids exist, and a channel of another installation stops being retried. It is
 * counted (`presence_calendar_notifications_total{outcome="forged"}`, alert PresenceHubCalendarNotificationsForged).
 */
export function googleWebhookRoutes(hub: Hub): AnyRoute[] {
  const { subscriptions, syncs } = hub.calendars;
  const lastMessage = new Map<string, number>();
  return [
    route({
      method: 'post',
      path: '/v1/webhooks/google',
      summary: 'Google Calendar push notifications (X-Goog-* headers)',
      tag: 'webhooks',
      auth: 'none',
      raw: true,
      returns: { 200: googleAckSchema },
      responses: { 200: 'acknowledged: a notification whose channel token and resource id match is processed behind, any other ignored', 400: 'not a Google push (invalid_push_headers)' },
      async handle({ req }) {
        const parsed = pushHeadersSchema.safeParse({
          channelId: req.header('x-goog-channel-id'),
          token: req.header('x-goog-channel-token'),
          resourceId: req.header('x-goog-resource-id'),
          resourceState: req.header('x-goog-resource-state'),
          messageNumber: req.header('x-goog-message-number'),
        });
        if (!parsed.success) throw badRequest('invalid_push_headers', 'not a Google push notification', zodDetails(parsed.error));
        const h = parsed.data;
        const { outcome, sub } = await subscriptions.verifyNotification(`google:${h.channelId}`, h.token, h.resourceId);
        hub.metrics.calendarNotifications.inc({ provider: 'google', outcome });
        if (outcome !== 'accepted') return { body: { accepted: false } };
        const state = h.resourceState.toLowerCase();
        if (h.messageNumber !== undefined && state !== 'sync') {
          const last = lastMessage.get(h.channelId);
          if (last !== undefined && h.messageNumber <= last) return { body: { accepted: true, duplicate: true } };
          if (lastMessage.size >= MAX_TRACKED_CHANNELS) lastMessage.clear();
          lastMessage.set(h.channelId, h.messageNumber);
        }
        // `sync` only confirms a new channel; `exists` means something changed; `not_exists`, the resource went away.
        if (state === 'exists') subscriptions.onChange(sub!);
        else if (state === 'not_exists') syncs.requestSync(sub!.tenantId, sub!.connectionId, { full: true });
        return { body: { accepted: true } };
      },
    }),
  ];
}
