import type { RedisKeys } from '../keys.js';
import { BUCKET_REFILL_MS, type BucketTake, type PlaceTake, type SharedLimits } from '../shared-limits.js';
import type { Connection, Script } from './connection.js';
import { HOLD_PLACE, PUBLISH_PLACES, TAKE_TOKENS } from './scripts.js';

/**
 * Shared limits in Redis, one script a call. The instants passed in decide everything; key expiries (on
 * Redis's clock) only collect what nobody renews: a full bucket, a stopped replica's counts.
 */
export class RedisSharedLimits implements SharedLimits {
  private readonly scripts: Record<'take' | 'hold' | 'publish', Script>;

  constructor(
    conn: Connection,
    private readonly keys: RedisKeys,
  ) {
    this.scripts = { take: conn.script(TAKE_TOKENS), hold: conn.script(HOLD_PLACE), publish: conn.script(PUBLISH_PLACES) };
  }

  async take(bucket: string, perMinute: number, need: number, want: number, now: number): Promise<BucketTake> {
    // Kept while a bucket in debt (down to minus a minute's worth) refills: two minutes.
    const [taken, left] = (await this.scripts.take([this.keys.limitBucket(bucket)], [perMinute, need, want, now, 2 * BUCKET_REFILL_MS])) as [number, string];
    return { taken: Number(taken), left: Number(left) };
  }

  async hold(key: string, replica: string, own: number, atOnce: number, now: number, ttlMs: number): Promise<PlaceTake> {
    const [taken, total] = (await this.scripts.hold([this.keys.limitPlaces(key)], [replica, own, atOnce, now, Math.ceil(now + ttlMs), Math.ceil(ttlMs)])) as [number, number];
    return { taken: taken === 1, total: Number(total) };
  }

  async publish(replica: string, counts: ReadonlyMap<string, number>, now: number, ttlMs: number): Promise<number> {
    const keys = [this.keys.limitReplicas(), ...[...counts.keys()].map((k) => this.keys.limitPlaces(k))];
    return Number(await this.scripts.publish(keys, [replica, now, Math.ceil(now + ttlMs), Math.ceil(ttlMs), ...counts.values()]));
  }
}
