import { describe, expect, it } from 'vitest';
import type { LeaseStore } from '../../shared/store/leases.js';

const T = Date.parse('2026-03-02T10:00:00Z');

/**
 * The lease port's contract. Every adapter runs this suite with a fresh store; the instant is always an
 * argument, so no adapter may read its own clock to decide expiry.
 */
export function leaseContract(name: string, make: () => Promise<{ leases: LeaseStore; cleanup: () => Promise<void> }>): void {
  describe(`lease contract: ${name}`, () => {
    it('gives a free lease to the first owner and refuses a second until it expires', async () => {
      const { leases, cleanup } = await make();
      expect(await leases.acquire('refresh:a', 'replica-1', 30_000, T)).toBe(true);
      expect(await leases.acquire('refresh:a', 'replica-2', 30_000, T + 1)).toBe(false);
      expect(await leases.acquire('refresh:a', 'replica-2', 30_000, T + 29_999)).toBe(false);
      // Expiry is judged by the instant passed in, not by any clock of the store.
      expect(await leases.acquire('refresh:a', 'replica-2', 30_000, T + 30_000)).toBe(true);
      expect(await leases.acquire('refresh:a', 'replica-1', 30_000, T + 30_001)).toBe(false);
      await cleanup();
    });

    it('names its holder until it expires or is released', async () => {
      const { leases, cleanup } = await make();
      expect(await leases.holder('k', T)).toBeUndefined();
      await leases.acquire('k', 'a', 10_000, T);
      expect(await leases.holder('k', T + 9_999)).toBe('a');
      expect(await leases.holder('other', T)).toBeUndefined();
      expect(await leases.holder('k', T + 10_000)).toBeUndefined();
      await leases.release('k', 'a');
      expect(await leases.holder('k', T)).toBeUndefined();
      await cleanup();
    });

    it('lets the holder extend its lease', async () => {
      const { leases, cleanup } = await make();
      expect(await leases.acquire('k', 'a', 10_000, T)).toBe(true);
      expect(await leases.acquire('k', 'a', 10_000, T + 9_000)).toBe(true);
      expect(await leases.acquire('k', 'b', 10_000, T + 15_000)).toBe(false);
      expect(await leases.acquire('k', 'b', 10_000, T + 19_000)).toBe(true);
      await cleanup();
    });

    it('is released only by its holder, and then free at once', async () => {
      const { leases, cleanup } = await make();
      await leases.acquire('k', 'a', 60_000, T);
      expect(await leases.release('k', 'b')).toBe(false);
      expect(await leases.acquire('k', 'b', 60_000, T + 1)).toBe(false);
      expect(await leases.release('k', 'a')).toBe(true);
      expect(await leases.acquire('k', 'b', 60_000, T + 2)).toBe(true);
      // The old holder cannot free what another now holds.
      expect(await leases.release('k', 'a')).toBe(false);
      expect(await leases.acquire('k', 'a', 60_000, T + 3)).toBe(false);
      expect(await leases.release('never-taken', 'a')).toBe(false);
      await cleanup();
    });

    it('keeps keys independent', async () => {
      const { leases, cleanup } = await make();
      expect(await leases.acquire('x', 'a', 1000, T)).toBe(true);
      expect(await leases.acquire('y', 'b', 1000, T)).toBe(true);
      expect(await leases.acquire('x', 'b', 1000, T)).toBe(false);
      await cleanup();
    });

    it('gives a contended lease to exactly one of many concurrent owners', async () => {
      const { leases, cleanup } = await make();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => leases.acquire('hot', `owner-${i}`, 5000, T)));
      expect(results.filter(Boolean)).toHaveLength(1);
      await cleanup();
    });

    it('takes many leases in one step, all or none, judged and extended like one', async () => {
      const { leases, cleanup } = await make();
      expect(await leases.acquire('b', 'a', 10_000, T)).toBe(true);
      expect(await leases.acquireAll(['a', 'b', 'c'], 'z', 10_000, T + 1)).toBe(false);
      // Refused, it took none: the free ones are still free.
      expect(await leases.acquireAll(['a', 'c'], 'y', 10_000, T + 2)).toBe(true);
      expect(await leases.acquireAll(['a', 'b', 'c'], 'z', 10_000, T + 10_000)).toBe(false);
      // Its holder extends all of them at once; once each has expired, another owner takes them all.
      expect(await leases.acquireAll(['c', 'a'], 'y', 10_000, T + 9_000)).toBe(true);
      expect(await leases.acquireAll(['a', 'b', 'c'], 'z', 10_000, T + 18_999)).toBe(false);
      expect(await leases.acquireAll(['a', 'b', 'c'], 'z', 10_000, T + 19_000)).toBe(true);
      expect(await leases.acquire('b', 'a', 10_000, T + 19_001)).toBe(false);
      await expect(leases.acquireAll(['k'], 'a', 0, T)).rejects.toThrow();
      await cleanup();
    });

    it('frees many leases in one step, only those the owner still holds', async () => {
      const { leases, cleanup } = await make();
      expect(await leases.acquireAll(['a', 'b'], 'y', 10_000, T)).toBe(true);
      expect(await leases.acquire('c', 'z', 10_000, T)).toBe(true);
      expect(await leases.releaseAll(['a', 'b', 'c', 'never-taken'], 'y')).toBe(2);
      expect(await leases.acquireAll(['a', 'b'], 'z', 10_000, T + 1)).toBe(true);
      expect(await leases.acquire('c', 'y', 10_000, T + 1)).toBe(false);
      expect(await leases.releaseAll([], 'y')).toBe(0);
      await cleanup();
    });

    it('takes and frees thousands of leases at once', async () => {
      const { leases, cleanup } = await make();
      const keys = Array.from({ length: 2000 }, (_, i) => `queue-pause:acme:p${i}`);
      expect(await leases.acquire(keys[1234]!, 'b', 1000, T)).toBe(true);
      expect(await leases.acquireAll(keys, 'a', 5000, T)).toBe(false);
      expect(await leases.acquire(keys[0]!, 'c', 1000, T)).toBe(true);
      expect(await leases.acquireAll(keys, 'a', 5000, T + 1000)).toBe(true);
      expect(await leases.acquire(keys[1999]!, 'b', 1000, T + 4999)).toBe(false);
      expect(await leases.releaseAll(keys, 'a')).toBe(2000);
      expect(await leases.acquire(keys[1999]!, 'b', 1000, T + 4999)).toBe(true);
      await cleanup();
    });

    it('refuses a non-positive ttl', async () => {
      const { leases, cleanup } = await make();
      await expect(leases.acquire('k', 'a', 0, T)).rejects.toThrow();
      await cleanup();
    });
  });
}
