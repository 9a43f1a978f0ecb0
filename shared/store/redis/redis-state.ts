import { randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Presence } from '../../domain/presence.js';
import type { FeedCause } from '../feed.js';
import { deepFreeze } from '../indexing.js';
import { dueMember, type RedisKeys } from '../keys.js';
import type { PersonState, StateStore, Update } from '../port.js';
import type { Connection, RunOptions } from './connection.js';
import { KeyLock } from '../key-lock.js';
import type { COPIES_ONLY } from './feed-entry.js';
import { RESTORE_STATE, WRITE_STATE } from './scripts.js';

const EMPTY: PersonState = deepFreeze({ signals: [] });

/**
 * Stored as raw-deflated JSON: a person's state repeats its device ids and contacts in the signals,
 * the endpoints and the explanation, and deflate halves it, which keeps Redis at about 1 KB per tracked
 * person. A state is well under a kilobyte: a 2 KB window and small hash tables compress it as well as
 * the defaults, whose tables (about 300 KB) zlib sets up on every call. Inflating takes any window
 * size, data written before included.
 */
const DEFLATE = { level: 1, windowBits: 11, memLevel: 3 } as const;
const encode = (state: PersonState): Buffer => deflateRawSync(JSON.stringify(state), DEFLATE);
const decode = (data: Buffer): PersonState => JSON.parse(inflateRawSync(data).toString('utf8')) as PersonState;

/**
 * How copies of a person's state are ordered (the hash's `v`, a feed entry's version, `Held.version`): the
 * presence version, or its view or order floor when higher. A directory edit streams show raises the view
 * floor at the same version, and a full outage's bound the order floor: ordered by version alone, other
 * replicas would not follow either, and a restore could put back a state without it (whose views'
 * versions would then go back, or whose registration would be believed for ever).
 */
export const orderOf = (presence: Presence | undefined): number =>
  presence ? Math.max(presence.version, presence.viewFloor ?? 0, presence.orderFloor ?? 0) : 0;

/** What a replica holds of a person: the state at a revision (data as stored) and its order (`orderOf`). */
interface Held {
  rev: string;
  data: Buffer;
  version: number;
  tenantId: string;
  personId: string;
}

/**
 * An update as `OutageBound` writes it: `cause` may also be `COPIES_ONLY`, an entry only the replicas'
 * copies follow (`feed-entry.ts`).
 */
export type StoredUpdate<T> = Omit<Update<T>, 'cause'> & { cause?: FeedCause | typeof COPIES_ONLY };

/** A change-feed entry as far as the state copies care: the new revision and data, absent for a removal. */
export interface StateEntry {
  tenantId: string;
  personId: string;
  version: number;
  rev?: string;
  data?: Buffer;
}

/**
 * Per-person state in Redis: a hash `{ r: revision, v: order (orderOf), d: data }`. `update` runs `fn`
 * on the state this replica holds of the person and writes with one script that refuses if the revision
 * moved and then answers the current state, so `fn` runs again on that: one round trip per update when
 * the copy is current, two when another replica wrote since.
 *
 * Each replica holds the last state of every person it wrote, read or saw on the change feed (whose
 * entries carry the new revision and data): to update from, and to put back if Redis ever comes back
 * empty (the newest version among the replicas wins).
 */
export class RedisState implements StateStore {
  private readonly writeState;
  private readonly restoreState;
  private readonly lock = new KeyLock();
  /**
   * Revisions, and the name of a new dataset if a write finds none (Redis lost its data): unique per
   * process and per write, without asking the random source on every write.
   */
  private readonly tokenBase = randomBytes(4).toString('hex');
  private tokenSeq = 0;
  /** state key → what this replica holds of the person. */
  private readonly copy = new Map<string, Held>();

  constructor(
    private readonly conn: Connection,
    private readonly k: RedisKeys,
    private readonly feedEvents: number,
  ) {
    this.writeState = conn.script(WRITE_STATE, { buffers: true });
    this.restoreState = conn.script(RESTORE_STATE);
  }

  private token(): string {
    return `${this.tokenBase}${(++this.tokenSeq).toString(36)}`;
  }

  private async load(tenantId: string, personId: string, opts: RunOptions = {}): Promise<{ rev: string; state: PersonState }> {
    const [rev, data] = await this.conn.run((r) => r.hmgetBuffer(this.k.state(tenantId, personId), 'r', 'd'), opts);
    return this.adopt(tenantId, personId, rev?.toString() ?? '0', data ?? undefined);
  }

  /** The state at `rev` as Redis answered it; held unless absent (what is held stays, for restore). */
  private adopt(tenantId: string, personId: string, rev: string, data: Buffer | undefined): { rev: string; state: PersonState } {
    if (!data || data.length === 0) return { rev: '0', state: EMPTY };
    const state = decode(data);
    this.hold(tenantId, personId, { rev, data, version: orderOf(state.presence), tenantId, personId });
    return { rev, state: deepFreeze(state) };
  }

  private hold(tenantId: string, personId: string, held: Held | undefined): void {
    const key = this.k.state(tenantId, personId);
    if (held === undefined) this.copy.delete(key);
    // A copy of the bytes: zlib's result and a reply's value are views of a 16 KB (or a socket read's)
    // buffer, which would otherwise stay alive for as long as the person is held.
    else this.copy.set(key, { ...held, data: Buffer.from(held.data) });
  }

  /** A change another replica (or this one) wrote, from the feed: held unless what is held is newer. */
  follow(e: StateEntry): void {
    const key = this.k.state(e.tenantId, e.personId);
    if (!e.data || e.rev === undefined) {
      this.copy.delete(key);
      return;
    }
    const held = this.copy.get(key);
    if (!held) this.copy.set(key, { rev: e.rev, data: e.data, version: e.version, tenantId: e.tenantId, personId: e.personId });
    else if (e.version > held.version) {
      // In place: every replica follows every change, and a new record per change is only garbage.
      held.rev = e.rev;
      held.data = e.data;
      held.version = e.version;
    }
  }

  async read(tenantId: string, personId: string): Promise<PersonState> {
    return (await this.load(tenantId, personId)).state;
  }

  /** `evenPaused`: a full outage's bounding (`OutageBound`), which a replica back from one waits for before it answers. */
  update<T>(tenantId: string, personId: string, fn: (state: PersonState) => StoredUpdate<T>, opts: RunOptions = {}): Promise<T> {
    return this.lock.run(this.k.state(tenantId, personId), async () => {
      const held = this.copy.get(this.k.state(tenantId, personId));
      let at = held ? { rev: held.rev, state: deepFreeze(decode(held.data)) } : await this.load(tenantId, personId, opts);
      for (;;) {
        const { next, result, emit, cause } = fn(at.state);
        const empty = next.signals.length === 0 && !next.presence;
        const data = empty ? '' : encode(next);
        const event = emit ? (next.presence ? JSON.stringify(next.presence) : '-') : '';
        const rev = this.token();
        const refused = await this.write(tenantId, personId, at.rev, rev, data, next.presence, event, cause, opts);
        if (!refused) {
          const version = orderOf(next.presence);
          // The feed may already have brought a newer write of another replica.
          const newer = (this.copy.get(this.k.state(tenantId, personId))?.version ?? -1) > version;
          if (!newer) this.hold(tenantId, personId, empty ? undefined : { rev, data: data as Buffer, version, tenantId, personId });
          return result;
        }
        at = this.adopt(tenantId, personId, refused.rev, refused.data);
      }
    });
  }

  async remove(tenantId: string, personId: string): Promise<void> {
    await this.lock.run(this.k.state(tenantId, personId), async () => {
      let { rev } = await this.load(tenantId, personId);
      for (;;) {
        const refused = await this.write(tenantId, personId, rev, this.token(), '', undefined, '-');
        if (!refused) break;
        rev = refused.rev;
      }
      this.hold(tenantId, personId, undefined);
    });
  }

  /** Undefined when written; what Redis holds now when another writer got in first. */
  private async write(
    tenantId: string,
    personId: string,
    expected: string,
    rev: string,
    data: Buffer | '',
    presence: Presence | undefined,
    event: string,
    cause: StoredUpdate<unknown>['cause'] = undefined,
    opts: RunOptions = {},
  ): Promise<{ rev: string; data: Buffer } | undefined> {
    const k = this.k;
    const reply = await this.writeState(
      [k.state(tenantId, personId), k.statesOf(tenantId), k.tenants(), k.due(), k.feed(), k.feedSeq(), k.epoch()],
      [expected, data, orderOf(presence), tenantId, personId, presence?.wakeAt ?? '', event, this.feedEvents, rev, dueMember(tenantId, personId), cause ?? ''],
      opts,
    );
    if (!Array.isArray(reply)) return undefined;
    const [current, currentData] = reply as [Buffer, Buffer];
    return { rev: current.toString(), data: currentData };
  }

  async listPresence(tenantId: string): Promise<Presence[]> {
    const ids = await this.conn.run((r) => r.smembers(this.k.statesOf(tenantId)));
    const out: Presence[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const raws = await this.conn.run((r) => Promise.all(chunk.map((id) => r.hgetBuffer(this.k.state(tenantId, id), 'd'))));
      for (const raw of raws) {
        const p = raw ? decode(raw).presence : undefined;
        if (p) out.push(deepFreeze(p));
      }
    }
    return out;
  }

  async keys(opts: RunOptions = {}): Promise<Array<{ tenantId: string; personId: string }>> {
    const tenants = await this.conn.run((r) => r.smembers(this.k.tenants()), opts);
    const out: Array<{ tenantId: string; personId: string }> = [];
    for (const tenantId of tenants) {
      for (const personId of await this.conn.run((r) => r.smembers(this.k.statesOf(tenantId)), opts)) out.push({ tenantId, personId });
    }
    return out;
  }

  /**
   * After Redis lost its data: puts back every state this replica holds, unless Redis has a newer one;
   * tells `put` of each put back, with its order.
   */
  async restore(put?: (person: { tenantId: string; personId: string; order: number }) => void): Promise<number> {
    let restored = 0;
    for (const [key, c] of this.copy) {
      const rev = this.token();
      const { version, tenantId, personId } = c;
      const done = Number(await this.restoreState([key, this.k.statesOf(tenantId), this.k.tenants()], [c.data, version, tenantId, personId, rev], { evenPaused: true }));
      // Unless the feed brought a newer write meanwhile (`follow` updates the record in place).
      if (done && c.version === version) c.rev = rev;
      if (done) put?.({ tenantId, personId, order: version });
      restored += done;
    }
    return restored;
  }
}
