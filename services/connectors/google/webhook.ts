import { AppError, badRequest } from '../../../shared/errors/errors.js';
import { zodDetails } from '../../api/http-errors.js';
import { route, type AnyRoute } from '../../api/route.js';
import type { Hub } from '../../hub.js';
import { pushHeadersSchema } from './schema.js';

/** Remembered per channel to drop repeats; bounded by the number of live channels. */
const MAX_TRACKED_CHANNELS = 100_000;

/**
 * Google push notifications, thin: headers only (the body is empty), the channel token checked in
 * constant time, a sync enqueued, 200 at once (protocols §2.2). A message number not above the last one
 * seen on the channel is a repeat or arrived late; the sync already scheduled covers it.
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
      responses: { 200: 'accepted; processed behind', 400: 'not a Google push', 401: 'channel token does not match' },
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
        if (outcome === 'forged') throw new AppError(401, 'invalid_channel_token', 'the channel token does not match the channel');
        // An unknown channel (stopped or replaced) gets a success answer so that Google stops retrying it.
        if (outcome === 'unknown') return { body: { accepted: false } };
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
