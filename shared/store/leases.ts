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
  /** Frees the lease if `owner` still holds it; false when it expired and someone else took it. */
  release(key: string, owner: string): Promise<boolean>;
}
