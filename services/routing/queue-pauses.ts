import type { Clock } from '../../shared/clock/clock.js';
import { namedGroups, type QueuePause } from '../../shared/domain/queue-pause.js';
import { WriteRefused, notFound, unprocessable, type AppError } from '../../shared/errors/errors.js';
import type { Store, WriteCondition, WriteOp } from '../../shared/store/port.js';
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
 * included, so concurrent changes are never lost.
 *
 * A change is written only while its person and every group it adds exist, checked by the store in the
 * same atomic step as the write (whichever replica deletes them meanwhile), and a person's deletion ends
 * their pause in the batch that deletes them. A group's deletion takes the group out of the pauses naming
 * it in its own batch, and looks again after writing for one that named it as the deletion landed (a pause
 * written before the deletion, after its look): a replica that stops between the two leaves a pause naming
 * a deleted group, which rings nobody. Creating a person or group under an id clears, in the same write,
 * what is left of an old one's pauses (see `writeDirectory`), so nothing is inherited.
 * A turn that lost its leases (this replica stalled past their end) writes nothing more and answers
 * `503 queue_pause_busy`, so the caller tries again; only a write already under way when they ran out
 * stands, and a change made meanwhile on another replica may then be lost.
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
   * one (undefined ends it; the pause itself leaves it as it is). A pause is refused, and nothing
   * written, when its person or a group it adds is gone as it is written.
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
      turn.hold();
      if (!pause) {
        await this.store.directory.write([this.endOp(tenantId, personId)]);
        return undefined;
      }
      const added = namedGroups(pause).filter((g) => !namedGroups(held).includes(g));
      const needs: WriteCondition[] = [
        { collection: 'people', tenantId, id: personId, exists: true },
        ...added.map((id): WriteCondition => ({ collection: 'groups', tenantId, id, exists: true })),
      ];
      await this.store.directory.write([{ op: 'put', collection: 'queuePauses', doc: pause }], needs).catch((err: unknown) => {
        if (!(err instanceof WriteRefused)) throw err;
        throw err.condition.collection === 'people' ? notFound('person', personId) : missingGroup(err.condition.id);
      });
      return pause;
    });
  }

  /**
   * Writes `ops`, which delete the people and groups in `deleted` and create those in `created`, together
   * with what that does to pauses: a deleted person's pause ends, and a deleted group leaves every pause
   * naming it (a pause left with none ends), so a new person or group under the same id inherits nothing.
   * A created one is cleared the same way of a pause left of an old one: by an older version (whose pause
   * writes were not conditional), by a group deletion whose replica stopped before its look after
   * writing, or by one that lost its turn while writing a pause of a person deleted meanwhile. Done in the
   * turns of everyone touched. `needs`: records that must exist as it is written (else `WriteRefused`).
   */
  async writeDirectory(tenantId: string, ids: { deleted?: DirectoryIds; created?: DirectoryIds }, ops: readonly WriteOp[], needs: readonly WriteCondition[] = []): Promise<void> {
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
        await this.store.directory.write([...ops, ...pauseOps], needs);
      },
    );
    // A change that named a deleted group after the look above landed before the deletion (after it, the
    // store refuses it): this sees its pause now.
    if (deletedGroups.size === 0) return;
    for (const personId of await others(deletedGroups, new Set())) await this.change(tenantId, personId, (held) => without(held, deletedGroups));
  }

  /** Those of `ids` not in the directory now (groups read at once: `apply` may create many). */
  private async absent(tenantId: string, ids: Required<DirectoryIds>): Promise<Required<DirectoryIds>> {
    const docs = this.store.directory;
    const people = await Promise.all([...ids.people].map(async (id) => ((await docs.get('people', tenantId, id)) ? [] : [id])));
    const groups = ids.groups.size === 0 ? new Set<string>() : new Set((await docs.list('groups', tenantId)).map((g) => g.id));
    return { people: new Set(people.flat()), groups: new Set([...ids.groups].filter((id) => !groups.has(id))) };
  }

  private key(tenantId: string, personId: string): string {
    return `queue-pause:${tenantId}:${personId}`;
  }

  private endOp(tenantId: string, personId: string): WriteOp {
    return { op: 'delete', collection: 'queuePauses', tenantId, id: personId };
  }
}
