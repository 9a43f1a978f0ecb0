import type { LeaseStore } from '../leases.js';

interface Lease {
  owner: string;
  expiresAt: number;
}

/** Leases for the embedded store: one process, so memory is the shared truth; a restart frees them all. */
export class MemoryLeases implements LeaseStore {
  private readonly leases = new Map<string, Lease>();

  acquire(key: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    return this.acquireAll([key], owner, ttlMs, now);
  }

  async holder(key: string, now: number): Promise<string | undefined> {
    const held = this.leases.get(key);
    return held && held.expiresAt > now ? held.owner : undefined;
  }

  async release(key: string, owner: string): Promise<boolean> {
    return (await this.releaseAll([key], owner)) === 1;
  }

  async acquireAll(keys: readonly string[], owner: string, ttlMs: number, now: number): Promise<boolean> {
    if (!(ttlMs > 0)) throw new RangeError('a lease needs a positive ttlMs');
    const busy = (key: string) => {
      const held = this.leases.get(key);
      return !!held && held.owner !== owner && held.expiresAt > now;
    };
    if (keys.some(busy)) return false;
    for (const key of keys) this.leases.set(key, { owner, expiresAt: now + ttlMs });
    return true;
  }

  async releaseAll(keys: readonly string[], owner: string): Promise<number> {
    let n = 0;
    for (const key of keys) {
      if (this.leases.get(key)?.owner !== owner) continue;
      this.leases.delete(key);
      n++;
    }
    return n;
  }
}
