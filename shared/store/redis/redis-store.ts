import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { redisKeys } from '../keys.js';
import type { Store } from '../port.js';
import { Connection } from './connection.js';
import { RedisDirectory } from './redis-directory.js';
import { RedisFeed } from './redis-feed.js';
import { OutageBound } from './outage-bound.js';
import { RedisLeases, RedisReplayGuard } from './redis-leases.js';
import { RedisRoutingState } from './redis-routing-state.js';
import { RedisSharedLimits } from './redis-shared-limits.js';
import { RedisDeliveryLedger, RedisDueSet } from './redis-shared-work.js';
import { RedisState } from './redis-state.js';
import { RedisTargetStatus } from './redis-target-status.js';
import { RENAME_DATASET } from './scripts.js';

const COPY_REFRESH_MS = 5000;
type Put = { tenantId: string; personId: string; order: number };
/** How long no replica may renew `alive` (running and reaching Redis) before that counts as a full outage (`outage-bound.ts`). */
const ALIVE_MS = 15_000;

export interface RedisStoreOptions {
  url: string;
  /** Prepended to every key, so several deployments can share one Redis. */
  prefix: string;
  /** Length of the change feed kept for `Last-Event-ID` resumes. */
  feedEvents: number;
  log: Logger;
  /** How often a replica refreshes its copy of the directory (for restore after data loss, and reads) at most. */
  copyRefreshMs?: number;
  /**
   * Now, and when registrations kept without an expiry stop being believed, for a full outage found now
   * (`outage-bound.ts`); without it they are believed until the PBX says otherwise, and calls are kept.
   */
  afterOutage?: () => { at: number; registrationsUntil: number };
  /** How long no replica may renew `alive` (running and reaching Redis) before that counts as a full outage. */
  aliveMs?: number;
}

/**
 * The store every replica shares. Redis is the truth while it has its data; when it comes back without
 * it (a restart without AOF, a failover to an empty replica), every replica puts back the directory and
 * the per-person states it holds, then tells the service, which re-evaluates everyone and re-sends
 * current states. Until that check is done after a reconnect, the store answers as unavailable.
 */
export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly directory: RedisDirectory;
  readonly state: RedisState;
  readonly leases: RedisLeases;
  readonly feed: RedisFeed;
  readonly replay: RedisReplayGuard;
  readonly routingState: RedisRoutingState;
  readonly targetStatus: RedisTargetStatus;
  readonly shared: { due: RedisDueSet };
  readonly deliveries: RedisDeliveryLedger;
  readonly limits: RedisSharedLimits;
  private readonly conn: Connection;
  private readonly keys;
  private readonly log: Logger;
  private readonly recovered = new Set<() => void>();
  private epoch: string | null = null;
  private refresh: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  /** Connections lost so far: one lost while `checkData` runs means Redis may have changed again since it looked. */
  private closes = 0;
  /** Put back what this replica held, and not yet told the service (`onRecovered`). */
  private restored = false;
  /** What this replica put back after a data loss, and whether it had lapsed, until it has decided whether that was a full outage. */
  private putBack: { put: Put[]; lapsed: boolean } | undefined;
  private readonly renameDataset;
  private readonly outage: OutageBound;

  constructor(private readonly opts: RedisStoreOptions) {
    this.log = opts.log;
    this.keys = redisKeys(opts.prefix);
    this.conn = new Connection(opts.url, opts.log, 'presence-hub');
    this.renameDataset = this.conn.script(RENAME_DATASET);
    const reader = new Connection(opts.url, opts.log, 'presence-hub-feed', { commandTimeoutMs: 10_000, autoPipelining: false });
    this.directory = new RedisDirectory(this.conn, this.keys, opts.prefix, opts.copyRefreshMs ?? COPY_REFRESH_MS);
    this.state = new RedisState(this.conn, this.keys, opts.feedEvents);
    this.leases = new RedisLeases(this.conn, this.keys);
    this.feed = new RedisFeed(this.conn, reader, this.keys, (e) => this.state.follow(e));
    this.replay = new RedisReplayGuard(this.conn, this.keys);
    this.routingState = new RedisRoutingState(this.conn, this.keys);
    this.targetStatus = new RedisTargetStatus(this.conn, this.keys);
    this.shared = { due: new RedisDueSet(this.conn, this.keys) };
    this.deliveries = new RedisDeliveryLedger(this.conn, this.keys);
    this.limits = new RedisSharedLimits(this.conn, this.keys);
    this.outage = new OutageBound(this.conn, this.keys, this.state, opts.log, {
      replica: randomBytes(6).toString('hex'),
      aliveMs: opts.aliveMs ?? ALIVE_MS,
      epoch: () => this.epoch,
      bound: opts.afterOutage,
    });
    this.conn.client.on('close', () => {
      this.closes++;
      this.conn.paused = true;
    });
    this.conn.client.on('ready', () => {
      if (this.conn.paused) this.checking ??= this.checkData().finally(() => (this.checking = undefined));
    });
  }

  /** Connects (waiting up to 10 s for Redis), names the dataset and starts reading the feed. */
  async start(): Promise<void> {
    await this.conn.connect();
    this.conn.paused = false;
    await this.adoptEpoch();
    await this.feed.start();
    await this.directory.refreshCopy();
    this.refresh = setInterval(() => {
      this.watch().catch(() => undefined);
    }, this.opts.copyRefreshMs ?? COPY_REFRESH_MS);
    this.refresh.unref();
    await this.outage.start();
  }

  private async adoptEpoch(): Promise<void> {
    this.epoch = await this.conn.run(
      async (r) => {
        await r.set(this.keys.epoch(), randomBytes(6).toString('hex'), 'NX');
        return r.get(this.keys.epoch());
      },
      { evenPaused: true },
    );
  }

  /**
   * A FLUSHALL, or a failover that keeps the connection open, loses the data without a reconnect: the
   * dataset's name is checked as often as the directory copy is refreshed.
   */
  private async watch(): Promise<void> {
    if (this.conn.paused || this.checking) return;
    const [epoch, seq] = await this.conn.run((r) => Promise.all([r.get(this.keys.epoch()), r.get(this.keys.feedSeq())]));
    if (epoch !== this.epoch || (await this.wentBack(epoch, seq))) {
      this.conn.paused = true;
      this.checking ??= this.checkData().finally(() => (this.checking = undefined));
      return;
    }
    await this.directory.refreshCopy();
  }

  /**
   * After a reconnect: same dataset → carry on; a different or empty one, or the same one gone back in
   * time (renamed first, so no id is handed out twice) → put back what we hold. Checked again, still
   * paused, when the connection was lost meanwhile (the check may wait up to 30 s for a bound): Redis may
   * have lost its data, or restarted, in that second gap, which no `ready` started a check for.
   */
  private async checkData(): Promise<void> {
    try {
      for (;;) {
        const closes = this.closes;
        const { full, pending } = await this.checkOnce();
        if (this.closes !== closes) {
          this.log.warn('redis connection lost again while checking what it holds; checking again');
          // Not up: its `ready` starts the next check.
          if (this.conn.up) continue;
          return;
        }
        this.conn.paused = false;
        if (!this.restored) {
          if (!full) void this.outage.heartbeat().catch(() => undefined);
          return;
        }
        // Everyone is merged again once bounded (calls dropped, at the outage's end), not before.
        if (!full) await this.outage.untilBounded(pending ?? (await this.outage.heartbeat().catch(() => false))).catch(() => undefined);
        this.restored = false;
        for (const l of this.recovered) l();
        return;
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'checking redis after a reconnect failed; trying again');
      setTimeout(() => {
        if (this.conn.paused && this.conn.up) this.checking ??= this.checkData().finally(() => (this.checking = undefined));
      }, 500).unref();
    }
  }

  /**
   * One look at what Redis holds, while paused (putting back what it lost, bounding a full outage). Answers
   * whether it found a full outage (bounded before this answers) and, when it renewed `alive` after putting
   * back, whether a bound is pending.
   */
  private async checkOnce(): Promise<{ full: boolean; pending?: boolean }> {
    const [found, seq] = await this.conn.run((r) => Promise.all([r.get(this.keys.epoch()), r.get(this.keys.feedSeq())]), { evenPaused: true });
    let epoch = found;
    if (await this.wentBack(epoch, seq)) {
      epoch = (await this.renameDataset([this.keys.epoch(), this.keys.feed()], [found!, randomBytes(6).toString('hex')], { evenPaused: true })) as string | null;
    }
    // Away for longer than `alive` lives: unless another replica renewed it since (the heartbeat's script
    // looks), none could take a PBX event for that long, which is a full outage (`outage-bound.ts`).
    const lapsed = this.outage.lapsed();
    if (epoch === this.epoch && !this.putBack) {
      // Back in the same dataset: bounded now rather than at the next heartbeat, before this replica answers again.
      if (lapsed) await this.bounded(await this.outage.heartbeat({ evenPaused: true }));
      return { full: lapsed };
    }
    if (epoch !== this.epoch) {
      // A full outage whose data went with it, or a mere data loss. `alive` went with the data: renewed at
      // once by a replica that did not lapse, so that one that did can tell (`fullOutage`).
      this.outage.lostData({ lapsed });
      if (!lapsed) await this.outage.heartbeat({ renewOnly: true, evenPaused: true });
      const docs = await this.directory.restore();
      const put: Put[] = [];
      const states = await this.state.restore((p) => put.push(p));
      await this.adoptEpoch();
      this.restored = true;
      this.putBack = { put, lapsed };
      this.feed.dataLost();
      this.log.warn({ restoredDocuments: docs, restoredStates: states }, 'redis came back without its data, or older: put back what this replica held');
    }
    // Decided once the connection held throughout: a check cut short by losing Redis again (in `fullOutage`,
    // say) decides again, in this dataset, with what it put back, not as if it were back in the same one.
    const { put, lapsed: away } = this.putBack!;
    const full = away && (await this.outage.fullOutage({ evenPaused: true }));
    // Renewed again before this replica answers, so that neither its next heartbeat nor a replica starting
    // meanwhile takes a mere data loss for a full outage. After a full outage, the first replica back sets
    // the bound instead, and applies it to what was put back.
    const bounding = await this.outage.heartbeat({ renewOnly: !full, found: full, evenPaused: true });
    this.putBack = undefined;
    // Back from a full outage, no answer before the bound is applied: a call a PBX reported meanwhile
    // would be dropped with the rest. A replica back after that bound listed everyone bounds what it
    // put back itself. If that fails, the bound stays pending for the next heartbeat.
    if (full) await this.bounded(bounding, () => this.outage.boundRestored(put, { evenPaused: true }));
    return { full, pending: bounding };
  }

  /** While paused: waits for a `pending` bound (30 s at most, `untilBounded`), then does `then`; never throws. */
  private async bounded(pending: boolean, then?: () => Promise<void>): Promise<void> {
    await this.outage.untilBounded(pending, { evenPaused: true }).catch(() => undefined);
    await then?.().catch(() => undefined);
  }

  /** The same dataset, counting its feed or a directory collection below what this replica has seen. */
  private async wentBack(epoch: string | null, feedSeq: string | null): Promise<boolean> {
    if (epoch === null || epoch !== this.epoch) return false;
    return this.feed.wentBack(epoch, Number(feedSeq ?? 0)) || (await this.directory.wentBack());
  }

  onRecovered(listener: () => void): void {
    this.recovered.add(listener);
  }

  async ready(): Promise<boolean> {
    if (!this.conn.up || this.conn.paused) return false;
    try {
      return (await this.conn.run((r) => r.ping())) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.refresh) clearInterval(this.refresh);
    await this.outage.stop();
    await this.feed.stop();
    this.conn.close();
  }
}
