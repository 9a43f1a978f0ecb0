import { setImmediate as tick } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestLimiter } from '../../services/limits/request-limiter.js';
import { Metrics } from '../../services/observability/metrics.js';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import type { RequestLimits } from '../../shared/domain/request-limits.js';
import { silentLogger } from '../../shared/log/logger.js';
import { RedisStore } from '../../shared/store/redis/redis-store.js';
import { MemorySharedLimits, type SharedLimits } from '../../shared/store/shared-limits.js';
import { describeWith } from '../support/components.js';
import { eventually } from '../support/receiver.js';
import { startRedis, type RunningRedis } from '../support/redis.js';

const START = '2026-03-02T09:30:00Z';
const LIMITS: RequestLimits & { authFailures: number } = { api: 60, tenantApi: 0, pbxEvents: 0, heartbeats: 30, streams: 0, openStreams: 2, authFailures: 3 };
const TTL_MS = 15_000;

/** Where each replica reaches the shared limits, and how to cut one off as a kill would. */
interface Backend {
  /** A replica of the deployment named `deployment` (each test has its own). */
  connect(deployment: string): Promise<{ limits: SharedLimits; kill(): Promise<void> }>;
  cleanup(): Promise<void>;
}

/** Replicas of one deployment, each a limiter on its own connection to the shared limits, on one manual clock. */
let deployments = 0;
async function deployment(backend: Backend, n: number, limits = LIMITS) {
  const clock = new ManualClock(START);
  const name = `d${++deployments}`;
  const replicas: Array<{ limiter: RequestLimiter; kill(): Promise<void> }> = [];
  for (let i = 0; i < n; i++) {
    const conn = await backend.connect(name);
    const limiter = new RequestLimiter({ limits, clock, log: silentLogger, metrics: new Metrics(false), override: async () => ({}), cacheMs: Infinity, shared: { limits: conn.limits, replica: `r${i}`, placesTtlMs: TTL_MS } });
    await limiter.start();
    replicas.push({ limiter, kill: conn.kill });
  }
  return { clock, replicas, limiters: replicas.map((r) => r.limiter), stop: () => Promise.all(replicas.map((r) => r.limiter.stop())) };
}

const admitted = async (attempt: () => Promise<unknown>) => attempt().then(() => true, () => false);

function sharedSuite(name: string, make: () => Promise<Backend>): void {
  describe(`request limits shared by replicas: ${name}`, () => {
    let backend: Backend;
    beforeAll(async () => {
      backend = await make();
    });
    afterAll(() => backend?.cleanup());

    it("holds a tenant's openStreams across replicas: the next is refused on another, a closed stream frees its place everywhere", async () => {
      const { limiters: [a, b, c], stop } = await deployment(backend, 3);
      const first = await a!.hold('acme', 'openStreams', 'acme/k1');
      await b!.hold('acme', 'openStreams', 'acme/k2');
      await expect(c!.hold('acme', 'openStreams', 'acme/k3')).rejects.toMatchObject({ status: 429, code: 'rate_limited', details: { limit: 'openStreams', atOnce: 2 }, retryAfterSec: 60 });
      await expect(a!.hold('acme', 'openStreams', 'acme/k3')).rejects.toMatchObject({ status: 429 });
      // Another tenant has places of its own; the refusals held none.
      await c!.hold('beta', 'openStreams', 'beta/k1');
      expect([a!.held('acme', 'openStreams'), c!.held('acme', 'openStreams')]).toEqual([1, 0]);
      first();
      // Published without waiting for Redis: the place frees everywhere once the write lands.
      const third = await eventually(() => c!.hold('acme', 'openStreams', 'acme/k3'));
      await expect(a!.hold('acme', 'openStreams', 'acme/k1')).rejects.toMatchObject({ status: 429 });
      third();
      await stop();
    });

    it("frees a killed replica's places once its count lapses, and a stopped replica's at once", async () => {
      const { clock, replicas, limiters: [a, b, c], stop } = await deployment(backend, 3);
      await a!.hold('acme', 'openStreams', 'acme/k1');
      await a!.hold('acme', 'openStreams', 'acme/k2');
      await expect(b!.hold('acme', 'openStreams', 'acme/k3')).rejects.toMatchObject({ status: 429 });
      await replicas[0]!.kill();
      await clock.advance(TTL_MS - 1);
      await expect(b!.hold('acme', 'openStreams', 'acme/k3')).rejects.toMatchObject({ status: 429 });
      await clock.advance(1);
      await b!.hold('acme', 'openStreams', 'acme/k3');
      await b!.hold('acme', 'openStreams', 'acme/k4');
      await expect(c!.hold('acme', 'openStreams', 'acme/k5')).rejects.toMatchObject({ status: 429 });
      await b!.stop();
      await c!.hold('acme', 'openStreams', 'acme/k5');
      await stop().catch(() => undefined);
    });

    it("leaves a stopped replica out of the others' share of a limit when the store fails, from their next renewal", async () => {
      const { clock, replicas, limiters: [, b, c], stop } = await deployment(backend, 3);
      await c!.stop();
      await clock.advance(TTL_MS / 3);
      // The store fails for the two left (a killed connection): each enforces half of the limit, not a third.
      await replicas[0]!.kill();
      await replicas[1]!.kill();
      let ok = 0;
      for (let i = 0; i < 100; i++) if (await admitted(() => b!.take('acme', 'api', 'acme/k1'))) ok++;
      expect(ok).toBe(LIMITS.api / 2);
      await stop().catch(() => undefined);
    });

    it('admits about a rate limit across three replicas, not three times it', async () => {
      const { clock, limiters, stop } = await deployment(backend, 3);
      let ok = 0;
      // A burst spread over the replicas: the shared bucket holds a minute's worth, 60.
      for (let i = 0; i < 300; i++) if (await admitted(() => limiters[i % 3]!.take('acme', 'api', 'acme/k1'))) ok++;
      expect(ok).toBe(60);
      const refused = await limiters[1]!.take('acme', 'api', 'acme/k1').catch((e: unknown) => e);
      expect(refused).toMatchObject({ status: 429, code: 'rate_limited', details: { limit: 'api', perMinute: 60 }, retryAfterSec: 1 });
      // Then two minutes of a request every 100 ms, round robin: 120 refilled, give or take a chunk (6) per replica.
      ok = 0;
      for (let i = 0; i < 1200; i++) {
        await clock.advance(100);
        if (await admitted(() => limiters[i % 3]!.take('acme', 'api', 'acme/k1'))) ok++;
      }
      expect(ok).toBeGreaterThanOrEqual(120 - 3 * 6);
      expect(ok).toBeLessThanOrEqual(120 + 3 * 6);
      // A caller on one replica only (one keep-alive connection) gets the whole limit there, not a third.
      await clock.advance(60_000);
      ok = 0;
      for (let i = 0; i < 100; i++) if (await admitted(() => limiters[2]!.take('acme', 'api', 'acme/k1'))) ok++;
      expect(ok).toBe(60);
      await stop();
    });

    it('admits a whole bucket arriving at once on one replica, asking the store for one chunk at a time', async () => {
      const counted = { connect: async (d: string) => { const c = await backend.connect(d); return { ...c, limits: (shared = new Severable(c.limits)) }; }, cleanup: async () => undefined };
      let shared: Severable | undefined;
      const { limiters: [a, b], stop } = await deployment(counted, 2);
      const calls = shared!.calls;
      // 60 a minute, sixty requests at once (a dashboard's first page, a PBX's parallel posts): all fit.
      const results = await Promise.all(Array.from({ length: 60 }, () => admitted(() => b!.take('acme', 'api', 'acme/k1'))));
      expect(results.filter(Boolean)).toHaveLength(60);
      // Ten chunks of 6, one after another, not a call per request.
      expect(shared!.calls - calls).toBe(10);
      // Nothing is left in the shared bucket for the other replica.
      await expect(a!.take('acme', 'api', 'acme/k1')).rejects.toMatchObject({ status: 429 });
      await stop();
    });

    it('refuses a guesser spread over the replicas after the limit, give or take one guess per replica', async () => {
      const { limiters, stop } = await deployment(backend, 3);
      /** Guesses from `address`, the i-th at `at(i)`; how many were let through to be checked. */
      const guess = async (address: string, at: (i: number) => RequestLimiter, count: (l: RequestLimiter) => Promise<void>) => {
        let tried = 0;
        for (let i = 0; i < 30; i++) {
          try {
            at(i).refuseGuesser(address);
          } catch {
            continue;
          }
          tried++;
          await count(at(i));
        }
        return tried;
      };
      const tried = await guess('203.0.113.7', (i) => limiters[i % 3]!, (l) => l.failedAuth('203.0.113.7'));
      // Each replica lets one more through before it learns the shared bucket is empty.
      expect(tried).toBeGreaterThanOrEqual(LIMITS.authFailures);
      expect(tried).toBeLessThanOrEqual(LIMITS.authFailures + 3);
      // A burst at one replica, all before any answer from the store, stops at the limit there.
      expect(await guess('198.51.100.1', () => limiters[0]!, async (l) => void l.failedAuth('198.51.100.1'))).toBe(LIMITS.authFailures);
      await tick();
      expect(() => limiters[0]!.refuseGuesser('203.0.113.7')).toThrow(expect.objectContaining({ status: 429, details: { limit: 'auth', perMinute: 3 } }));
      // Another address is not affected.
      limiters[0]!.refuseGuesser('203.0.113.8');
      await stop();
    });

    it('holds a guesser spread over the replicas to the limit in the long run, not the limit per replica', async () => {
      const { clock, limiters, stop } = await deployment(backend, 3);
      let tried = 0;
      // Two minutes of a guess every 100 ms, round robin: a full bucket (3) and two minutes' refill (6),
      // give or take a guess per replica that has not yet learnt the bucket is empty.
      for (let i = 0; i < 1200; i++) {
        await clock.advance(100);
        const at = limiters[i % 3]!;
        try {
          at.refuseGuesser('203.0.113.9');
        } catch {
          continue;
        }
        tried++;
        await at.failedAuth('203.0.113.9');
      }
      expect(tried).toBeLessThanOrEqual(3 + 6 + 3);
      await stop();
    });
  });
}

/** Shared limits that count their calls and fail every one after `failing` is set, as a store cut off from Redis would. */
class Severable implements SharedLimits {
  failing = false;
  /** Calls made, failed ones included. */
  calls = 0;
  constructor(private readonly inner: SharedLimits) {}
  private check() {
    this.calls++;
    if (this.failing) return Promise.reject(new Error('the store is unavailable'));
    return undefined;
  }
  take(...a: Parameters<SharedLimits['take']>) {
    return this.check() ?? this.inner.take(...a);
  }
  hold(...a: Parameters<SharedLimits['hold']>) {
    return this.check() ?? this.inner.hold(...a);
  }
  publish(...a: Parameters<SharedLimits['publish']>) {
    return this.check() ?? this.inner.publish(...a);
  }
}

sharedSuite('in process', async () => {
  const shared = new Map<string, MemorySharedLimits>();
  const of = (d: string) => shared.get(d) ?? shared.set(d, new MemorySharedLimits()).get(d)!;
  return {
    connect: async (d) => {
      const limits = new Severable(of(d));
      return { limits, kill: async () => void (limits.failing = true) };
    },
    cleanup: async () => undefined,
  };
});

/** One deployment's shared limits in memory, each replica's connection to them severable. */
function severable(): { backend: Backend; cuts: Severable[] } {
  const shared = new MemorySharedLimits();
  const cuts: Severable[] = [];
  const backend: Backend = {
    connect: async () => {
      const s = new Severable(shared);
      cuts.push(s);
      return { limits: s, kill: async () => undefined };
    },
    cleanup: async () => undefined,
  };
  return { backend, cuts };
}

describe('request limits when the shared store fails', () => {
  it("falls back to each replica's share of the limit: neither refusing everyone nor lifting the limit", async () => {
    const { backend, cuts } = severable();
    const { clock, limiters, stop } = await deployment(backend, 3);
    // The last replica to start saw three running.
    const l = limiters[2]!;
    for (const c of cuts) c.failing = true;
    let ok = 0;
    const calls = cuts[2]!.calls;
    for (let i = 0; i < 100; i++) if (await admitted(() => l.take('acme', 'api', 'acme/k1'))) ok++;
    expect(ok).toBe(20);
    await l.hold('acme', 'openStreams', 'acme/k1');
    // Two at once ÷ three replicas: at least one each.
    await expect(l.hold('acme', 'openStreams', 'acme/k2')).rejects.toMatchObject({ status: 429 });
    // Nobody waits for a store that failed (a stalled Redis answers after its command timeout): only the first asked.
    expect(cuts[2]!.calls - calls).toBe(1);
    for (const c of cuts) c.failing = false;
    // Back, as the next renewal finds: the shared bucket, untouched meanwhile, is full again.
    await clock.advance(TTL_MS / 3);
    ok = 0;
    for (let i = 0; i < 100; i++) if (await admitted(() => l.take('acme', 'api', 'acme/k1'))) ok++;
    expect(ok).toBe(60);
    await stop();
  });
});

describe('open streams when the shared store fails at a close', () => {
  it("gives a tenant's last place back at the next renewal, not when its count goes stale", async () => {
    const { backend, cuts } = severable();
    const { clock, limiters: [a, b], stop } = await deployment(backend, 2, { ...LIMITS, openStreams: 1 });
    const release = await a!.hold('acme', 'openStreams', 'acme/k1');
    await expect(b!.hold('acme', 'openStreams', 'acme/k2')).rejects.toMatchObject({ status: 429 });
    // The close cannot be told to the store; it can at the next renewal, a third of the freshness later.
    cuts[0]!.failing = true;
    release();
    await tick();
    cuts[0]!.failing = false;
    await clock.advance(TTL_MS / 3);
    await b!.hold('acme', 'openStreams', 'acme/k2');
    await stop();
  });
});

describeWith(['redis'], 'request limits shared through Redis', () => {
  let redis: RunningRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());
  let n = 0;
  sharedSuite('redis', async () => {
    const prefix = `limits${++n}:`;
    const stores: RedisStore[] = [];
    return {
      connect: async (d) => {
        const store = new RedisStore({ url: redis.url, prefix: `${prefix}${d}:`, feedEvents: 100, log: silentLogger });
        await store.start();
        stores.push(store);
        return { limits: store.limits, kill: () => store.close() };
      },
      cleanup: async () => {
        await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
      },
    };
  });
  it('asks Redis once per chunk of a bucket (a tenth of its minute), not once per request', async () => {
    const backend: Backend = {
      connect: async (d) => {
        const store = new RedisStore({ url: redis.url, prefix: `chunks:${d}:`, feedEvents: 100, log: silentLogger });
        await store.start();
        return { limits: store.limits, kill: () => store.close() };
      },
      cleanup: async () => undefined,
    };
    const { clock, limiters, stop } = await deployment(backend, 1, { ...LIMITS, api: 600 });
    const calls = async () => {
      const c = new Redis(redis.url);
      const line = (await c.info('commandstats')).split('\n').find((l) => l.startsWith('cmdstat_evalsha:'));
      c.disconnect();
      return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0);
    };
    const before = await calls();
    // A steady caller at the limit's rate (10 a second) for a minute: 600 requests, chunks of 60.
    for (let i = 0; i < 600; i++) {
      await limiters[0]!.take('acme', 'api', 'acme/k1');
      await clock.advance(100);
    }
    // Ten chunks, and the replica's renewals of its counts (every 5 s).
    expect((await calls()) - before).toBeLessThanOrEqual(10 + 12 + 1);
    await stop();
  });
});
