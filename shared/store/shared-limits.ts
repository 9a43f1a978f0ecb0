/** What a shared token bucket gave: `taken` tokens, and what it holds after (fractional). */
export interface BucketTake {
  taken: number;
  left: number;
}

/** What a replica holding `own` places of one count found: whether it took one more, and the count across replicas. */
export interface PlaceTake {
  taken: boolean;
  total: number;
}

/** A minute: a shared bucket refills in it, so one untouched that long is full (and may be forgotten). */
export const BUCKET_REFILL_MS = 60_000;

/**
 * Request limits shared by every replica of a deployment, so that a limit means the same with one replica
 * or many. Instants are arguments, never read from a clock, as for leases: every adapter and test judges
 * time the same way.
 */
export interface SharedLimits {
  /**
   * Takes from the token bucket `bucket` (holding up to `perMinute`, full at first, refilled at `perMinute`
   * a minute as of `now`) as many whole tokens as it holds, between `need` and `want`; none when it holds
   * fewer than `need`. `need` 0: takes `want` whatever it holds, into debt down to minus `perMinute` (what
   * already happened, a failed authentication, is counted so that it delays the next). Answers what was
   * taken and what is left.
   */
  take(bucket: string, perMinute: number, need: number, want: number, now: number): Promise<BucketTake>;
  /**
   * One more place of the count `key` for `replica`, which holds `own` of it with this one: taken (and
   * `own` published until `now + ttlMs`) when `own` plus the other replicas' fresh counts is at most
   * `atOnce`. `total`: that sum, with this one when taken.
   */
  hold(key: string, replica: string, own: number, atOnce: number, now: number, ttlMs: number): Promise<PlaceTake>;
  /**
   * Publishes how many places of each count `replica` holds (0 withdraws it), fresh until `now + ttlMs`,
   * and that the replica runs until then (`ttlMs` 0: it stops, and is no longer counted). Answers how many
   * replicas run at `now` (this one included while it runs).
   */
  publish(replica: string, counts: ReadonlyMap<string, number>, now: number, ttlMs: number): Promise<number>;
}

/** The level of a bucket of `perMinute` that held `tokens` at `at`, as of `now`. */
export function bucketLevel(tokens: number, at: number, perMinute: number, now: number): number {
  return Math.min(perMinute, tokens + (Math.max(0, now - at) * perMinute) / BUCKET_REFILL_MS);
}

/** One process: memory is the shared truth (the embedded store, and replicas simulated in tests). */
export class MemorySharedLimits implements SharedLimits {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly places = new Map<string, Map<string, { own: number; until: number }>>();
  private readonly replicas = new Map<string, number>();

  async take(bucket: string, perMinute: number, need: number, want: number, now: number): Promise<BucketTake> {
    const b = this.buckets.get(bucket);
    const level = b ? bucketLevel(b.tokens, b.at, perMinute, now) : perMinute;
    if (need > 0 && level < need) return { taken: 0, left: level };
    const taken = need === 0 ? want : Math.min(want, Math.floor(level));
    const left = Math.max(-perMinute, level - taken);
    // Never back in time (a replica whose clock is behind): the next take would refill that gap twice.
    this.buckets.set(bucket, { tokens: left, at: Math.max(now, b?.at ?? now) });
    return { taken, left };
  }

  async hold(key: string, replica: string, own: number, atOnce: number, now: number, ttlMs: number): Promise<PlaceTake> {
    let counts = this.places.get(key);
    let total = own;
    for (const [r, c] of counts ?? []) if (r !== replica && c.until > now) total += c.own;
    if (atOnce > 0 && total > atOnce) return { taken: false, total: total - 1 };
    if (!counts) this.places.set(key, (counts = new Map()));
    counts.set(replica, { own, until: now + ttlMs });
    return { taken: true, total };
  }

  async publish(replica: string, counts: ReadonlyMap<string, number>, now: number, ttlMs: number): Promise<number> {
    for (const [key, own] of counts) {
      const held = this.places.get(key);
      if (own > 0) this.places.set(key, (held ?? new Map()).set(replica, { own, until: now + ttlMs }));
      else held?.delete(replica);
    }
    this.replicas.set(replica, now + ttlMs);
    let live = 0;
    for (const [r, until] of this.replicas) if (until > now) live++;
    else this.replicas.delete(r);
    return live;
  }
}
