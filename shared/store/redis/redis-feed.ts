import type { ChangeFeed, FeedEvent, FeedSubscription } from '../feed.js';
import type { RedisKeys } from '../keys.js';
import type { Connection } from './connection.js';
import { parseEntry } from './feed-entry.js';
import type { StateEntry } from './redis-state.js';

type Entry = [id: Buffer, fields: Buffer[]];

/** Entries per XREAD at most. */
const READ_COUNT = 1000;
/**
 * After a read that brought entries but not a full reply, the next XREAD waits this long before it is
 * sent. Under load an immediate XREAD comes back with the handful of entries written in the meantime,
 * and every read costs both processes a loopback write that wakes the other plus the command's set-up
 * and reply handling (about 300 µs of the reader's CPU on the two-core bench machine): pausing lets each
 * read carry the entries of those milliseconds instead (a replica following 3,000 changes/s: 7 entries
 * per read without the pause, 34 with it). The cost is latency, at most this pause per change and only
 * while changes are flowing: after a quiet spell the blocking XREAD is already waiting, and the first
 * change goes out at once.
 */
const READ_PAUSE_MS = 10;

/**
 * The change feed of every replica: one Redis stream that state writes append to (ids `<seq>-0`), read
 * by one blocking XREAD loop per replica and fanned out to local listeners. Event ids are
 * `<epoch>-<seq>`: the epoch names the Redis dataset, so an id from before Redis lost its data is
 * recognised as unknown and the client gets a fresh snapshot instead of a gap. Each entry also goes to
 * `onEntry` (the replica's copy of the states follows the writes of every replica).
 */
export class RedisFeed implements ChangeFeed {
  private readonly tenants = new Map<string, Set<(e: FeedEvent) => void>>();
  private readonly all = new Set<(e: FeedEvent) => void>();
  private readonly missed = new Set<() => void>();
  private lastId = '0-0';
  private epoch: string | undefined;
  private resyncWanted = false;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly conn: Connection,
    /** A connection of its own: XREAD BLOCK holds it. */
    private readonly reader: Connection,
    private readonly keys: RedisKeys,
    private readonly onEntry: (e: StateEntry) => void = () => undefined,
  ) {}

  /** The dataset changed under a live connection: read the new stream from its start. */
  dataLost(): void {
    this.resyncWanted = true;
  }

  /**
   * Whether Redis counts the feed below what this replica has read of the same dataset: it went back
   * in time (an AOF that lost its last second, a failover to a replica that lagged), and the next
   * changes would get ids already handed out for others.
   */
  wentBack(epoch: string | null, seq: number): boolean {
    return epoch !== null && epoch === this.epoch && seq < streamSeq(this.lastId);
  }

  /** Starts reading after the newest entry. */
  async start(): Promise<void> {
    await this.resync(true);
    this.loop = this.run();
  }

  /** Where to go on from after a lost connection: the same dataset goes on; a new one starts over. */
  private async resync(initial: boolean): Promise<void> {
    const [epoch, newest] = await this.conn.run((r) => Promise.all([r.get(this.keys.epoch()), r.xrevrange(this.keys.feed(), '+', '-', 'COUNT', 1)]));
    if (initial) this.lastId = newest[0]?.[0] ?? '0-0';
    else if (epoch !== this.epoch) this.lastId = '0-0';
    this.epoch = epoch ?? undefined;
  }

  private async run(): Promise<void> {
    let failed = false;
    while (!this.stopped) {
      try {
        if (failed || this.resyncWanted) {
          this.resyncWanted = false;
          await this.resync(false);
        }
        failed = false;
        // Buffers: an entry's state data is binary.
        const reply = (await this.reader.client.xreadBuffer('COUNT', READ_COUNT, 'BLOCK', 1000, 'STREAMS', this.keys.feed(), this.lastId)) as Array<[Buffer, Entry[]]> | null;
        const entries = reply?.[0]?.[1] ?? [];
        for (const [id, fields] of entries) {
          const { event, state, copiesOnly } = parseEntry(id.toString(), fields);
          // Written under another name of the dataset than the one this reader follows: the dataset
          // was renamed meanwhile (`wentBack`), and the stream is read again from its start under the
          // new name rather than past ids of the old one.
          if (epochOf(event.id) !== (this.epoch ?? '')) {
            await this.resync(false);
            if (this.lastId === '0-0') break;
          }
          // Sequences are contiguous within a dataset (one INCR per XADD, `scripts.ts`): a jump means the
          // stream was trimmed (MAXLEN) past entries this reader never got.
          const streamId = id.toString();
          const skipped = this.lastId !== '0-0' && streamSeq(streamId) > streamSeq(this.lastId) + 1;
          this.lastId = streamId;
          if (epochOf(event.id) !== (this.epoch ?? '')) continue;
          if (skipped) this.tellMissed();
          this.onEntry(state);
          if (!copiesOnly) this.dispatch(event);
        }
        if (entries.length > 0 && entries.length < READ_COUNT) await new Promise((r) => setTimeout(r, READ_PAUSE_MS));
      } catch {
        failed = true;
        if (!this.stopped) await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  private dispatch(e: FeedEvent): void {
    for (const l of this.tenants.get(e.tenantId) ?? []) l(e);
    for (const l of this.all) l(e);
  }

  async subscribe(tenantId: string, listener: (e: FeedEvent) => void, after?: string): Promise<FeedSubscription> {
    // Whatever the replay or an earlier event delivered is not delivered again: this replica's reader
    // may be behind the replica the client last saw. Sequences of another dataset (Redis came back
    // without its data and counts from 1 again) are not comparable: its first event goes through.
    let floorEpoch = after === undefined ? undefined : epochOf(after);
    let floor = after === undefined ? -1 : seqOf(after);
    const guarded = (e: FeedEvent) => {
      const seq = seqOf(e.id);
      const epoch = epochOf(e.id);
      if (epoch === floorEpoch && seq <= floor) return;
      floorEpoch = epoch;
      floor = seq;
      listener(e);
    };
    let set = this.tenants.get(tenantId);
    if (!set) this.tenants.set(tenantId, (set = new Set()));
    set.add(guarded);
    const close = () => void set.delete(guarded);
    try {
      const replay = after === undefined ? [] : await this.since(tenantId, after);
      if (replay !== 'reset') floor = Math.max(floor, ...replay.map((e) => seqOf(e.id)));
      else floorEpoch = undefined;
      return { replay, close };
    } catch (err) {
      close();
      throw err;
    }
  }

  async begin(tenantId: string): Promise<void> {
    // Read before it is written: every change of an earlier tenant of this id came before this call.
    await this.conn.run(async (r) => void (await r.hset(this.keys.feedBegan(), tenantId, (await r.get(this.keys.feedSeq())) ?? '0')));
  }

  subscribeAll(listener: (e: FeedEvent) => void): () => void {
    this.all.add(listener);
    return () => void this.all.delete(listener);
  }

  onMissed(listener: () => void): () => void {
    this.missed.add(listener);
    return () => void this.missed.delete(listener);
  }

  private tellMissed(): void {
    for (const l of [...this.missed]) {
      try {
        l();
      } catch {
        // One listener's failure must not keep the others on a stale view.
      }
    }
  }

  private async since(tenantId: string, after: string): Promise<FeedEvent[] | 'reset'> {
    const dash = after.lastIndexOf('-');
    const epoch = after.slice(0, dash);
    const seq = Number(after.slice(dash + 1));
    if (!Number.isInteger(seq) || seq < 0) return 'reset';
    const [current, oldest, newest, began] = await this.conn.run((r) =>
      Promise.all([
        r.get(this.keys.epoch()),
        r.xrange(this.keys.feed(), '-', '+', 'COUNT', 1),
        r.xrevrange(this.keys.feed(), '+', '-', 'COUNT', 1),
        r.hget(this.keys.feedBegan(), tenantId),
      ]),
    );
    if (epoch !== current || seq <= Number(began ?? 0)) return 'reset';
    const newestSeq = newest[0] ? Number(newest[0][0].split('-')[0]) : 0;
    const oldestSeq = oldest[0] ? Number(oldest[0][0].split('-')[0]) : newestSeq + 1;
    if (seq > newestSeq || seq < oldestSeq - 1) return 'reset';
    const entries = (await this.conn.run((r) => r.xrangeBuffer(this.keys.feed(), `${seq + 1}-0`, '+'))) as Entry[];
    // Trimmed between the check and this read (MAXLEN ~ drops a whole node of entries with one write): the
    // sequence jumps (one INCR per XADD), and a replay from there would skip changes without saying so.
    if (entries[0] && streamSeq(entries[0][0].toString()) !== seq + 1) return 'reset';
    return entries.flatMap(([id, fields]) => {
      const { event, copiesOnly } = parseEntry(id.toString(), fields);
      return !copiesOnly && event.tenantId === tenantId ? [event] : [];
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.reader.close();
    await this.loop;
  }
}

function epochOf(id: string): string {
  return id.slice(0, Math.max(0, id.lastIndexOf('-')));
}

/** The sequence of a stream entry id (`<seq>-0`). */
function streamSeq(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

function seqOf(id: string): number {
  const n = Number(id.slice(id.lastIndexOf('-') + 1));
  return Number.isFinite(n) ? n : -1;
}
