import type { Person } from '../../shared/domain/directory.js';
import type { Hub } from '../hub.js';
import { tenantOf } from '../api/auth.js';
import { route, type AnyRoute } from '../api/route.js';
import { detailFor, seesEndpoints } from '../api/views.js';
import { decisionView } from './decision-view.js';
import { routeQuerySchema, routeRequestSchema } from './request-schema.js';
import type { RouteRequest, RouteTargetRef, RoutingService } from './routing-service.js';
import { toRtjson } from './rtjson.js';
import { routeAnswerSchema } from '../api/response-schema.js';

export function decisionRoutes(hub: Hub, routing: RoutingService): AnyRoute[] {
  return [
    route({
      method: 'post',
      path: '/v1/route',
      summary: 'Who to ring for a call to a group or person, the fallback chain, and why everyone else is left out',
      tag: 'routing',
      auth: 'key',
      roles: ['admin', 'pbx', 'supervisor'],
      body: routeRequestSchema,
      query: routeQuerySchema,
      returns: { 200: routeAnswerSchema },
      responses: {
        200: 'the decision (JSON, or the Kamailio rtjson routing document with ?format=rtjson)',
        404: 'unknown group, person or dialled number (group_not_found, person_not_found, route_target_not_found)',
        422: 'instant in the past or too far ahead (instant_in_past, instant_too_far)',
      },
      async handle({ principal, body, query }) {
        const started = performance.now();
        const tenantId = tenantOf(principal);
        const target: RouteTargetRef = body.group !== undefined ? { group: body.group } : body.person !== undefined ? { person: body.person } : { dialled: body.dialled! };
        const req: RouteRequest = { target, skills: body.skills, dryRun: body.dryRun };
        if (body.caller !== undefined) req.caller = body.caller;
        if (body.at !== undefined) req.at = typeof body.at === 'number' ? body.at : Date.parse(body.at);
        // Supervisors may simulate ("who would ring at 18:05?") but never move a strategy.
        const mayCommit = principal.kind === 'key' && principal.role !== 'supervisor';
        const decision = await routing.decide(tenantId, req, { mayCommit, detailFor: (p: Person) => detailFor(principal, p), seesEndpoints: (p: Person) => seesEndpoints(principal, p) });
        hub.metrics.routeDecisions.inc({ status: decision.status, dry_run: String(decision.dryRun) });
        hub.metrics.routeDecisionSeconds.observe((performance.now() - started) / 1000);
        if (query.format === 'rtjson') {
          const tenant = await hub.directory.getTenant(tenantId);
          const gw = tenant.settings.pstnGateway;
          return { body: toRtjson(decision, gw ? { pstnGateway: gw } : {}) };
        }
        return { body: decisionView(decision) };
      },
    }),
  ];
}
