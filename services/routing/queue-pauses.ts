import type { Clock } from '../../shared/clock/clock.js';
import { namedGroups, type QueuePause } from '../../shared/domain/queue-pause.js';
import { notFound, unprocessable, type AppError } from '../../shared/errors/errors.js';
import type { Store, WriteOp } from '../../shared/store/port.js';
import { Turns } from './turns.js';

/** People and groups a directory write deletes or creates. */
export interface DirectoryIds {
  people?: ReadonlySet<string>;
  groups?: ReadonlySet<string>;
}

const unknownGroup = (groupId: string) => unprocessable('unknown_group', `no group ${groupId} in this tenant`);

/**
 * The pause without the groups in `gone`: undefined when none of its groups is left, itself when it named
 * none of them. An exception goes with its group, so a new group under that id is paused like any other.
 */
function without(p: QueuePause | undefined, gone: ReadonlySet<string>): QueuePause | undefined {
  if (!p || !namedGroups(p).some((g) => gone.has(g))) return p;
  const next: QueuePause = { ...p };
  delete next.groups;
  delete next.exceptGroups;
  const groups = p.groups?.filter((g) => !gone.has(g));
  const exceptGroups = p.exceptGroups?.filter((g) => !gone.has(g));
  if (groups?.length === 0) return undefined;
  if (groups) next.groups = groups;
  if (exceptGroups?.length) next.exceptGroups = exceptGroups;
  return next;
}

/**
 * People's pauses from group and queue calls. Every read-modify-write of a pause happens in its person's
 * turn (`Turns`: in-process, and a store lease across replicas), the deletions of people and groups
 * included, so concurrent changes are never lost. Directory writes cannot be conditional; a pause still
 * never outlives its person nor names a deleted group, because each side writes before it looks at the
 * other: a change checks what it names again after writing (and undoes itself), a group deletion looks
 * for pauses naming the group again after deleting it (and takes the group out of them).
 * A turn that lost its leases (this replica stalled past their end) writes nothing more and answers
 * `503 queue_pause_busy`, so the caller tries again. Only a write already under way when they ran out
 * stands: the looks after writing still keep pauses from outliving people and from adding deleted
 * groups, but a change made meanwhile on another replica may be lost, or keep a deleted group it held.
 * A replica that stops between such a write and its look leaves a pause of a deleted person, or naming
 * a deleted group: nobody sees it (no list shows a pause without its person; a deleted group rings
 * nobody), and creating a person or group under that id clears it, in the same write.
 */
export class QueuePauses {
  private readonly turns: Turns;

  constructor(
    private readonly store: Store,
    clock: Clock,
  ) {
    this.turns = new Turns(store.leases, clock, 'queue_pause_busy');
  }

  get(tenantId: string, personId: string): Promise<QueuePause | undefined> {
    return this.store.directory.get('queuePauses', tenantId, personId);
  }

  list(tenantId: string): Promise<QueuePause[]> {
    return this.store.directory.list('queuePauses', tenantId);
  }

  /**
   * One change of a person's pause, in their turn: `next` gets the pause as stored and returns the new
   * one (undefined ends it; the pause itself leaves it as it is). A new pause naming a person or group
   * that is gone is refused — also when the deletion lands between the check and the write, in which
   * case the pause is put back as it was.
   */
  change(
    tenantId: string,
    personId: string,
    next: (held: QueuePause | undefined) => QueuePause | undefined | Promise<QueuePause | undefined>,
    missingGroup: (groupId: string) => AppError = unknownGroup,
  ): Promise<QueuePause | undefined> {
    return this.turns.run(this.key(tenantId, personId), async (turn) => {
      const held = await this.get(tenantId, personId);
      const pause = await next(held);
      if (pause === held) return held;
      if (!pause) {
        turn.hold();
        await this.store.directory.write([this.endOp(tenantId, personId)]);
        return undefined;
      }
      const refusal = () => this.refusal(pause, held, missingGroup);
      const before = await refusal();
      if (before) throw before;
      turn.hold();
      await this.store.directory.write([{ op: 'put', collection: 'queuePauses', doc: pause }]);
      const after = await refusal();
      if (!after) return pause;
      const restored = after.code === 'person_not_found' ? undefined : held;
      await this.store.directory.write([restored ? { op: 'put', collection: 'queuePauses', doc: restored } : this.endOp(tenantId, personId)]);
      throw after;
    });
  }

  /**
   * Writes `ops`, which delete the people and groups in `deleted` and create those in `created`, together
   * with what that does to pauses: a deleted person's pause ends, and a deleted group leaves every pause
   * naming it (a pause left with none ends), so a new group or person under the same id inherits nothing.
   * A created one is cleared the same way, of what a change could still leave of an old one: a change
   * whose replica lost its turn while writing (stalled past its lease, so the deletion went ahead) and
   * stopped before its look after writing. Done in the turns of everyone touched.
   */
  async writeDirectory(tenantId: string, ids: { deleted?: DirectoryIds; created?: DirectoryIds }, ops: readonly WriteOp[]): Promise<void> {
    const deletedPeople = ids.deleted?.people ?? new Set<string>();
    const createdPeople = ids.created?.people ?? new Set<string>();
    const deletedGroups = ids.deleted?.groups ?? new Set<string>();
    const createdGroups = ids.created?.groups ?? new Set<string>();
    const read = async () => (createdPeople.size === 0 && deletedGroups.size === 0 && createdGroups.size === 0 ? [] : this.list(tenantId));
    /** Who else has a pause to change: a created person's stray one, or one naming a group of `named`. */
    const others = async (named: ReadonlySet<string>, of: ReadonlySet<string>) =>
      (await read()).filter((p) => !deletedPeople.has(p.personId) && (of.has(p.personId) || without(p, named) !== p)).map((p) => p.personId);
    const touched = [...deletedPeople, ...(await others(new Set([...deletedGroups, ...createdGroups]), createdPeople))];
    await this.turns.runAll(
      touched.map((personId) => this.key(tenantId, personId)),
      async (turn) => {
        // "Created" is what the caller read before its turn: one that exists by now was created meanwhile by
        // someone else (whose write cleared the strays), and a pause of it or naming it is live.
        const strays = await this.absent(tenantId, { people: new Set(touched.filter((id) => createdPeople.has(id))), groups: createdGroups });
        const people = new Set([...deletedPeople, ...strays.people]);
        const groups = new Set([...deletedGroups, ...strays.groups]);
        const pauseOps: WriteOp[] = [];
        const stored = new Map((await read()).map((p) => [p.personId, p]));
        for (const personId of touched) {
          const held = people.has(personId) ? undefined : stored.get(personId);
          const kept = without(held, groups);
          if (people.has(personId) || kept !== held) pauseOps.push(kept ? { op: 'put', collection: 'queuePauses', doc: kept } : this.endOp(tenantId, personId));
        }
        turn.hold();
        await this.store.directory.write([...ops, ...pauseOps]);
      },
    );
    // A change that named a deleted group after the look above, having checked it before the write:
    // either it sees the group gone after its own write, or this sees its pause now. (A created group may
    // be named from now on, and a created person's pause is theirs.)
    if (deletedGroups.size === 0) return;
    for (const personId of await others(deletedGroups, new Set())) {
      if (!createdPeople.has(personId)) await this.change(tenantId, personId, (held) => without(held, deletedGroups));
    }
  }

  /** Those of `ids` not in the directory now (groups read at once: `apply` may create many). */
  private async absent(tenantId: string, ids: Required<DirectoryIds>): Promise<Required<DirectoryIds>> {
    const docs = this.store.directory;
    const people = await Promise.all([...ids.people].map(async (id) => ((await docs.get('people', tenantId, id)) ? [] : [id])));
    const groups = ids.groups.size === 0 ? new Set<string>() : new Set((await docs.list('groups', tenantId)).map((g) => g.id));
    return { people: new Set(people.flat()), groups: new Set([...ids.groups].filter((id) => !groups.has(id))) };
  }

  /** Why `pause` may not be stored: its person is gone, or a group it adds to `held` (covered or excepted) is. */
  private async refusal(pause: QueuePause, held: QueuePause | undefined, missingGroup: (groupId: string) => AppError): Promise<AppError | undefined> {
    const docs = this.store.directory;
    const added = namedGroups(pause).filter((g) => !namedGroups(held).includes(g));
    const [person, ...found] = await Promise.all([docs.get('people', pause.tenantId, pause.personId), ...added.map((g) => docs.get('groups', pause.tenantId, g))]);
    if (!person) return notFound('person', pause.personId);
    const lost = added.find((_g, i) => !found[i]);
    return lost === undefined ? undefined : missingGroup(lost);
  }

  private key(tenantId: string, personId: string): string {
    return `queue-pause:${tenantId}:${personId}`;
  }

  private endOp(tenantId: string, personId: string): WriteOp {
    return { op: 'delete', collection: 'queuePauses', tenantId, id: personId };
  }
}
