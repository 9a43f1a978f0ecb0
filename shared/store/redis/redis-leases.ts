import type { RedisKeys } from '../keys.js';
import type { LeaseStore } from '../leases.js';
import type { ReplayGuard } from '../replay-guard.js';
import type { Connection } from './connection.js';
import { FIRST_SEEN, LEASE_ACQUIRE, LEASE_RELEASE } from './scripts.js';

/** Leases as `{ o: owner, e: expiresAt }` hashes; expiry judged against the instant passed in. */
export class RedisLeases implements LeaseStore {
  private readonly acquireScript;
  private readonly releaseScript;

  constructor(
    private readonly conn: Connection,
    private readonly keys: RedisKeys,
  ) {
    this.acquireScript = conn.script(LEASE_ACQUIRE);
    this.releaseScript = conn.script(LEASE_RELEASE);
  }

  acquire(key: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    return this.acquireAll([key], owner, ttlMs, now);
  }

  async holder(key: string, now: number): Promise<string | undefined> {
    const [owner, expiresAt] = await this.conn.run((r) => r.hmget(this.keys.lease(key), 'o', 'e'));
    return owner && Number(expiresAt) > now ? owner : undefined;
  }

  async release(key: string, owner: string): Promise<boolean> {
    return (await this.releaseAll([key], owner)) === 1;
  }

  async acquireAll(keys: readonly string[], owner: string, ttlMs: number, now: number): Promise<boolean> {
    if (!(ttlMs > 0)) throw new RangeError('a lease needs a positive ttlMs');
    return (await this.acquireScript(keys.map((k) => this.keys.lease(k)), [owner, now, now + ttlMs])) === 1;
  }

  async releaseAll(keys: readonly string[], owner: string): Promise<number> {
    return Number(await this.releaseScript(keys.map((k) => this.keys.lease(k)), [owner]));
  }
}

/** Replay fingerprints shared by every replica: a request replayed to another replica is still refused. */
export class RedisReplayGuard implements ReplayGuard {
  private readonly script;

  constructor(
    private readonly conn: Connection,
    private readonly keys: RedisKeys,
  ) {
    this.script = conn.script(FIRST_SEEN);
  }

  async firstSeen(key: string, now: number, ttlMs: number): Promise<boolean> {
    return (await this.script([this.keys.replay(key)], [now, now + ttlMs, Math.max(1, Math.ceil(ttlMs))])) === 1;
  }

  async forget(key: string): Promise<void> {
    await this.conn.run((r) => r.del(this.keys.replay(key)));
  }
}
