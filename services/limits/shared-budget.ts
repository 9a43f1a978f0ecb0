import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../shared/clock/clock.js';
import type { BucketTake, SharedLimits } from '../../shared/store/shared-limits.js';
import { TokenBuckets, wait, type Refusal } from './token-buckets.js';

/**
 * How long a replica's published counts of open places stay fresh without a renewal (renewed every third
 * of it): a replica killed without closing its streams holds their places elsewhere this long at most.
 */
export const PLACES_TTL_MS = 15_000;
/**
 * A replica takes a shared bucket's tokens in chunks of a tenth of its minute and spends them without a
 * round trip: at most this many round trips a minute per bucket and replica at a steady full rate.
 */
const CHUNKS = 10;
/**
 * Tokens a replica took and has not spent are forgotten after this. It bounds only how long they may sit
 * unspent (a caller now served by other replicas), never how far over a limit anyone gets: a replica holds
 * at most a chunk. Long enough that a device's heartbeats once a minute take a chunk every few beats.
 */
const ALLOWANCE_MS = 5 * 60_000;
/**
 * Rounds of taking chunks one request makes while others on this replica spend them first: enough that a
 * whole bucket's worth arriving at once on one replica is served, a chunk per round trip.
 */
const ROUNDS = CHUNKS + 1;
/** Allowances and blocks kept past this many are swept of the lapsed ones (as `TokenBuckets`). */
const SWEEP_AT = 10_000;

/** One bucket a request takes from. */
export interface BudgetTake {
  bucket: string;
  perMinute: number;
}

/**
 * Request limits for the whole deployment, as `SharedLimits` counts them, without a round trip for most
 * requests. Rates: a replica spends, locally, tokens it took from the shared bucket a chunk at a time.
 * Open places: each replica publishes what it holds; one more is taken in one script against the sum.
 * When the store fails, each replica enforces its share (the limit ÷ the replicas it last saw running)
 * in buckets of its own, and says so in the log.
 */
export class SharedBudget {
  private readonly allowances = new Map<string, { tokens: number; at: number }>();
  /** Chunks being taken from the store, by bucket. */
  private readonly taking = new Map<string, Promise<BucketTake>>();
  /** Buckets whose shared level is below one token (failed authentications): refused here until then. */
  private readonly blocked = new Map<string, number>();
  /** Failed authentications seen here, against the whole limit: a burst on one replica stops at once. */
  private readonly seen = new TokenBuckets();
  private readonly fallback = new TokenBuckets();
  private live = 1;
  private sweepAt = SWEEP_AT;
  /** The store failed: limits are this replica's share, without asking it, until a renewal gets through. */
  private down = false;
  /** Counts this replica emptied that the store has not been told of (it failed): the renewal sends them. */
  private readonly withdrawn = new Set<string>();
  private timer: TimerHandle | undefined;

  constructor(
    private readonly deps: {
      limits: SharedLimits;
      replica: string;
      clock: Clock;
      log: Logger;
      /** The places this replica holds now, by count. */
      places(): ReadonlyMap<string, number>;
      placesTtlMs?: number;
    },
  ) {}

  private get ttl(): number {
    return this.deps.placesTtlMs ?? PLACES_TTL_MS;
  }

  /** Starts renewing this replica's counts (and that it runs); a first renewal now. */
  async start(): Promise<void> {
    await this.publish(this.deps.places());
    this.renewLater();
  }

  private renewLater(): void {
    this.timer = this.deps.clock.after(this.ttl / 3, () => {
      const counts = new Map(this.deps.places());
      for (const key of this.withdrawn) if (!counts.has(key)) counts.set(key, 0);
      void this.publish(counts).then(() => this.timer && this.renewLater());
    });
  }

  /**
   * Stops renewing and withdraws every count this replica holds, and the replica itself from those running:
   * its places free at once everywhere, and the others' share of a limit while the store fails no longer
   * counts it (from their next renewal). Best-effort: a store that fails is not asked again.
   */
  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    await this.publish(new Map([...this.deps.places().keys(), ...this.withdrawn].map((k) => [k, 0])), 0);
  }

  /**
   * Takes `cost` from each bucket, or answers the first that lacks it (the others keep what this replica
   * took for them, to spend on the next request). Most requests find their tokens here already.
   */
  async take(takes: readonly BudgetTake[], cost: number, now: number): Promise<{ index: number; refusal: Refusal } | undefined> {
    for (let round = 0; ; round++) {
      const lacking = takes.map((t, index) => ({ ...t, index, need: cost - this.allowance(t.bucket, now) })).filter((t) => t.need > 0);
      if (lacking.length === 0) {
        for (const t of takes) this.allowances.get(t.bucket)!.tokens -= cost;
        return undefined;
      }
      if (round === ROUNDS) return { index: lacking[0]!.index, refusal: { retryAfterSec: wait(lacking[0]!.need, lacking[0]!.perMinute) } };
      if (this.down) return this.locally(takes, cost, now);
      let answers;
      try {
        answers = await Promise.all(lacking.map((t) => this.chunk(t, now)));
      } catch (err) {
        this.fell(err);
        return this.locally(takes, cost, now);
      }
      this.up();
      for (const [i, t] of lacking.entries()) {
        const { taken, left } = answers[i]!;
        // Refused only when the bucket holds less than this request still lacks (a chunk taken for a
        // smaller need may have come back empty while this one's would fit).
        const lacks = cost - this.allowance(t.bucket, now);
        if (taken === 0 && lacks > left) return { index: t.index, refusal: { retryAfterSec: wait(lacks - left, t.perMinute) } };
      }
      this.sweep(now);
    }
  }

  /**
   * A chunk of `t.bucket` added to this replica's allowance. Requests that lack it while one is being
   * taken wait for that one: a burst costs one round trip, and no chunk is taken that nobody needs.
   */
  private chunk(t: BudgetTake & { need: number }, now: number): Promise<BucketTake> {
    const pending = this.taking.get(t.bucket);
    if (pending) return pending;
    const taking = this.deps.limits
      .take(t.bucket, t.perMinute, t.need, Math.max(t.need, Math.ceil(t.perMinute / CHUNKS)), now)
      .then((answer) => {
        if (answer.taken > 0) this.allowances.set(t.bucket, { tokens: this.allowance(t.bucket, now) + answer.taken, at: now });
        return answer;
      })
      .finally(() => this.taking.delete(t.bucket));
    this.taking.set(t.bucket, taking);
    return taking;
  }

  /** Whether failed authentications used up `bucket` everywhere, and how long until one more fits. */
  exhausted(bucket: string, perMinute: number, now: number): Refusal | undefined {
    const until = this.blocked.get(bucket);
    if (until !== undefined && until > now) return { retryAfterSec: Math.max(1, Math.ceil((until - now) / 1000)) };
    return this.seen.lacks(bucket, perMinute, 1, now) ?? this.fallback.lacks(bucket, this.share(perMinute), 1, now);
  }

  /**
   * Counts a failed authentication in `bucket`, here at once and in the shared bucket when the answer comes:
   * once that is used up, `exhausted` says so on this replica.
   */
  async failed(bucket: string, perMinute: number, now: number): Promise<void> {
    this.seen.take(bucket, perMinute, 1, now);
    if (this.down) {
      this.fallback.take(bucket, this.share(perMinute), 1, now);
      return;
    }
    try {
      // Counted even when the bucket is empty (other replicas let this one through before they knew): the
      // debt delays their next try, so the address gets the limit in the long run, not the limit per replica.
      const { left } = await this.deps.limits.take(bucket, perMinute, 0, 1, now);
      this.up();
      if (left >= 1) return;
      this.sweep(now);
      this.blocked.set(bucket, now + ((1 - left) * 60_000) / perMinute);
    } catch (err) {
      this.fell(err);
      this.fallback.take(bucket, this.share(perMinute), 1, now);
    }
  }

  /**
   * Whether one more place of `key` fits, `own` (with it) held here: at most `atOnce` across replicas
   * (0: no limit, counted only). Publishes `own` when it fits.
   */
  async hold(key: string, own: number, atOnce: number, now: number): Promise<boolean> {
    if (atOnce === 0) {
      this.released(key, own);
      return true;
    }
    if (this.down) return own <= this.share(atOnce);
    try {
      const { taken } = await this.deps.limits.hold(key, this.deps.replica, own, atOnce, now, this.ttl);
      this.up();
      return taken;
    } catch (err) {
      this.fell(err);
      return own <= this.share(atOnce);
    }
  }

  /** This replica now holds `own` places of `key` (0: none, withdrawn). A failure waits for the renewal. */
  released(key: string, own: number): void {
    if (!this.down) void this.publish(new Map([[key, own]]));
    else if (own === 0) this.withdrawn.add(key);
  }

  /** `ttlMs` 0: this replica stops (`SharedLimits.publish`). */
  private async publish(counts: ReadonlyMap<string, number>, ttlMs = this.ttl): Promise<void> {
    try {
      this.live = Math.max(1, await this.deps.limits.publish(this.deps.replica, counts, this.deps.clock.now(), ttlMs));
      for (const key of counts.keys()) this.withdrawn.delete(key);
      this.up();
    } catch (err) {
      this.fell(err);
      for (const [key, own] of counts) if (own === 0) this.withdrawn.add(key);
    }
  }

  /** Unspent tokens this replica took for `bucket` (none once lapsed). */
  private allowance(bucket: string, now: number): number {
    const a = this.allowances.get(bucket);
    return a && now - a.at < ALLOWANCE_MS ? a.tokens : 0;
  }

  /** The store failed: this request is judged by this replica's share of each limit. */
  private locally(takes: readonly BudgetTake[], cost: number, now: number): { index: number; refusal: Refusal } | undefined {
    for (const [index, t] of takes.entries()) {
      const refusal = this.fallback.lacks(t.bucket, this.share(t.perMinute), cost, now);
      if (refusal) return { index, refusal };
    }
    for (const t of takes) this.fallback.take(t.bucket, this.share(t.perMinute), cost, now);
    return undefined;
  }

  private share(limit: number): number {
    return Math.max(1, Math.floor(limit / this.live));
  }

  private fell(err: unknown): void {
    if (this.down) return;
    this.down = true;
    this.deps.log.warn({ err: (err as Error).message, replicas: this.live }, `request limits cannot be shared through the store: each replica enforces its share (the limit ÷ ${this.live}) until it is back`);
  }

  private up(): void {
    if (!this.down) return;
    this.down = false;
    this.deps.log.info('request limits are shared through the store again');
  }

  /** Forgets lapsed allowances and blocks once there are many; doubles the mark when most are live. */
  private sweep(now: number): void {
    if (this.allowances.size + this.blocked.size <= this.sweepAt) return;
    for (const [k, a] of this.allowances) if (now - a.at >= ALLOWANCE_MS) this.allowances.delete(k);
    for (const [k, until] of this.blocked) if (until <= now) this.blocked.delete(k);
    this.sweepAt = Math.max(SWEEP_AT, 2 * (this.allowances.size + this.blocked.size));
  }
}
