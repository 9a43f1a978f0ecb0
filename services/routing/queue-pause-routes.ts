import { queuePauseInputSchema, type QueuePause } from '../../shared/domain/queue-pause.js';
import { notFound, unprocessable } from '../../shared/errors/errors.js';
import { resolveUntil } from '../../shared/merge/until-rule.js';
import type { Hub } from '../hub.js';
import { assertSelfOrRoles, tenantOf, type Principal } from '../api/auth.js';
import { route, type AnyRoute } from '../api/route.js';

const PATH = '/v1/people/:personId/queue-pause';
const ROLES = ['admin', 'supervisor', 'member'] as const;
const OTHERS = ['admin', 'supervisor'] as const;

function view(p: QueuePause): Record<string, unknown> {
  const out: Record<string, unknown> = { personId: p.personId, since: new Date(p.since).toISOString(), setBy: p.setBy };
  if (p.until !== undefined) out.until = new Date(p.until).toISOString();
  if (p.groups !== undefined) out.groups = p.groups;
  if (p.reason !== undefined) out.reason = p.reason;
  return out;
}

const setBy = (p: Principal): QueuePause['setBy'] => (p.kind === 'key' && (p.role === 'admin' || p.role === 'supervisor') ? p.role : 'self');

/** A person's pause from group and queue calls: set, read and clear it (the person themself, or a supervisor). */
export function queuePauseRoutes(hub: Hub): AnyRoute[] {
  /** The pause while it lasts; one whose `until` has passed is over, whether or not it was cleared. */
  async function current(tenantId: string, personId: string): Promise<QueuePause | undefined> {
    const p = await hub.store.directory.get('queuePauses', tenantId, personId);
    return p && (p.until === undefined || p.until > hub.clock.now()) ? p : undefined;
  }

  return [
    route({
      method: 'get',
      path: PATH,
      summary: "A person's pause from group and queue calls, while it lasts",
      tag: 'routing',
      auth: 'key',
      roles: ROLES,
      responses: { 200: 'the pause', 404: 'unknown person, or not paused' },
      async handle({ principal, params }) {
        const tenantId = tenantOf(principal);
        assertSelfOrRoles(principal, params.personId!, OTHERS);
        const person = await hub.directory.getPerson(tenantId, params.personId!);
        const pause = await current(tenantId, person.id);
        if (!pause) throw notFound('queue_pause', person.id);
        return { body: view(pause) };
      },
    }),
    route({
      method: 'put',
      path: PATH,
      summary: 'Pause a person from group and queue calls (all, or the groups listed), optionally until an instant or the end of the meeting or working day; calls dialled to them still ring',
      tag: 'routing',
      auth: 'key',
      roles: ROLES,
      body: queuePauseInputSchema,
      responses: { 200: 'the pause', 404: 'unknown person', 422: 'unknown group, or until not acceptable' },
      async handle({ principal, params, body }) {
        const tenantId = tenantOf(principal);
        assertSelfOrRoles(principal, params.personId!, OTHERS);
        const person = await hub.directory.getPerson(tenantId, params.personId!);
        for (const g of body.groups ?? []) {
          if (!(await hub.store.directory.get('groups', tenantId, g))) throw unprocessable('unknown_group', `no group ${g} in this tenant`);
        }
        const now = hub.clock.now();
        const [policy, state] = await Promise.all([hub.directory.policyFor(tenantId), hub.engine.read(tenantId, person.id)]);
        const until = resolveUntil(body.until, person, state.signals, policy, now);
        const pause: QueuePause = { tenantId, id: person.id, personId: person.id, since: now, setBy: setBy(principal) };
        if (until !== undefined) pause.until = until;
        if (body.groups !== undefined) pause.groups = body.groups;
        if (body.reason !== undefined) pause.reason = body.reason;
        await hub.store.directory.write([{ op: 'put', collection: 'queuePauses', doc: pause }]);
        return { body: view(pause) };
      },
    }),
    route({
      method: 'delete',
      path: PATH,
      summary: 'End the pause: group and queue calls ring the person again',
      tag: 'routing',
      auth: 'key',
      roles: ROLES,
      responses: { 204: 'not paused (any more)', 404: 'unknown person' },
      async handle({ principal, params }) {
        const tenantId = tenantOf(principal);
        assertSelfOrRoles(principal, params.personId!, OTHERS);
        const person = await hub.directory.getPerson(tenantId, params.personId!);
        await hub.store.directory.write([{ op: 'delete', collection: 'queuePauses', tenantId, id: person.id }]);
        return { status: 204 };
      },
    }),
  ];
}
