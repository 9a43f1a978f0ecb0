import { queuePauseInputSchema, type QueuePause } from '../../shared/domain/queue-pause.js';
import type { Person } from '../../shared/domain/directory.js';
import { notFound } from '../../shared/errors/errors.js';
import { resolveUntil } from '../../shared/merge/until-rule.js';
import type { Hub } from '../hub.js';
import { assertSelfOrRoles, tenantOf, type Principal } from '../api/auth.js';
import { route, type AnyRoute } from '../api/route.js';
import { detailFor, seesActivity } from '../api/views.js';
import { queuePauseListSchema, queuePauseSchema } from '../api/response-schema.js';

const PATH = '/v1/people/:personId/queue-pause';
const GROUP_PATH = `${PATH}/groups/:groupId`;
const ROLES = ['admin', 'supervisor', 'member'] as const;
const OTHERS = ['admin', 'supervisor'] as const;

/** As design §6 has it: a sensitive person's pause shows supervisors neither its end nor its reason. */
function view(p: QueuePause, person: Person, principal: Principal): Record<string, unknown> {
  const told = seesActivity(detailFor(principal, person));
  const out: Record<string, unknown> = { personId: p.personId, since: new Date(p.since).toISOString(), setBy: p.setBy };
  if (p.until !== undefined && told) out.until = new Date(p.until).toISOString();
  if (p.groups !== undefined) out.groups = p.groups;
  if (p.exceptGroups !== undefined) out.exceptGroups = p.exceptGroups;
  if (p.reason !== undefined && told) out.reason = p.reason;
  return out;
}

/** A pause from every group with these exceptions (none: no `exceptGroups`). */
function except(p: QueuePause, exceptGroups: string[]): QueuePause {
  const next: QueuePause = { ...p, exceptGroups };
  if (exceptGroups.length === 0) delete next.exceptGroups;
  return next;
}

const setBy = (p: Principal): QueuePause['setBy'] => (p.kind === 'key' && (p.role === 'admin' || p.role === 'supervisor') ? p.role : 'self');

/**
 * A person's pause from group and queue calls: set, read and clear it (the person themself, or a
 * supervisor), or add and lift one group without reading it first (the dashboard's Pause and Let back).
 */
export function queuePauseRoutes(hub: Hub): AnyRoute[] {
  const docs = hub.store.directory;
  const pauses = hub.directory.pauses;

  /** The pause while it lasts; one whose `until` has passed is over, whether or not it was cleared. */
  const lasting = (p: QueuePause | undefined) => (p && (p.until === undefined || p.until > hub.clock.now()) ? p : undefined);

  /** The person the route names, after the member-owns-it check; and the group, for the group routes. */
  async function target(principal: Principal, params: Record<string, string>) {
    const tenantId = tenantOf(principal);
    assertSelfOrRoles(principal, params.personId!, OTHERS);
    const person = await hub.directory.getPerson(tenantId, params.personId!);
    if (params.groupId !== undefined && !(await docs.get('groups', tenantId, params.groupId))) throw notFound('group', params.groupId);
    return { tenantId, person };
  }

  return [
    route({
      method: 'get',
      path: '/v1/queue-pauses',
      summary: 'Everyone paused from group and queue calls now, with their groups (and end and reason where the caller may see them)',
      tag: 'routing',
      auth: 'key',
      roles: OTHERS,
      returns: { 200: queuePauseListSchema },
      responses: { 200: 'the pauses that last' },
      async handle({ principal }) {
        const tenantId = tenantOf(principal);
        const [all, people] = await Promise.all([pauses.list(tenantId), docs.list('people', tenantId)]);
        const byId = new Map(people.map((p) => [p.id, p]));
        const current = all.filter((p) => lasting(p) && byId.has(p.personId)).sort((a, b) => a.personId.localeCompare(b.personId));
        return { body: { pauses: current.map((p) => view(p, byId.get(p.personId)!, principal)) } };
      },
    }),
    route({
      method: 'get',
      path: PATH,
      summary: "A person's pause from group and queue calls, while it lasts",
      tag: 'routing',
      auth: 'key',
      roles: ROLES,
      returns: { 200: queuePauseSchema },
      responses: { 200: 'the pause', 404: 'unknown person (person_not_found), or not paused (queue_pause_not_found)' },
      async handle({ principal, params }) {
        const { tenantId, person } = await target(principal, params);
        const pause = lasting(await pauses.get(tenantId, person.id));
        if (!pause) throw notFound('queue_pause', person.id);
        return { body: view(pause, person, principal) };
      },
    }),
    route({
      method: 'put',
      path: PATH,
      summary: 'Pause a person from group and queue calls (all, all but the groups excepted, or the groups listed), optionally until an instant or the end of the meeting or working day; calls dialled to them still ring',
      tag: 'routing',
      auth: 'key',
      roles: ROLES,
      body: queuePauseInputSchema,
      returns: { 200: queuePauseSchema },
      responses: { 200: 'the pause', 400: 'invalid body, also groups and exceptGroups together (invalid_body)', 404: 'unknown person (person_not_found)', 422: 'unknown group in groups or exceptGroups (unknown_group), or until not acceptable (until_in_past, until_too_far, no_current_meeting, no_working_hours, outside_working_hours)' },
      async handle({ principal, params, body }) {
        const { tenantId, person } = await target(principal, params);
        const now = hub.clock.now();
        const [policy, state] = await Promise.all([hub.directory.policyFor(tenantId), hub.engine.read(tenantId, person.id)]);
        const until = resolveUntil(body.until, person, state.signals, policy, now);
        const pause: QueuePause = { tenantId, id: person.id, personId: person.id, since: now, setBy: setBy(principal) };
        if (until !== undefined) pause.until = until;
        if (body.groups !== undefined) pause.groups = body.groups;
        if (body.exceptGroups !== undefined) pause.exceptGroups = body.exceptGroups;
        if (body.reason !== undefined) pause.reason = body.reason;
        await pauses.change(tenantId, person.id, () => pause);
        return { body: view(pause, person, principal) };
      },
    }),
    route({
      method: 'delete',
      path: PATH,
      summary: 'End the pause: group and queue calls ring the person again',
      tag: 'routing',
      auth: 'key',
      roles: ROLES,
      responses: { 204: 'not paused (any more)', 404: 'unknown person (person_not_found)' },
      async handle({ principal, params }) {
        const { tenantId, person } = await target(principal, params);
        await pauses.change(tenantId, person.id, () => undefined);
        return { status: 204 };
      },
    }),
    route({
      method: 'put',
      path: GROUP_PATH,
      summary: "Pause a person from one more group, keeping the pause's other groups, end and reason (a pause from every group covers it already, and drops it from its exceptions)",
      tag: 'routing',
      auth: 'key',
      roles: ROLES,
      returns: { 200: queuePauseSchema },
      responses: { 200: 'the pause', 404: 'unknown person or group (person_not_found, group_not_found)' },
      async handle({ principal, params }) {
        const { tenantId, person } = await target(principal, params);
        const groupId = params.groupId!;
        const pause = await pauses.change(
          tenantId,
          person.id,
          (stored) => {
            const held = lasting(stored);
            if (!held) return { tenantId, id: person.id, personId: person.id, since: hub.clock.now(), setBy: setBy(principal), groups: [groupId] };
            if (held.groups) return held.groups.includes(groupId) ? held : { ...held, groups: [...held.groups, groupId] };
            return held.exceptGroups?.includes(groupId) ? except(held, held.exceptGroups.filter((g) => g !== groupId)) : held;
          },
          (missing) => notFound('group', missing),
        );
        return { body: view(pause!, person, principal) };
      },
    }),
    route({
      method: 'delete',
      path: GROUP_PATH,
      summary: "Let a person back into one group; a pause from every group stays, with the group as an exception (groups joined later stay paused), and a pause from a list left with none ends",
      tag: 'routing',
      auth: 'key',
      roles: ROLES,
      responses: { 204: 'not paused from this group (any more)', 404: 'unknown person or group (person_not_found, group_not_found)' },
      async handle({ principal, params }) {
        const { tenantId, person } = await target(principal, params);
        const groupId = params.groupId!;
        await pauses.change(tenantId, person.id, (stored) => {
          const held = lasting(stored);
          if (!held) return stored;
          // From every group: that one becomes an exception, and groups they join later stay paused.
          if (!held.groups) return held.exceptGroups?.includes(groupId) ? held : except(held, [...(held.exceptGroups ?? []), groupId]);
          if (!held.groups.includes(groupId)) return held;
          const rest = held.groups.filter((g) => g !== groupId);
          return rest.length === 0 ? undefined : { ...held, groups: rest };
        });
        return { status: 204 };
      },
    }),
  ];
}
