import { checkConditions, deepFreeze, holderOf, planUnique, uniqueScope, type AnyDoc } from '../indexing.js';
import { COLLECTIONS, type CollectionName, type RedisKeys } from '../keys.js';
import type { DirectoryStore, Doc, WriteCondition, WriteOp } from '../port.js';
import { CHECKED_WRITE, FILL_ABSENT } from './scripts.js';
import type { Connection } from './connection.js';
import { DirectoryCopy, type DirectoryRevision } from './directory-copy.js';

const ALL_COLLECTIONS = Object.keys(COLLECTIONS) as CollectionName[];

/**
 * Directory documents in Redis: one hash per collection and tenant (id → JSON), one hash per unique
 * field and scope (value → `tenant/id`). A batch is read, checked for uniqueness here, and written by
 * one script that first verifies nothing it read has changed (else it is planned again).
 *
 * Each replica also keeps a copy of every document (its own writes at once, the others' when a
 * collection's revision moves), to put back if Redis ever comes back empty. While Redis is at the
 * revision the copy of a collection equals, reads of it are answered from the copy: the reads of one tick
 * (a batch's look-ups, the changes of one feed read) share one check of the revisions instead of a round
 * trip each. Revisions are counted per collection, so a collection written often (calendar sync state)
 * does not send the reads of the others (people, devices, keys) to Redis.
 */
export class RedisDirectory implements DirectoryStore {
  private readonly checkedWrite;
  private readonly fillAbsent;
  private readonly copy: DirectoryCopy;
  /** The dataset's revisions as read for the reads of the current tick. */
  private revCheck: Promise<DirectoryRevision> | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly conn: Connection,
    private readonly keys: RedisKeys,
    private readonly prefix: string,
    /** Refreshes a read asks for are at least this far apart: a refresh reads the whole directory. */
    private readonly refreshGapMs: number,
  ) {
    this.checkedWrite = conn.script(CHECKED_WRITE);
    this.fillAbsent = conn.script(FILL_ABSENT);
    const docPrefix = `${prefix}doc:`;
    this.copy = new DirectoryCopy((hashKey) => hashKey.slice(docPrefix.length, hashKey.indexOf(':', docPrefix.length)));
  }

  async get<C extends CollectionName>(collection: C, tenantId: string, id: string): Promise<Doc<C> | undefined> {
    const key = this.keys.doc(collection, tenantId);
    if (await this.copyIsCurrent(collection)) return this.copy.get(key, id) as Doc<C> | undefined;
    const raw = await this.conn.run((r) => r.hget(key, id));
    return raw === null ? undefined : (deepFreeze(JSON.parse(raw)) as Doc<C>);
  }

  async list<C extends CollectionName>(collection: C, tenantId: string, where?: { field: string; value: string }): Promise<Doc<C>[]> {
    const key = this.keys.doc(collection, tenantId);
    const docs = (await this.copyIsCurrent(collection))
      ? this.copy.list(key)
      : Object.values(await this.conn.run((r) => r.hgetall(key))).map((raw) => deepFreeze(JSON.parse(raw) as AnyDoc));
    const out = where ? docs.filter((d) => d[where.field] === where.value) : docs;
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) as unknown as Doc<C>[];
  }

  async findUnique<C extends CollectionName>(collection: C, field: string, value: string, tenantId?: string): Promise<Doc<C> | undefined> {
    const scope = uniqueScope(collection, field, tenantId);
    if (scope === undefined) return undefined;
    if (await this.copyIsCurrent(collection)) {
      const hashes = scope === '*' ? this.copy.keysStartingWith(this.keys.doc(collection, '')) : [this.keys.doc(collection, scope)];
      return this.copy.findUnique(hashes, field, value) as Doc<C> | undefined;
    }
    const holder = await this.conn.run((r) => r.hget(this.keys.unique(collection, field, scope), value));
    if (holder === null) return undefined;
    const slash = holder.indexOf('/');
    return this.get(collection, holder.slice(0, slash), holder.slice(slash + 1));
  }

  /**
   * True while Redis is at the revision the copy of `collection` equals. Every read started in the same
   * tick shares one read of the revisions sent after they started, so each still sees every write
   * acknowledged before it began.
   */
  private async copyIsCurrent(collection: CollectionName): Promise<boolean> {
    if (!this.revCheck) {
      this.revCheck = this.revision();
      queueMicrotask(() => (this.revCheck = undefined));
    }
    if (this.copy.isCurrent(collection, await this.revCheck)) return true;
    this.refreshSoon();
    return false;
  }

  /** Whether Redis holds the copy's dataset at revisions below the copy's (`DirectoryCopy.wentBack`). */
  async wentBack(): Promise<boolean> {
    return this.copy.wentBack(await this.revision({ evenPaused: true }));
  }

  /** The dataset's name and its revisions (one write to Redis: the client pipelines the two reads). */
  private async revision(opts: { evenPaused?: boolean } = {}): Promise<DirectoryRevision> {
    const [epoch, revs] = await this.conn.run((r) => Promise.all([r.get(this.keys.epoch()), r.hgetall(this.keys.directoryRevs())]), opts);
    return { epoch: epoch ?? '', revs: new Map(Object.entries(revs).map(([c, n]) => [c, Number(n)])) };
  }

  private refreshSoon(): void {
    this.refreshing ??= this.refreshCopy()
      .catch(() => undefined)
      .then(() => new Promise((r) => setTimeout(r, this.refreshGapMs).unref()))
      .then(() => (this.refreshing = undefined));
  }

  async write(ops: readonly WriteOp[], conditions: readonly WriteCondition[] = []): Promise<void> {
    if (ops.length === 0) {
      // Nothing to write, but a broken condition still throws, as on the embedded store.
      if (conditions.length > 0) await this.plan(ops, conditions);
      return;
    }
    for (;;) {
      const plan = await this.plan(ops, conditions);
      const collections = [...new Set(ops.map((op) => op.collection))];
      const revs = await this.checkedWrite([], [JSON.stringify(plan.script), this.keys.directoryRevs(), this.keys.directoryRev(), ...collections]);
      if (Array.isArray(revs)) {
        this.remember(plan.script.d, plan.script.s, new Map(collections.map((c, i) => [c, Number(revs[i])])));
        await this.forgetDeliveries(ops);
        return;
      }
    }
  }

  /**
   * What a deleted push target was acknowledged goes with it: a target created again under its id (and
   * the same configuration) must get everyone's state, not be taken for one that has it.
   */
  private async forgetDeliveries(ops: readonly WriteOp[]): Promise<void> {
    const ledgers = ops.flatMap((op) => (op.op === 'delete' && op.collection === 'targets' ? [this.keys.delivered(op.tenantId, op.id)] : []));
    if (ledgers.length > 0) await this.conn.run((r) => r.del(...ledgers));
  }

  /**
   * Reads what the batch depends on and turns it into checked hash writes. A condition's document is
   * checked as read, and the script writes only while it still reads the same, so the condition holds
   * when the batch lands.
   */
  private async plan(ops: readonly WriteOp[], conditions: readonly WriteCondition[]) {
    const conditionFields = conditions.map((c): [string, string] => [this.keys.doc(c.collection, c.tenantId), c.id]);
    const conditionRaw = await this.conn.run((r) => Promise.all(conditionFields.map(([k, f]) => r.hget(k, f))));
    checkConditions(conditions, (_c, i) => conditionRaw[i] !== null);
    const docField = (op: WriteOp): [string, string] =>
      op.op === 'put' ? [this.keys.doc(op.collection, op.doc.tenantId), op.doc.id] : [this.keys.doc(op.collection, op.tenantId), op.id];
    const docFields = ops.map(docField);
    const oldRaw = await this.conn.run((r) => Promise.all(docFields.map(([k, f]) => r.hget(k, f))));
    const old = new Map<string, AnyDoc>();
    docFields.forEach(([k, f], i) => {
      if (oldRaw[i] !== null) old.set(`${k}\n${f}`, JSON.parse(oldRaw[i]!) as AnyDoc);
    });
    // Every unique entry the old and new documents occupy, with its current holder.
    const wanted = new Map<string, [string, string]>();
    const ukey = (c: CollectionName, field: string, scope: string) => this.keys.unique(c, field, scope);
    for (const op of ops) {
      const docs = [old.get(docField(op).join('\n')), op.op === 'put' ? (op.doc as unknown as AnyDoc) : undefined];
      for (const d of docs) {
        if (!d) continue;
        for (const [field, spec] of Object.entries(COLLECTIONS[op.collection].unique as Record<string, string>)) {
          const v = d[field];
          if (typeof v !== 'string' || v === '') continue;
          const k = ukey(op.collection, field, spec === 'global' ? '*' : d.tenantId);
          wanted.set(`${k}\n${v}`, [k, v]);
        }
      }
    }
    const entries = [...wanted.values()];
    const holders = await this.conn.run((r) => Promise.all(entries.map(([k, v]) => r.hget(k, v))));
    const holderOf_ = new Map(entries.map(([k, v], i) => [`${k}\n${v}`, holders[i] ?? undefined]));
    const changes = planUnique(
      ops,
      (c, t, id) => old.get(`${this.keys.doc(c, t)}\n${id}`),
      (c, f, s, v) => holderOf_.get(`${ukey(c, f, s)}\n${v}`),
    );
    const script = { c: [] as string[][], d: [] as string[][], s: [] as string[][] };
    docFields.forEach(([k, f], i) => script.c.push([k, f, oldRaw[i] ?? '']));
    conditionFields.forEach(([k, f], i) => script.c.push([k, f, conditionRaw[i] ?? '']));
    entries.forEach(([k, v], i) => script.c.push([k, v, holders[i] ?? '']));
    // Last write of a document wins within a batch, as in one SQL transaction.
    const finalDoc = new Map<string, string | undefined>();
    ops.forEach((op, i) => finalDoc.set(docFields[i]!.join('\n'), op.op === 'put' ? JSON.stringify(op.doc) : undefined));
    for (const [kf, json] of finalDoc) {
      const [k, f] = kf.split('\n') as [string, string];
      if (json === undefined) script.d.push([k, f]);
      else script.s.push([k, f, json]);
    }
    for (const ch of changes) {
      const k = ukey(ch.collection, ch.field, ch.scope);
      if (ch.holder === undefined) script.d.push([k, ch.value]);
      else script.s.push([k, ch.value, ch.holder]);
    }
    return { script };
  }

  /** Applies this replica's own write (the collections' new revisions) to the copy. */
  private remember(dels: readonly string[][], sets: readonly string[][], revs: ReadonlyMap<string, number>): void {
    const docPrefix = `${this.prefix}doc:`;
    this.copy.apply(
      dels.filter(([k]) => k!.startsWith(docPrefix)),
      sets.filter(([k]) => k!.startsWith(docPrefix)),
      revs,
    );
  }

  /** Brings the collections of this replica's copy that another replica wrote since up to date (cheap when nothing moved). */
  async refreshCopy(): Promise<void> {
    const at = await this.revision({ evenPaused: true });
    // An empty dataset (Redis lost its data) leaves the copy as it is: it is what gets put back.
    if (at.epoch === '') return;
    const behind = this.copy.behind(at, ALL_COLLECTIONS);
    if (behind.length === 0) return;
    const fresh = new Map<string, Map<string, string>>();
    // Read after the revisions: what is read is at least as new as them, so a write in between only
    // makes the copy look behind once more.
    await this.conn.run(async (r) => {
      for (const c of behind) {
        let cursor = '0';
        do {
          const [next, found] = await r.scan(cursor, 'MATCH', `${this.keys.doc(c, '')}*`, 'COUNT', 500);
          cursor = next;
          for (const k of found) fresh.set(k, new Map(Object.entries(await r.hgetall(k))));
        } while (cursor !== '0');
      }
    }, { evenPaused: true });
    this.copy.replace(fresh, at, behind);
  }

  /** After Redis lost its data: puts back every document this replica holds, and its unique entries. */
  async restore(): Promise<number> {
    const sets: string[][] = [];
    const docPrefix = `${this.prefix}doc:`;
    for (const [k, id, json] of this.copy.entries()) {
      const collection = k.slice(docPrefix.length).split(':')[0] as CollectionName;
      if (!(collection in COLLECTIONS)) continue;
      sets.push([k, id, json]);
      const doc = JSON.parse(json) as AnyDoc;
      for (const [field, spec] of Object.entries(COLLECTIONS[collection].unique as Record<string, string>)) {
        const v = doc[field];
        if (typeof v === 'string' && v !== '') sets.push([this.keys.unique(collection, field, spec === 'global' ? '*' : doc.tenantId), v, holderOf(doc.tenantId, doc.id)]);
      }
    }
    let restored = 0;
    for (let i = 0; i < sets.length; i += 500) restored += Number(await this.fillAbsent([], [JSON.stringify(sets.slice(i, i + 500))], { evenPaused: true }));
    if (restored > 0) {
      await this.conn.run((r) => Promise.all([r.incr(this.keys.directoryRev()), ...ALL_COLLECTIONS.map((c) => r.hincrby(this.keys.directoryRevs(), c, 1))]), { evenPaused: true });
    }
    return restored;
  }
}
