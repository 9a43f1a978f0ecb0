import { overflowTargets, type Group, type GroupInput } from '../../shared/domain/group.js';
import { conflict, notFound, unprocessable } from '../../shared/errors/errors.js';
import type { Store, WriteOp } from '../../shared/store/port.js';
import type { RoutingStateStore } from '../../shared/store/routing-state.js';
import type { QueuePauses } from '../routing/queue-pauses.js';
import { refusedAsNotFound, tenantExists } from './directory-service.js';

/** Who will exist once a write lands: the apply file checks references against its own result. */
export interface KnownIds {
  people: ReadonlySet<string>;
  groups: ReadonlySet<string>;
  /** Extension → person id once the write lands; the stored directory when absent. */
  personExtensions?: ReadonlyMap<string, string>;
}

/**
 * Hunt groups and queues in the directory. The admin API and the apply file both validate and write
 * through here: every member must be a person of the tenant, every overflow target a group, and a
 * group's extension must not be a person's.
 */
export class GroupDirectory {
  constructor(
    private readonly store: Store,
    private readonly routingState: RoutingStateStore,
    private readonly pauses: QueuePauses,
  ) {}

  async get(tenantId: string, groupId: string): Promise<Group> {
    const g = await this.store.directory.get('groups', tenantId, groupId);
    if (!g) throw notFound('group', groupId);
    return g;
  }

  list(tenantId: string): Promise<Group[]> {
    return this.store.directory.list('groups', tenantId);
  }

  async known(tenantId: string): Promise<KnownIds> {
    const [people, groups] = await Promise.all([this.store.directory.list('people', tenantId), this.list(tenantId)]);
    return { people: new Set(people.map((p) => p.id)), groups: new Set(groups.map((g) => g.id)) };
  }

  /** The write for one group, after checking what it refers to. */
  async groupOp(tenantId: string, groupId: string, input: GroupInput, known: KnownIds): Promise<WriteOp> {
    const missing = input.members.map((m) => m.personId).filter((id) => !known.people.has(id));
    if (missing.length > 0) {
      throw unprocessable('unknown_member', `not in the directory: ${missing.join(', ')}`, { personIds: missing });
    }
    for (const target of overflowTargets(input)) {
      if (target === groupId) throw unprocessable('overflow_to_itself', `group ${groupId} cannot overflow to itself`);
      if (!known.groups.has(target)) throw unprocessable('unknown_overflow_group', `overflow group ${target} does not exist`);
    }
    if (input.extension !== undefined) {
      const holder = known.personExtensions
        ? known.personExtensions.get(input.extension)
        : (await this.store.directory.findUnique('people', 'extension', input.extension, tenantId))?.id;
      if (holder !== undefined) throw conflict('extension_taken', `extension ${input.extension} belongs to person ${holder}`);
    }
    return { op: 'put', collection: 'groups', doc: { ...input, id: groupId, tenantId } };
  }

  async put(tenantId: string, groupId: string, input: GroupInput): Promise<{ group: Group; created: boolean }> {
    const before = await this.store.directory.get('groups', tenantId, groupId);
    const known = await this.known(tenantId);
    const op = await this.groupOp(tenantId, groupId, input, { people: known.people, groups: new Set([...known.groups, groupId]) });
    // Only while the tenant exists: a group written as it is deleted is not left for a tenant created again under its id.
    await this.pauses.writeDirectory(tenantId, before ? {} : { created: { groups: new Set([groupId]) } }, [op], [tenantExists(tenantId)]).catch((err: unknown) => {
      throw refusedAsNotFound(err);
    });
    return { group: await this.get(tenantId, groupId), created: !before };
  }

  /** Refused while another group overflows to it: deleting it would silently cut that chain. */
  async delete(tenantId: string, groupId: string): Promise<void> {
    await this.get(tenantId, groupId);
    const users = (await this.list(tenantId)).filter((g) => g.id !== groupId && overflowTargets(g).includes(groupId)).map((g) => g.id);
    if (users.length > 0) throw conflict('group_in_use', `groups ${users.join(', ')} overflow to ${groupId}; change them first`);
    await this.pauses.writeDirectory(tenantId, { deleted: { groups: new Set([groupId]) } }, [{ op: 'delete', collection: 'groups', tenantId, id: groupId }]);
    await this.routingState.removeGroup(tenantId, groupId);
  }

  /** Writes that take a person out of every group, for the same batch that deletes the person. */
  async withoutPersonOps(tenantId: string, personId: string): Promise<WriteOp[]> {
    return (await this.list(tenantId))
      .filter((g) => g.members.some((m) => m.personId === personId))
      .map((g) => ({ op: 'put', collection: 'groups', doc: { ...g, members: g.members.filter((m) => m.personId !== personId) } }));
  }

  async forgetPerson(tenantId: string, personId: string): Promise<void> {
    await this.routingState.removeAgent(tenantId, personId);
  }

  async forgetGroup(tenantId: string, groupId: string): Promise<void> {
    await this.routingState.removeGroup(tenantId, groupId);
  }
}
