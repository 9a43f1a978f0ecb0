/** Remembers request fingerprints for a while, so a replayed signed request is recognised. */
export interface ReplayGuard {
  /** True the first time `key` is seen within `ttlMs`; false for a repeat. */
  firstSeen(key: string, now: number, ttlMs: number): Promise<boolean>;
  /** Forgets `key`, so a request that failed on our side can be sent again unchanged. */
  forget(key: string): Promise<void>;
}

export class MemoryReplayGuard implements ReplayGuard {
  private readonly seen = new Map<string, number>();
  private nextSweep = 0;

  async firstSeen(key: string, now: number, ttlMs: number): Promise<boolean> {
    if (now >= this.nextSweep) {
      for (const [k, expires] of this.seen) if (expires <= now) this.seen.delete(k);
      this.nextSweep = now + ttlMs;
    }
    const expires = this.seen.get(key);
    if (expires !== undefined && expires > now) return false;
    this.seen.set(key, now + ttlMs);
    return true;
  }

  async forget(key: string): Promise<void> {
    this.seen.delete(key);
  }
}
