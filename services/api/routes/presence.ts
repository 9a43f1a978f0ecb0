import { z } from 'zod';
import type { Person } from '../../../shared/domain/directory.js';
import type { Hub } from '../../hub.js';
import { tenantOf, type Principal } from '../auth.js';
import { route, type AnyRoute } from '../route.js';
import { presenceListSchema, presenceViewSchema } from '../view-schema.js';
import { unknownPresence, viewOf, type PresenceView } from '../views.js';

const ALL_ROLES = ['admin', 'supervisor', 'member', 'pbx', 'external'] as const;

/** The current state of the given people, as the caller may see it. */
export async function snapshot(hub: Hub, principal: Principal, people: readonly Person[]): Promise<PresenceView[]> {
  const tenantId = tenantOf(principal);
  return Promise.all(
    people.map(async (person) => {
      const state = await hub.store.state.read(tenantId, person.id);
      return viewOf(state.presence ?? unknownPresence(person.id), person, principal);
    }),
  );
}

export async function peopleOf(hub: Hub, tenantId: string, filter: { team?: string | undefined; person?: string | undefined }): Promise<Person[]> {
  const people = await hub.directory.listPeople(tenantId);
  return people.filter((p) => (!filter.team || p.teams.includes(filter.team)) && (!filter.person || p.id === filter.person));
}

export function presenceRoutes(hub: Hub): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: '/v1/presence',
      summary: 'Snapshot of the tenant (or one team) at the detail the caller may see',
      tag: 'presence',
      auth: 'key',
      roles: ALL_ROLES,
      query: z.object({ team: z.string().max(64).optional() }),
      responses: { 200: 'one entry per person' },
      returns: { 200: presenceListSchema },
      async handle({ principal, query }) {
        const people = await peopleOf(hub, tenantOf(principal), { team: query.team });
        return { body: { presence: await snapshot(hub, principal, people) } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/teams/:teamId/presence',
      summary: 'Snapshot of one team',
      tag: 'presence',
      auth: 'key',
      roles: ALL_ROLES,
      responses: { 200: 'one entry per member of the team' },
      returns: { 200: presenceListSchema },
      async handle({ principal, params }) {
        const people = await peopleOf(hub, tenantOf(principal), { team: params.teamId! });
        return { body: { presence: await snapshot(hub, principal, people) } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/presence/:personId',
      summary: 'One person at the detail the caller may see',
      tag: 'presence',
      auth: 'key',
      roles: ALL_ROLES,
      responses: { 200: 'the presence', 404: 'unknown person (person_not_found)' },
      returns: { 200: presenceViewSchema },
      async handle({ principal, params }) {
        const person = await hub.directory.getPerson(tenantOf(principal), params.personId!);
        const [view] = await snapshot(hub, principal, [person]);
        return { body: view };
      },
    }),
  ];
}
