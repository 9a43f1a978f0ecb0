import { groupInputSchema } from '../../shared/domain/group.js';
import type { Hub } from '../hub.js';
import { tenantOf } from '../api/auth.js';
import { recordId } from '../api/http-errors.js';
import { route, type AnyRoute } from '../api/route.js';
import { groupListSchema, groupSchema } from '../api/response-schema.js';

export function groupRoutes(hub: Hub): AnyRoute[] {
  const groups = hub.directory.groups;
  return [
    route({
      method: 'get',
      path: '/v1/groups',
      summary: 'The hunt groups and queues of the tenant',
      tag: 'routing',
      auth: 'key',
      roles: ['admin', 'supervisor'],
      returns: { 200: groupListSchema },
      responses: { 200: 'all groups' },
      async handle({ principal }) {
        return { body: { groups: await groups.list(tenantOf(principal)) } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/groups/:groupId',
      summary: 'One hunt group or queue',
      tag: 'routing',
      auth: 'key',
      roles: ['admin', 'supervisor'],
      returns: { 200: groupSchema },
      responses: { 200: 'the group', 404: 'unknown group (group_not_found)' },
      async handle({ principal, params }) {
        return { body: await groups.get(tenantOf(principal), params.groupId!) };
      },
    }),
    route({
      method: 'put',
      path: '/v1/groups/:groupId',
      summary: 'Create or replace a hunt group or queue: members, strategy, timeouts, schedule and fallback chains',
      tag: 'routing',
      auth: 'key',
      roles: ['admin'],
      body: groupInputSchema,
      returns: { 200: groupSchema, 201: groupSchema },
      responses: {
        200: 'replaced',
        201: 'created',
        404: 'the tenant was deleted meanwhile (tenant_not_found): nothing stored',
        409: 'extension used by a person or another group (extension_taken)',
        422: 'unknown member or overflow group (unknown_member, unknown_overflow_group, overflow_to_itself)',
      },
      async handle({ principal, params, body }) {
        const { group, created } = await groups.put(tenantOf(principal), recordId(params.groupId, 'group'), body);
        return { status: created ? 201 : 200, body: group };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/groups/:groupId',
      summary: 'Delete a group and its strategy state (refused while another group overflows to it)',
      tag: 'routing',
      auth: 'key',
      roles: ['admin'],
      responses: { 204: 'deleted', 404: 'unknown group (group_not_found)', 409: 'another group overflows to it (group_in_use)' },
      async handle({ principal, params }) {
        await groups.delete(tenantOf(principal), params.groupId!);
        return { status: 204 };
      },
    }),
  ];
}
