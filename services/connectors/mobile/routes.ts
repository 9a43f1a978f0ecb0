import type { Hub } from '../../hub.js';
import { route, type AnyRoute } from '../../api/route.js';
import { heartbeatChange } from './map.js';
import { heartbeatSchema, ignoredFields } from './schema.js';
import { heartbeatAnswerSchema } from '../../api/response-schema.js';

export function mobileRoutes(hub: Hub): AnyRoute[] {
  return [
    route({
      method: 'post',
      path: '/v1/heartbeat',
      summary: "A mobile app's heartbeat, authenticated with the device's own token",
      tag: 'mobile',
      auth: 'device',
      body: heartbeatSchema,
      returns: { 200: heartbeatAnswerSchema },
      responses: {
        200: "accepted; reachableUntil says when the next heartbeat is due at the latest (the server's clock), reachableForMs how long from now (a phone's own clock may be off); ignoredFields names the body's fields this version does not know (accepted and ignored, not stored): the first 20, each cut to 100 characters; ignoredFieldCount says how many there were",
        401: 'unknown or revoked device token (invalid_device_token), or none (missing_credentials)',
      },
      async handle({ req, principal, body }) {
        if (principal.kind !== 'device') throw new Error('device principal expected');
        const device = await hub.directory.getDevice(principal.tenantId, principal.deviceId);
        const person = await hub.directory.getPerson(principal.tenantId, principal.personId);
        const change = heartbeatChange(body, device, person, hub.config.heartbeat, hub.clock.now());
        await hub.engine.apply(principal.tenantId, principal.personId, [change]);
        const until = change.op === 'put' ? change.signal.until : undefined;
        const reachable = until === undefined ? { reachableUntil: null, reachableForMs: null } : { reachableUntil: new Date(until).toISOString(), reachableForMs: until - hub.clock.now() };
        return { body: { accepted: true, ...reachable, ...ignoredFields(req.body) } };
      },
    }),
  ];
}
