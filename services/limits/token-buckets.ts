import { BUCKET_REFILL_MS, bucketLevel } from '../../shared/store/shared-limits.js';

/** One bucket: how many tokens it held at `at`. */
interface Bucket {
  tokens: number;
  at: number;
}

/** A refusal: whole seconds until the bucket holds what was asked (RFC 9110 §10.2.3 delay-seconds). */
export interface Refusal {
  retryAfterSec: number;
}

/** Buckets past this many are swept of the full ones (a full bucket is the same as none). */
const SWEEP_AT = 10_000;

export const wait = (missing: number, perMinute: number) => Math.max(1, Math.ceil((missing * 60) / perMinute));

/**
 * Token buckets by key, each holding up to `perMinute` tokens and refilled at `perMinute` a minute,
 * computed from the instants the caller passes (no timers). A request costs one token, a PBX batch one
 * per event; one that costs more than is left takes nothing, so a refused batch is refused whole.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  /** Doubles when a sweep frees little, so many live keys cost a sweep now and then, not one per request. */
  private sweepAt = SWEEP_AT;

  /** Takes `cost` tokens from `key`'s bucket of `perMinute`, or says how long until it could. */
  take(key: string, perMinute: number, cost: number, now: number): Refusal | undefined {
    const refusal = this.lacks(key, perMinute, cost, now);
    if (refusal) return refusal;
    this.buckets.set(key, { tokens: this.level(key, perMinute, now) - cost, at: now });
    if (this.buckets.size > this.sweepAt) this.sweep(now);
    return undefined;
  }

  /** Whether `key`'s bucket holds less than `cost` tokens, and how long until it would; takes nothing. */
  lacks(key: string, perMinute: number, cost: number, now: number): Refusal | undefined {
    const tokens = this.level(key, perMinute, now);
    // More than a full bucket never fits: the wait is until the bucket is full, and the caller says to send less.
    return tokens >= cost ? undefined : { retryAfterSec: wait(Math.min(cost, perMinute) - tokens, perMinute) };
  }

  get size(): number {
    return this.buckets.size;
  }

  private level(key: string, perMinute: number, now: number): number {
    const b = this.buckets.get(key);
    return b ? bucketLevel(b.tokens, b.at, perMinute, now) : perMinute;
  }

  /** Forgets buckets that have refilled: at most a minute's worth of keys stays in memory. */
  private sweep(now: number): void {
    for (const [key, b] of this.buckets) if (now - b.at >= BUCKET_REFILL_MS) this.buckets.delete(key);
    this.sweepAt = Math.max(SWEEP_AT, 2 * this.buckets.size);
  }
}
