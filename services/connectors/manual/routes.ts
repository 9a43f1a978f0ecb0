import type { Hub } from '../../hub.js';
import { assertSelfOrRoles, tenantOf } from '../../api/auth.js';
import { route, type AnyRoute } from '../../api/route.js';
import { viewOf } from '../../api/views.js';
import { MANUAL_SIGNAL, manualStatusChange } from './map.js';
import { manualStatusSchema } from './schema.js';
import { presenceViewSchema } from '../../api/view-schema.js';

export function manualRoutes(hub: Hub): AnyRoute[] {
  return [
    route({
      method: 'put',
      path: '/v1/people/:personId/status',
      summary: "Set a person's manual status, optionally until an instant, the end of the current meeting or of the working day",
      tag: 'status',
      auth: 'key',
      roles: ['admin', 'supervisor', 'member'],
      body: manualStatusSchema,
      returns: { 200: presenceViewSchema },
      responses: { 200: 'the new presence', 404: 'unknown person (person_not_found)', 422: 'activity or until not acceptable (unknown_activity, until_in_past, until_too_far, no_current_meeting, no_working_hours, outside_working_hours)' },
      async handle({ principal, params, body }) {
        const tenantId = tenantOf(principal);
        assertSelfOrRoles(principal, params.personId!, ['admin', 'supervisor']);
        const person = await hub.directory.getPerson(tenantId, params.personId!);
        const policy = await hub.directory.policyFor(tenantId);
        const state = await hub.engine.read(tenantId, person.id);
        const change = manualStatusChange(body, person, state.signals, policy, hub.clock.now());
        const { presence } = await hub.engine.apply(tenantId, person.id, [change]);
        return { body: viewOf(presence, person, principal) };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/people/:personId/status',
      summary: 'Clear the manual status; the computed state returns',
      tag: 'status',
      auth: 'key',
      roles: ['admin', 'supervisor', 'member'],
      returns: { 200: presenceViewSchema },
      responses: { 200: 'the new presence', 404: 'unknown person (person_not_found)' },
      async handle({ principal, params }) {
        const tenantId = tenantOf(principal);
        assertSelfOrRoles(principal, params.personId!, ['admin', 'supervisor']);
        const person = await hub.directory.getPerson(tenantId, params.personId!);
        const { presence } = await hub.engine.apply(tenantId, person.id, [{ op: 'remove', id: MANUAL_SIGNAL }]);
        return { body: viewOf(presence, person, principal) };
      },
    }),
  ];
}
