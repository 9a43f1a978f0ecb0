import type { LeaseStore } from '../leases.js';

interface Lease {
  owner: string;
  expiresAt: number;
}

/** Leases for the embedded store: one process, so memory is the shared truth; a restart frees them all. */
export class MemoryLeases implements LeaseStore {
  private readonly leases = new Map<string, Lease>();

  async acquire(key: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    if (!(ttlMs > 0)) throw new RangeError('a lease needs a positive ttlMs');
    const held = this.leases.get(key);
    if (held && held.owner !== owner && held.expiresAt > now) return false;
    this.leases.set(key, { owner, expiresAt: now + ttlMs });
    return true;
  }

  async release(key: string, owner: string): Promise<boolean> {
    const held = this.leases.get(key);
    if (!held || held.owner !== owner) return false;
    this.leases.delete(key);
    return true;
  }
}
