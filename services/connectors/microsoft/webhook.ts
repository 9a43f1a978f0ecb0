import type { Request } from 'express';
import type { CalendarSubscription } from '../../../shared/domain/calendar.js';
import { badRequest } from '../../../shared/errors/errors.js';
import { route, type AnyRoute } from '../../api/route.js';
import type { Hub } from '../../hub.js';
import type { NotificationOutcome } from '../../calendars/subscriptions.js';
import { notificationBatchSchema, notificationItemSchema, type NotificationItem } from './schema.js';
import { graphAckSchema } from '../../api/response-schema.js';

type Verdict = { outcome: NotificationOutcome; sub?: CalendarSubscription };

/** A validation token is short; anything long is not Graph. */
const MAX_VALIDATION_TOKEN = 2048;

/**
 * Graph webhooks, thin: the validation handshake (echo the URL-decoded token as text/plain within 10 s,
 * protocols §1.2), then each item's `clientState` verified in constant time, the verified ones
 * enqueued, and 202 well within Graph's 3 s. The fetch happens behind, in the calendar service's jobs.
 *
 * Graph's order is: acknowledge with a 2xx, then validate `clientState`; a mismatch is not a valid
 * notification and may not come from Graph at all (change-notifications-delivery-webhooks, "Processing
 * the change notification"). So a batch with a wrong `clientState`, even in every item, gets the same
 * 202 as one naming subscriptions we do not know: it starts no work and writes no log line, the
 * answer does not tell a prober which subscription ids exist, and a subscription of another
 * installation posting here is acknowledged instead of redelivered for 4 hours. It is counted
 * (`presence_calendar_notifications_total{outcome="forged"}`, alert PresenceHubCalendarNotificationsForged).
 * Each subscription a batch names is looked up once, all at once, so even a batch of 1,000 items is
 * answered in time.
 */
export function microsoftWebhookRoutes(hub: Hub): AnyRoute[] {
  const { subscriptions } = hub.calendars;

  async function receive(req: Request, lifecycle: boolean) {
    const raw = (req.body as Buffer | undefined)?.toString('utf8') ?? '';
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw badRequest('invalid_json', 'the body is not valid JSON');
    }
    const batch = notificationBatchSchema.safeParse(json);
    if (!batch.success) throw badRequest('invalid_body', 'expected {"value":[…]} of change notifications');
    const items: NotificationItem[] = [];
    for (const value of batch.data.value) {
      const item = notificationItemSchema.safeParse(value);
      if (item.success) items.push(item.data);
    }
    const verdicts = new Map<string, Promise<Verdict>>();
    const verdictOf = (n: NotificationItem): Promise<Verdict> => {
      const key = JSON.stringify([n.subscriptionId, n.clientState]);
      let v = verdicts.get(key);
      if (!v) verdicts.set(key, (v = subscriptions.verifyNotification(`microsoft:${n.subscriptionId}`, n.clientState)));
      return v;
    };
    const checked = await Promise.all(items.map(async (n) => ({ n, ...(await verdictOf(n)) })));
    const changed = new Map<string, CalendarSubscription>();
    let accepted = 0;
    for (const { n, outcome, sub } of checked) {
      hub.metrics.calendarNotifications.inc({ provider: 'microsoft', outcome });
      if (outcome !== 'accepted') continue;
      accepted++;
      // Lifecycle events go to the lifecycle URL, or to the notification URL when none was given.
      if (n.lifecycleEvent) subscriptions.onLifecycle(sub!, n.lifecycleEvent);
      else if (!lifecycle) changed.set(sub!.id, sub!);
    }
    // One read covers every change of a subscription in the batch.
    for (const sub of changed.values()) subscriptions.onChange(sub);
    return { status: 202, body: { accepted, ignored: batch.data.value.length - accepted } };
  }

  const handshake = (req: Request, res: import('express').Response): boolean => {
    const token = req.query.validationToken;
    if (token === undefined) return false;
    if (typeof token !== 'string' || token.length > MAX_VALIDATION_TOKEN) throw badRequest('invalid_validation_token', 'validationToken must be one short string');
    hub.metrics.calendarNotifications.inc({ provider: 'microsoft', outcome: 'validation' });
    res.status(200).setHeader('X-Content-Type-Options', 'nosniff');
    res.type('text/plain').send(token);
    return true;
  };

  return [
    route({
      method: 'post',
      path: '/v1/webhooks/microsoft',
      summary: 'Microsoft Graph change notifications (and the subscription validation handshake)',
      tag: 'webhooks',
      auth: 'none',
      raw: true,
      returns: { 202: graphAckSchema },
      produces: { 200: 'text/plain' },
      responses: { 200: 'validation token echoed as text/plain', 202: 'acknowledged: notifications whose clientState matches are processed behind, the others ignored', 400: 'malformed (invalid_json, invalid_body, invalid_validation_token)' },
      async handle({ req, res }) {
        if (handshake(req, res)) return undefined;
        return receive(req, false);
      },
    }),
    route({
      method: 'post',
      path: '/v1/webhooks/microsoft/lifecycle',
      summary: 'Microsoft Graph lifecycle notifications: reauthorizationRequired, subscriptionRemoved, missed (and the validation handshake)',
      tag: 'webhooks',
      auth: 'none',
      raw: true,
      returns: { 202: graphAckSchema },
      produces: { 200: 'text/plain' },
      responses: { 200: 'validation token echoed as text/plain', 202: 'acknowledged: events whose clientState matches are handled behind, the others ignored', 400: 'malformed (invalid_json, invalid_body, invalid_validation_token)' },
      async handle({ req, res }) {
        if (handshake(req, res)) return undefined;
        return receive(req, true);
      },
    }),
  ];
}
