import type { Request } from 'express';
import { AppError, badRequest } from '../../../shared/errors/errors.js';
import { route, type AnyRoute } from '../../api/route.js';
import type { Hub } from '../../hub.js';
import { notificationBatchSchema, notificationItemSchema } from './schema.js';

/** A validation token is short; anything long is not Graph. */
const MAX_VALIDATION_TOKEN = 2048;

/**
 * Graph webhooks, thin: the validation handshake (echo the URL-decoded token as text/plain within 10 s,
 * protocols §1.2), then verify each item's `clientState` in constant time, enqueue, and answer 202 well
 * within Graph's 3 s. The fetch happens behind, in the calendar service's jobs.
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
    let accepted = 0;
    let ignored = 0;
    let forged = 0;
    const verified: Array<() => void> = [];
    for (const value of batch.data.value) {
      const item = notificationItemSchema.safeParse(value);
      if (!item.success) {
        ignored++;
        continue;
      }
      const n = item.data;
      const { outcome, sub } = await subscriptions.verifyNotification(`microsoft:${n.subscriptionId}`, n.clientState);
      hub.metrics.calendarNotifications.inc({ provider: 'microsoft', outcome });
      if (outcome === 'forged') forged++;
      else if (outcome === 'unknown') ignored++;
      else {
        accepted++;
        // Lifecycle events go to the lifecycle URL, or to the notification URL when none was given.
        if (n.lifecycleEvent) verified.push(() => subscriptions.onLifecycle(sub!, n.lifecycleEvent!));
        else if (!lifecycle) verified.push(() => subscriptions.onChange(sub!));
      }
    }
    // Nothing genuine in it: refuse, and enqueue nothing.
    if (forged > 0 && accepted === 0) throw new AppError(401, 'invalid_client_state', 'clientState does not match the subscription');
    for (const enqueue of verified) enqueue();
    return { status: 202, body: { accepted, ignored: ignored + forged } };
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
      responses: { 200: 'validation token echoed as text/plain', 202: 'accepted; processed behind', 400: 'malformed', 401: 'clientState does not match' },
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
      responses: { 200: 'validation token echoed as text/plain', 202: 'accepted; handled behind', 400: 'malformed', 401: 'clientState does not match' },
      async handle({ req, res }) {
        if (handshake(req, res)) return undefined;
        return receive(req, true);
      },
    }),
  ];
}
