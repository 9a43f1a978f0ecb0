/**
 * Short leases that serialise work across replicas: one OAuth refresh in flight per connection, one
 * replica running a connection's calendar job at a time. The instant is an argument, never read from a
 * clock, so every adapter judges expiry the same way (Redis compares it inside one Lua script) and tests
 * drive it without a real clock.
 */
export interface LeaseStore {
  /**
   * Takes the lease `key` for `owner` until `now + ttlMs` when it is free, has expired at `now`, or is
   * already held by `owner` (which extends it). True when `owner` holds it afterwards.
   */
  acquire(key: string, owner: string, ttlMs: number, now: number): Promise<boolean>;
  /** Who holds the lease `key` at `now`, if anyone (an expired lease is held by no one). */
  holder(key: string, now: number): Promise<string | undefined>;
  /** Frees the lease if `owner` still holds it; false when it expired and someone else took it. */
  release(key: string, owner: string): Promise<boolean>;
  /**
   * `acquire` of every key in one atomic step, all or none: true when `owner` holds them all afterwards,
   * false (and nothing taken or extended) when any is held by another owner. Holding none while waiting,
   * a taker of many never keeps one that another waits for.
   */
  acquireAll(keys: readonly string[], owner: string, ttlMs: number, now: number): Promise<boolean>;
  /** Frees those of `keys` that `owner` still holds; how many that was. */
  releaseAll(keys: readonly string[], owner: string): Promise<number>;
}
