import { describe, expect, it } from 'vitest';
import type { SharedLimits } from '../../shared/store/shared-limits.js';

const T = Date.parse('2026-03-02T10:00:00Z');

/** The shared request limits' contract, for every adapter; instants are arguments, never the store's clock. */
export function sharedLimitsContract(name: string, make: () => Promise<{ limits: SharedLimits; cleanup: () => Promise<void> }>): void {
  describe(`shared limits contract: ${name}`, () => {
    it('hands out a bucket in chunks, takes none when it holds less than needed, and refills by the instants passed in', async () => {
      const { limits, cleanup } = await make();
      expect(await limits.take('api:k1', 10, 1, 4, T)).toEqual({ taken: 4, left: 6 });
      expect(await limits.take('api:k1', 10, 2, 4, T)).toEqual({ taken: 4, left: 2 });
      // Fewer than wanted, at least what is needed.
      expect(await limits.take('api:k1', 10, 1, 4, T)).toEqual({ taken: 2, left: 0 });
      expect(await limits.take('api:k1', 10, 1, 4, T + 3000)).toEqual({ taken: 0, left: 0.5 });
      // Half a minute refills half the bucket; nothing was taken by the refusal.
      expect(await limits.take('api:k1', 10, 5, 5, T + 30_000)).toEqual({ taken: 5, left: 0 });
      // Another bucket is its own; a bucket untouched for a minute is full, never fuller.
      expect(await limits.take('api:k2', 10, 10, 10, T)).toEqual({ taken: 10, left: 0 });
      expect(await limits.take('api:k2', 10, 1, 20, T + 600_000)).toEqual({ taken: 10, left: 0 });
      // A clock behind the last take refills nothing.
      expect(await limits.take('api:k2', 10, 1, 1, T + 599_000)).toEqual({ taken: 0, left: 0 });
      // …nor moves the bucket's time back: what a replica whose clock is behind takes refills nobody.
      expect(await limits.take('api:k3', 10, 1, 8, T)).toEqual({ taken: 8, left: 2 });
      expect(await limits.take('api:k3', 10, 1, 1, T - 5000)).toEqual({ taken: 1, left: 1 });
      expect((await limits.take('api:k3', 10, 1, 1, T + 1000)).taken).toBe(1);
      expect((await limits.take('api:k3', 10, 1, 1, T + 2000)).taken).toBe(0);
      // Need 0 takes into debt (what already happened is counted), at most a minute's worth of it.
      expect(await limits.take('auth:a1', 10, 0, 1, T)).toEqual({ taken: 1, left: 9 });
      expect(await limits.take('auth:a1', 10, 1, 9, T)).toEqual({ taken: 9, left: 0 });
      expect(await limits.take('auth:a1', 10, 0, 1, T)).toEqual({ taken: 1, left: -1 });
      for (let i = 0; i < 20; i++) await limits.take('auth:a1', 10, 0, 1, T);
      expect(await limits.take('auth:a1', 10, 1, 1, T + 60_000)).toEqual({ taken: 0, left: 0 });
      expect(await limits.take('auth:a1', 10, 1, 1, T + 66_000)).toEqual({ taken: 1, left: 0 });
      await cleanup();
    });

    it('counts places across replicas: one more fits while the sum is at most the limit, a withdrawn or stale count frees its places', async () => {
      const { limits, cleanup } = await make();
      expect(await limits.hold('streams:acme', 'r1', 1, 3, T, 15_000)).toEqual({ taken: true, total: 1 });
      expect(await limits.hold('streams:acme', 'r2', 1, 3, T, 15_000)).toEqual({ taken: true, total: 2 });
      expect(await limits.hold('streams:acme', 'r1', 2, 3, T, 15_000)).toEqual({ taken: true, total: 3 });
      expect(await limits.hold('streams:acme', 'r2', 2, 3, T, 15_000)).toEqual({ taken: false, total: 3 });
      // Another tenant's count is its own; 0 is no limit.
      expect(await limits.hold('streams:beta', 'r2', 1, 1, T, 15_000)).toEqual({ taken: true, total: 1 });
      expect(await limits.hold('streams:beta', 'r1', 5, 0, T, 15_000)).toEqual({ taken: true, total: 6 });
      // r1 closed one: published, its place is free for r2.
      expect(await limits.publish('r1', new Map([['streams:acme', 1]]), T + 1, 15_000)).toBe(1);
      expect(await limits.hold('streams:acme', 'r2', 2, 3, T + 2, 15_000)).toEqual({ taken: true, total: 3 });
      // r1 withdraws; r2 renews and is the only one running.
      expect(await limits.publish('r1', new Map([['streams:acme', 0]]), T + 3, 15_000)).toBe(1);
      expect(await limits.publish('r2', new Map([['streams:acme', 2]]), T + 4, 15_000)).toBe(2);
      expect(await limits.hold('streams:acme', 'r3', 1, 3, T + 5, 15_000)).toEqual({ taken: true, total: 3 });
      // r2 and r3 stop renewing: past their freshness their places count for nobody.
      expect(await limits.hold('streams:acme', 'r4', 3, 3, T + 15_004, 15_000)).toEqual({ taken: false, total: 3 });
      expect(await limits.hold('streams:acme', 'r4', 3, 3, T + 20_005, 15_000)).toEqual({ taken: true, total: 3 });
      expect(await limits.publish('r4', new Map(), T + 20_006, 15_000)).toBe(1);
      await cleanup();
    });

    it('counts a replica that stopped (published with no freshness) nowhere at once, and keeps the others running', async () => {
      const { limits, cleanup } = await make();
      expect(await limits.publish('r1', new Map([['streams:acme', 1]]), T, 15_000)).toBe(1);
      expect(await limits.publish('r2', new Map([['streams:acme', 1]]), T, 15_000)).toBe(2);
      expect(await limits.publish('r3', new Map([['streams:acme', 1]]), T, 15_000)).toBe(3);
      expect(await limits.publish('r3', new Map([['streams:acme', 0]]), T + 1, 0)).toBe(2);
      expect(await limits.publish('r1', new Map([['streams:acme', 1]]), T + 2, 15_000)).toBe(2);
      expect(await limits.hold('streams:acme', 'r4', 1, 3, T + 3, 15_000)).toEqual({ taken: true, total: 3 });
      // Its stop shortened no one's freshness: the others still count until theirs lapses.
      expect(await limits.publish('r4', new Map(), T + 14_000, 15_000)).toBe(3);
      await cleanup();
    });
  });
}
