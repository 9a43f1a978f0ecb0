import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PresenceEngine } from '../../services/merger/engine.js';
import { Metrics } from '../../services/observability/metrics.js';
import { viewOf } from '../../services/api/views.js';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import { DEFAULT_POLICY } from '../../shared/domain/policy.js';
import { merge } from '../../shared/merge/merge.js';
import type { Presence } from '../../shared/domain/presence.js';
import type { Signal } from '../../shared/domain/signal.js';
import type { FeedEvent } from '../../shared/store/feed.js';
import { call, desk, manual } from '../support/signals.js';
import { silentLogger } from '../../shared/log/logger.js';
import type { Store } from '../../shared/store/port.js';
import { redisKeys } from '../../shared/store/keys.js';
import { RESTORE_STATE } from '../../shared/store/redis/scripts.js';
import { COPIES_ONLY } from '../../shared/store/redis/feed-entry.js';
import { RedisStore } from '../../shared/store/redis/redis-store.js';
import { describeWith } from '../support/components.js';
import { eventually } from '../support/receiver.js';
import { startRedis, type RunningRedis } from '../support/redis.js';
import { severableRedis } from '../support/severable-redis.js';
import { storeContract } from './contract.js';
import { leaseContract } from './lease-contract.js';
import { routingStateContract } from './routing-state-contract.js';
import { sharedLimitsContract } from './shared-limits-contract.js';

const T = Date.parse('2026-03-02T10:00:00Z');
/** `alive` of the test stores that exercise full outages: what a full outage must outlast. */
const ALIVE_MS = 300;

describeWith(['redis'], 'Redis store', () => {
  let redis: RunningRedis;
  let n = 0;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());

  /** A store on a fresh key prefix of the shared server (the prefix is what REDIS_PREFIX sets). */
  const open = (prefix: string, feedEvents = 1000) => new RedisStore({ url: redis.url, prefix, feedEvents, log: silentLogger });
  const fresh = async (feedEvents?: number) => {
    const prefix = `t${++n}:`;
    const store = open(prefix, feedEvents);
    await store.start();
    return { store, prefix };
  };

  /** How often the server has run `command` so far (INFO commandstats). */
  const calls = async (command: string) => {
    const c = new Redis(redis.url);
    const line = (await c.info('commandstats')).split('\n').find((l) => l.startsWith(`cmdstat_${command}:`));
    c.disconnect();
    return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0);
  };

  storeContract('redis', async () => {
    const prefix = `t${++n}:`;
    // A short `alive`, so a reopen after a full outage needs only a short wait.
    const replica = (registrationsUntil?: number) =>
      new RedisStore({ url: redis.url, prefix, feedEvents: 1000, log: silentLogger, aliveMs: ALIVE_MS, afterOutage: registrationsUntil === undefined ? undefined : () => ({ at: 0, registrationsUntil }) });
    return {
      store: replica(),
      reopen: async (opts) => {
        if (opts?.registrationsUntil !== undefined) await sleep(ALIVE_MS + 100);
        return replica(opts?.registrationsUntil);
      },
      cleanup: async () => {},
    };
  });

  leaseContract('redis', async () => {
    const { store } = await fresh();
    return { leases: store.leases, cleanup: () => store.close() };
  });

  sharedLimitsContract('redis', async () => {
    const { store } = await fresh();
    return { limits: store.limits, cleanup: () => store.close() };
  });

  it("keeps a target's status report in one hash that Redis itself expires, so a dead owner's is collected", async () => {
    const { store, prefix } = await fresh();
    await store.targetStatus.report('acme', 'hook', { replica: 'r1', reportedAt: T, status: { state: 'healthy' } }, 4000);
    const c = new Redis(redis.url);
    const key = redisKeys(prefix).targetStatus('acme', 'hook');
    const [owner, ttl] = [await c.hget(key, 'r'), await c.pttl(key)];
    c.disconnect();
    expect(owner).toBe('r1');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(4000);
    await store.close();
  });

  routingStateContract('redis', async () => {
    const { store } = await fresh();
    return { store: store.routingState, cleanup: () => store.close() };
  });

  describe('work shared by replicas', () => {
    it('loses no update when two replicas update the same person and group at once', async () => {
      const { store: a, prefix } = await fresh();
      const b = open(prefix);
      await b.start();
      const bump = (s: Store) =>
        s.state.update('acme', 'alice', (st) => {
          const v = (st.presence?.version ?? 0) + 1;
          return { next: { signals: st.signals, presence: { personId: 'alice', availability: 'available', activity: 'available', routable: true, endpoints: [], explanation: [], since: T, version: v } }, result: v, emit: true };
        });
      const results = await Promise.all(Array.from({ length: 60 }, (_, i) => bump(i % 2 ? a : b)));
      // Each replica's own lock would hide a lost update within one process: only the store's
      // compare-and-set keeps the two apart.
      expect([...results].sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      expect((await a.state.read('acme', 'alice')).presence?.version).toBe(60);
      await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).routingState.updateGroup('acme', 'q', (g) => ({ next: { ...g, seq: g.seq + 1 }, result: undefined }))));
      expect((await b.routingState.readGroup('acme', 'q')).seq).toBe(60);
      await a.close();
      await b.close();
    });

    it('lets one of several replicas creating the same tenant at once win, and writes nothing of the others', async () => {
      const { store: a, prefix } = await fresh();
      const others = Array.from({ length: 3 }, () => open(prefix));
      await Promise.all(others.map((s) => s.start()));
      const replicas = [a, ...others];
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, n) =>
          replicas[n % replicas.length]!.directory.write(
            [
              { op: 'put', collection: 'tenants', doc: { id: 'acme', tenantId: '*', name: `creator ${n}`, settings: {} } as never },
              { op: 'put', collection: 'apiKeys', doc: { id: `key${n}`, tenantId: 'acme', name: 'initial admin', role: 'admin', hash: `h${n}`, createdAt: T } },
            ],
            [{ collection: 'tenants', tenantId: '*', id: 'acme', exists: false }],
          ),
        ),
      );
      const won = results.flatMap((r, n) => (r.status === 'fulfilled' ? [n] : []));
      expect(won).toHaveLength(1);
      for (const s of replicas) expect((await s.directory.list('apiKeys', 'acme')).map((k) => k.id)).toEqual([`key${won[0]}`]);
      await Promise.all(replicas.map((s) => s.close()));
    });

    it('claims a due transition once across two replicas, and hands back one whose claimer died', async () => {
      const { store: a, prefix } = await fresh();
      const b = open(prefix);
      await b.start();
      await a.state.update('acme', 'alice', () => ({
        next: { signals: [], presence: { personId: 'alice', availability: 'busy', activity: 'in-meeting', routable: false, endpoints: [], explanation: [], since: T, version: 1, wakeAt: T + 60_000 } },
        result: undefined,
      }));
      expect(await a.shared.due.claim('acme', 'alice', T + 59_999, 30_000)).toBe(false);
      const claims = await Promise.all([a.shared.due.claim('acme', 'alice', T + 60_000, 30_000), b.shared.due.claim('acme', 'alice', T + 60_000, 30_000)]);
      expect(claims.filter(Boolean)).toHaveLength(1);
      // The claimer never wrote its re-evaluation: the person is due again once the claim runs out.
      expect(await b.shared.due.claimOverdue(T + 89_999, T + 89_999, 30_000, 10)).toEqual([]);
      expect(await b.shared.due.claimOverdue(T + 90_000, T + 90_000, 30_000, 10)).toEqual([{ tenantId: 'acme', personId: 'alice', dueAt: T + 90_000 }]);
      await a.close();
      await b.close();
    });

    it("dates a transition that a survivor swept up after its replica died at the instant it was due, not when it was swept", async () => {
      const { store: a, prefix } = await fresh();
      const b = open(prefix);
      await b.start();
      const policyFor = async () => DEFAULT_POLICY;
      const [clockA, clockB] = [new ManualClock(T), new ManualClock(T)];
      const dying = new PresenceEngine({ store: a, clock: clockA, metrics: new Metrics(false), log: silentLogger, policyFor });
      const survivor = new PresenceEngine({ store: b, clock: clockB, metrics: new Metrics(false), log: silentLogger, policyFor });
      await survivor.start();
      // Away for a minute, then back to available: the expiry is `dying`'s to fire, `survivor` only sweeps.
      await dying.apply('acme', 'alice', [desk(), manual('away', { until: T + 60_000 })].map((signal) => ({ op: 'put' as const, signal })));
      expect((await b.state.read('acme', 'alice')).presence).toMatchObject({ activity: 'away', wakeAt: T + 60_000 });
      dying.stop();
      // Each sweep reads Redis: let it finish before the clock moves on to the next one.
      for (let i = 0; i < 65 && (await b.state.read('acme', 'alice')).presence?.activity === 'away'; i++) {
        await clockB.advance(1000);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(clockB.now()).toBeGreaterThanOrEqual(T + 62_000);
      const back = (await b.state.read('acme', 'alice')).presence!;
      expect(back.since).toBe(T + 60_000);
      expect(back.availabilitySince).toBe(T + 60_000);
      expect(back.version).toBeGreaterThan(T + 60_000);
      survivor.stop();
      await a.close();
      await b.close();
    });

    it('refuses a replayed fingerprint on every replica until it expires at the instant passed in', async () => {
      const { store: a, prefix } = await fresh();
      const b = open(prefix);
      await b.start();
      expect(await a.replay.firstSeen('pbx:x', T, 60_000)).toBe(true);
      expect(await b.replay.firstSeen('pbx:x', T + 59_999, 60_000)).toBe(false);
      expect(await b.replay.firstSeen('pbx:x', T + 60_000, 60_000)).toBe(true);
      await a.close();
      await b.close();
    });

    it('reads ledger entries written before renderings were kept, and orders new ones after them', async () => {
      const { store, prefix } = await fresh();
      const c = new Redis(redis.url);
      await c.hset(redisKeys(prefix).delivered('acme', 'hook'), 'alice', '7', 'bob', '3');
      c.disconnect();
      const ledger = store.deliveries;
      await ledger.record('acme', 'hook', 'bob', { version: 3, mark: T, rendering: 'r1' });
      await ledger.record('acme', 'hook', 'alice', { version: 6, mark: T, rendering: 'r1' });
      expect(await ledger.delivered('acme', 'hook')).toEqual(
        new Map([
          ['alice', { version: 7, mark: 0 }],
          ['bob', { version: 3, mark: T, rendering: 'r1' }],
        ]),
      );
      await store.close();
    });

    it('keeps where the target holds each person, as written (an address may hold `|`), beside entries written without one', async () => {
      const { store, prefix } = await fresh();
      const key = redisKeys(prefix).delivered('acme', 'ast');
      const c = new Redis(redis.url);
      await c.hset(key, 'bob', '3|0|r1', 'carol', '4');
      const ledger = store.deliveries;
      await ledger.record('acme', 'ast', 'alice', { version: 7, mark: 0, rendering: 'r1', address: 'Stasis:p-1001' });
      await ledger.record('acme', 'ast', 'dave', { version: 2, mark: 0, rendering: 'r1', address: 'PJSIP/a|b|c' });
      // A late acknowledgement keeps losing to the later one, whatever address either names.
      await ledger.record('acme', 'ast', 'alice', { version: 6, mark: 0, rendering: 'r0', address: 'Stasis:p-1000' });
      await ledger.record('acme', 'ast', 'alice', { version: 7, mark: T + 1, rendering: 'r2', address: 'Stasis:p-1002' });
      await ledger.record('acme', 'ast', 'alice', { version: 7, mark: T, rendering: 'r9', address: 'Stasis:p-1009' });
      // An entry written before addresses were kept gives way to a later one that has an address.
      await ledger.record('acme', 'ast', 'bob', { version: 3, mark: T, rendering: 'r1', address: 'Stasis:p-2001' });
      expect(await c.hget(key, 'alice')).toBe(`7|${T + 1}|r2|Stasis:p-1002`);
      expect(await c.hget(key, 'dave')).toBe('2|0|r1|PJSIP/a|b|c');
      c.disconnect();
      expect(await ledger.delivered('acme', 'ast')).toEqual(
        new Map([
          ['alice', { version: 7, mark: T + 1, rendering: 'r2', address: 'Stasis:p-1002' }],
          ['bob', { version: 3, mark: T, rendering: 'r1', address: 'Stasis:p-2001' }],
          ['carol', { version: 4, mark: 0 }],
          ['dave', { version: 2, mark: 0, rendering: 'r1', address: 'PJSIP/a|b|c' }],
        ]),
      );
      // Removed: the entry goes, address and all.
      await ledger.record('acme', 'ast', 'dave', { version: 3, mark: 0, rendering: null });
      expect((await ledger.delivered('acme', 'ast')).has('dave')).toBe(false);
      await store.close();
    });

    it('replaces only the address of an entry (a SIP publication refreshed under a new etag), and writes nothing without one', async () => {
      const { store, prefix } = await fresh();
      const key = redisKeys(prefix).delivered('acme', 'kam');
      const c = new Redis(redis.url);
      await c.hset(key, 'carol', '4', 'erin', '5|0|r1');
      const ledger = store.deliveries;
      await ledger.record('acme', 'kam', 'alice', { version: 7, mark: T, rendering: 'r2', address: '{"etag":"a.1"}' });
      await ledger.readdress('acme', 'kam', 'alice', '{"etag":"a|2"}');
      await ledger.readdress('acme', 'kam', 'erin', '{"etag":"e.1"}');
      // Not (or no longer) held: nothing to readdress, and nothing comes back.
      await ledger.readdress('acme', 'kam', 'bob', '{"etag":"b.1"}');
      await ledger.readdress('acme', 'kam', 'carol', '{"etag":"c.1"}');
      expect(await c.hget(key, 'alice')).toBe(`7|${T}|r2|{"etag":"a|2"}`);
      expect(await c.hget(key, 'carol')).toBe('4');
      c.disconnect();
      expect(await ledger.delivered('acme', 'kam')).toEqual(
        new Map([
          ['alice', { version: 7, mark: T, rendering: 'r2', address: '{"etag":"a|2"}' }],
          ['carol', { version: 4, mark: 0 }],
          ['erin', { version: 5, mark: 0, rendering: 'r1', address: '{"etag":"e.1"}' }],
        ]),
      );
      // A later delivery still wins over the readdressed entry's version, and a removal still removes it.
      await ledger.record('acme', 'kam', 'alice', { version: 6, mark: 0, rendering: 'r0', address: 'late' });
      expect((await ledger.delivered('acme', 'kam')).get('alice')?.address).toBe('{"etag":"a|2"}');
      await ledger.record('acme', 'kam', 'alice', { version: 8, mark: 0, rendering: null });
      await ledger.readdress('acme', 'kam', 'alice', '{"etag":"a.3"}');
      expect((await ledger.delivered('acme', 'kam')).has('alice')).toBe(false);
      await store.close();
    });

    it('stores the lazily worked-out explanation of the engine: an admin reads it back from Redis and from the feed, a colleague never', async () => {
      const { store: a, prefix } = await fresh();
      const b = open(prefix);
      await b.start();
      const events: FeedEvent[] = [];
      const sub = await b.feed.subscribe('acme', (e) => events.push(e));
      const clock = new ManualClock(T);
      const engine = new PresenceEngine({ store: a, clock, metrics: new Metrics(false), log: silentLogger, policyFor: async () => DEFAULT_POLICY });
      const signals = [desk(), call('on-call')];
      await engine.apply('acme', 'alice', signals.map((signal) => ({ op: 'put' as const, signal })));
      const expected = merge(signals, DEFAULT_POLICY, T).explanation;
      expect(expected.length).toBeGreaterThan(1);
      const stored = (await b.state.read('acme', 'alice')).presence!;
      expect(stored.explanation).toEqual(expected);
      await eventually(() => expect(events).toHaveLength(1));
      expect(events[0]!.presence!.explanation).toEqual(expected);
      const person = { id: 'alice', name: 'Alice', sensitive: false };
      expect(viewOf(stored, person, { kind: 'key', tenantId: 'acme', keyId: 'k', role: 'admin' }).explanation).toEqual(expected);
      for (const role of ['member', 'supervisor', 'external'] as const) {
        expect(viewOf(events[0]!.presence!, person, { kind: 'key', tenantId: 'acme', keyId: 'k', role, personId: 'bob' })).not.toHaveProperty('explanation');
      }
      engine.stop();
      sub.close();
      await a.close();
      await b.close();
    });

    describe('registrations kept without an expiry, after a full outage (no replica running for aliveMs)', () => {
      const HOUR = 3_600_000;
      /** A replica that finds a full outage `HOUR` before `registrationsUntil` (of the shared server unless `url`). */
      const replica = (prefix: string, registrationsUntil?: number, url = redis.url) =>
        new RedisStore({
          url,
          prefix,
          feedEvents: 1000,
          log: silentLogger,
          aliveMs: ALIVE_MS,
          copyRefreshMs: 100,
          afterOutage: registrationsUntil === undefined ? undefined : () => ({ at: registrationsUntil - HOUR, registrationsUntil }),
        });
      const started = async (store: RedisStore) => {
        await store.start();
        return store;
      };
      const desk: Signal = { id: 'pbx:reg:desk', source: 'pbx', observedAt: T, claim: { kind: 'endpoint', endpoint: { id: 'desk', kind: 'desk' }, reachable: true } };
      const register = (store: Store, personId: string) =>
        store.state.update('acme', personId, () => ({
          next: { signals: [desk], presence: { personId, availability: 'available', activity: 'available', routable: true, endpoints: [], explanation: [], since: T, version: 1, wakeAt: T + 2 * HOUR } },
          result: undefined,
        }));
      /** Alice registered without an expiry, on a call. */
      const onCall = call('on-call', { observedAt: T });
      const onTheDeskPhone = (store: Store) =>
        store.state.update('acme', 'alice', () => ({
          next: { signals: [desk, onCall], presence: { personId: 'alice', availability: 'busy', activity: 'on-call', routable: false, endpoints: [], explanation: [], since: T, version: 1 } },
          result: undefined,
        }));
      const until = async (store: Store, personId: string) => (await store.state.read('acme', personId)).signals[0]!.until;
      const boundKeys = async (prefix: string, url = redis.url) => {
        const c = new Redis(url);
        const k = redisKeys(prefix);
        const found = [await c.exists(k.registrationBound()), await c.exists(k.registrationBoundLock())];
        c.disconnect();
        return found;
      };

      /** A replica on alice's call, cut off (through `cutOff`) while Redis loses its data, until it has lapsed. */
      const lapsedOverALoss = async (prefix: string, cutOff: Awaited<ReturnType<typeof severableRedis>>, raw: Redis) => {
        const a = await started(replica(prefix, T + HOUR, cutOff.url));
        await onTheDeskPhone(a);
        cutOff.sever();
        await raw.del(...(await raw.keys(`${prefix}*`)));
        await sleep(3 * ALIVE_MS);
        return a;
      };

      it('a rolling restart changes nothing; a start after every replica was down bounds them from its start, and brings the transition forward', async () => {
        const prefix = `t${++n}:`;
        const a = await started(replica(prefix));
        await register(a, 'alice');
        // One replica restarts while another runs, then that one: the PBX was heard all along.
        const b = await started(replica(prefix, T + HOUR));
        await a.close();
        const c = await started(replica(prefix, T + HOUR));
        expect(await until(c, 'alice')).toBeUndefined();
        await b.close();
        await c.close();
        await sleep(ALIVE_MS + 100);
        const d = await started(replica(prefix, T + 5 * 60_000 + HOUR));
        expect(await until(d, 'alice')).toBe(T + 5 * 60_000 + HOUR);
        expect((await d.state.read('acme', 'alice')).presence?.wakeAt).toBe(T + 5 * 60_000 + HOUR);
        expect(await d.shared.due.claimOverdue(T + 5 * 60_000 + HOUR, T + 5 * 60_000 + HOUR, 30_000, 10)).toEqual([{ tenantId: 'acme', personId: 'alice', dueAt: T + 5 * 60_000 + HOUR }]);
        expect(await boundKeys(prefix)).toEqual([0, 0]);
        await d.close();
      });

      it('replicas starting together after a full outage set one bound, from whichever started first', async () => {
        const prefix = `t${++n}:`;
        const a = await started(replica(prefix));
        await register(a, 'alice');
        await register(a, 'bob');
        await a.close();
        await sleep(ALIVE_MS + 100);
        const [b, c] = await Promise.all([started(replica(prefix, T + HOUR)), started(replica(prefix, T + HOUR + 1))]);
        await eventually(async () => expect(await boundKeys(prefix)).toEqual([0, 0]));
        const bounds = [await until(b, 'alice'), await until(c, 'bob')];
        expect([[T + HOUR, T + HOUR], [T + HOUR + 1, T + HOUR + 1]]).toContainEqual(bounds);
        await b.close();
        await c.close();
      });

      it('a running replica takes over a bound whose replica died while applying it, once its lock lapses', async () => {
        const prefix = `t${++n}:`;
        const a = await started(replica(prefix));
        await register(a, 'alice');
        const k = redisKeys(prefix);
        const raw = new Redis(redis.url);
        await raw.set(k.registrationBound(), String(T + HOUR));
        await raw.set(k.registrationBoundLock(), 'dead-replica', 'PX', 2 * ALIVE_MS);
        await sleep(ALIVE_MS);
        expect(await until(a, 'alice')).toBeUndefined();
        await eventually(async () => expect(await until(a, 'alice')).toBe(T + HOUR));
        await eventually(async () => expect(await boundKeys(prefix)).toEqual([0, 0]));
        raw.disconnect();
        await a.close();
      });

      it('a replica starting while another applies the bound answers only once it is applied: a registration it then takes stays unbounded', async () => {
        const prefix = `t${++n}:`;
        const a = await started(replica(prefix));
        await register(a, 'alice');
        await a.close();
        // Another replica started first after the full outage and is still bounding everyone.
        const k = redisKeys(prefix);
        const raw = new Redis(redis.url);
        await raw.set(k.alive(), 'first-replica', 'PX', 2 * ALIVE_MS);
        await raw.set(k.registrationBound(), String(T + HOUR));
        await raw.set(k.registrationBoundLock(), 'first-replica', 'PX', ALIVE_MS / 2);
        raw.disconnect();
        const b = await started(replica(prefix, T + HOUR + 1));
        expect(await boundKeys(prefix)).toEqual([0, 0]);
        expect(await until(b, 'alice')).toBe(T + HOUR);
        // The PBX reports the phone again through the replica that just started: believed without a bound.
        await register(b, 'alice');
        await sleep(3 * ALIVE_MS);
        expect(await until(b, 'alice')).toBeUndefined();
        await b.close();
      });

      it('a start waits for a bound that is never applied (its applier stuck) only so long, then answers', async () => {
        const prefix = `t${++n}:`;
        const k = redisKeys(prefix);
        const raw = new Redis(redis.url);
        await raw.set(k.alive(), 'stuck-replica', 'PX', 10 * ALIVE_MS);
        await raw.set(k.registrationBound(), String(T + HOUR));
        await raw.set(k.registrationBoundLock(), 'stuck-replica', 'PX', 10 * ALIVE_MS);
        const b = await started(replica(prefix, T + HOUR + 1));
        expect(await boundKeys(prefix)).toEqual([1, 1]);
        raw.disconnect();
        await b.close();
      });

      it('a start waits for its own apply of the bound only so long too, however slow each write of it is; a stop waits for it a heartbeat at most, and another replica applies the bound once its lock lapsed', async () => {
        const prefix = `t${++n}:`;
        const a = await started(replica(prefix));
        await register(a, 'alice');
        await a.close();
        await sleep(ALIVE_MS + 100);
        const b = replica(prefix, T + HOUR);
        // Redis slow to take the bounding write (a Redis swapping, a full AOF disk): far longer than the wait cap, and than a pod's grace period.
        let release!: () => void;
        const slow = new Promise<void>((resolve) => (release = resolve));
        let bounded = false;
        const update = b.state.update.bind(b.state);
        b.state.update = async <R>(...args: Parameters<typeof update<R>>) => {
          await slow;
          const done = await update(...args);
          bounded = true;
          return done;
        };
        await b.start();
        expect(bounded).toBe(false);
        // Another replica runs meanwhile (it waited for the bound as long as a start does).
        const c = await started(replica(prefix));
        // The pod stops while its apply hangs: the stop returns, leaving the bound pending and its lock to lapse.
        expect(await Promise.race([b.close().then(() => 'stopped'), sleep(20 * ALIVE_MS).then(() => 'still stopping')])).toBe('stopped');
        expect(await boundKeys(prefix)).toEqual([1, 1]);
        release();
        await eventually(async () => expect(await boundKeys(prefix)).toEqual([0, 0]));
        expect(await until(c, 'alice')).toBe(T + HOUR);
        // Nothing of the stopped replica's apply was written after it stopped.
        expect(bounded).toBe(false);
        await c.close();
      });

      it('a replica starting within a heartbeat of a FLUSHALL while another runs sets no bound: the call that one puts back is kept, and no replica back later takes it for a full outage', async () => {
        const prefix = `t${++n}:`;
        const k = redisKeys(prefix);
        const raw = new Redis(redis.url);
        // A running replica whose heartbeat and look at the dataset come only when this test says.
        const a = await started(new RedisStore({ url: redis.url, prefix, feedEvents: 1000, log: silentLogger, aliveMs: 100 * ALIVE_MS, copyRefreshMs: 600_000, afterOutage: () => ({ at: T, registrationsUntil: T + HOUR }) }));
        await onTheDeskPhone(a);
        await raw.del(...(await raw.keys(`${prefix}*`)));
        // c starts before a's next heartbeat; were it to bound everyone, it would list them once a put alice back.
        const c = replica(prefix, T + HOUR);
        const keys = c.state.keys.bind(c.state);
        c.state.keys = async (...args: Parameters<typeof keys>) => {
          await eventually(async () => expect(await raw.exists(k.state('acme', 'alice'))).toBe(1), 10_000);
          return keys(...args);
        };
        const starting = c.start();
        await eventually(async () => expect(await raw.exists(k.alive())).toBe(1));
        await a['watch']();
        await eventually(async () => expect(await a.ready()).toBe(true), 10_000);
        await starting;
        await sleep(2 * ALIVE_MS);
        for (const s of [a, c]) expect((await s.state.read('acme', 'alice')).signals).toEqual([desk, onCall]);
        expect(await boundKeys(prefix)).toEqual([0, 0]);
        expect(await raw.get(k.lastBound())).toBeNull();
        raw.disconnect();
        await Promise.all([a, c].map((s) => s.close()));
      });

      it('a replica back from a full outage that loses Redis again while it decides whether it was one decides again: what it put back is bounded, not kept as after a reconnect to the same dataset', async () => {
        const prefix = `t${++n}:`;
        const k = redisKeys(prefix);
        const cutOff = await severableRedis(redis.port);
        const raw = new Redis(redis.url);
        try {
          const a = await lapsedOverALoss(prefix, cutOff, raw);
          // While a looks, another replica back first finds the full outage (it bounds what it put back and
          // renews alive), and a loses Redis again.
          const outage = a['outage'];
          const decide = outage.fullOutage.bind(outage);
          let lost = false;
          outage.fullOutage = async (...args: Parameters<typeof decide>) => {
            if (lost) return decide(...args);
            lost = true;
            await raw.set(k.lastBound(), (await raw.get(k.epoch()))!);
            await raw.set(k.alive(), 'other-replica', 'PX', 100 * ALIVE_MS);
            throw new Error('the connection was lost');
          };
          cutOff.heal();
          await eventually(async () => expect(await a.ready()).toBe(true), 10_000);
          expect(lost).toBe(true);
          expect((await a.state.read('acme', 'alice')).signals).toEqual([{ ...desk, until: T + HOUR }]);
          await a.close();
        } finally {
          raw.disconnect();
          await cutOff.close();
        }
      });

      it('a Redis that lost its data while a replica reached it is no outage: what the replica puts back stays unbounded, calls kept', async () => {
        const prefix = `t${++n}:`;
        const a = await started(replica(prefix, T));
        await onTheDeskPhone(a);
        const raw = new Redis(redis.url);
        const lost = await raw.keys(`${prefix}*`);
        await raw.del(...lost);
        raw.disconnect();
        await eventually(async () => expect((await a.state.read('acme', 'alice')).signals).toEqual([desk, onCall]), 10_000);
        const b = await started(replica(prefix, T + HOUR));
        expect((await b.state.read('acme', 'alice')).signals).toEqual([desk, onCall]);
        await a.close();
        await b.close();
      });

      it('a call whose hang-up nobody heard during a full outage is dropped: the person is merged again at once, from the outage on, not on a call for hours', async () => {
        const prefix = `t${++n}:`;
        const policyFor = async () => DEFAULT_POLICY;
        const a = await started(replica(prefix));
        const before = new PresenceEngine({ store: a, clock: new ManualClock(T), metrics: new Metrics(false), log: silentLogger, policyFor });
        await before.apply('acme', 'alice', [desk, onCall].map((signal) => ({ op: 'put' as const, signal })));
        expect((await a.state.read('acme', 'alice')).presence).toMatchObject({ activity: 'on-call' });
        before.stop();
        await a.close();
        await sleep(ALIVE_MS + 100);
        // The first replica back, five minutes on.
        const back = T + 5 * 60_000;
        const b = await started(replica(prefix, back + HOUR));
        const kept = await b.state.read('acme', 'alice');
        expect(kept.signals.map((x) => x.id)).toEqual([desk.id]);
        // Due now: whichever replica sweeps merges the person again, if no starting replica did first.
        expect(kept.presence?.wakeAt).toBe(back);
        expect(await b.shared.due.claimOverdue(back, back, 30_000, 10)).toEqual([{ tenantId: 'acme', personId: 'alice', dueAt: back }]);
        const after = new PresenceEngine({ store: b, clock: new ManualClock(back + 1000), metrics: new Metrics(false), log: silentLogger, policyFor });
        await after.start();
        expect((await b.state.read('acme', 'alice')).presence).toMatchObject({ activity: 'available', routable: true, since: back });
        after.stop();
        await b.close();
      });

      it("every replica's copy follows the bounding writes without a consumer seeing them, so none puts back an unbounded registration after Redis lost its data", async () => {
        const prefix = `t${++n}:`;
        const a = await started(replica(prefix));
        const b = await started(replica(prefix));
        await register(a, 'alice');
        // b holds the state as it read it, unbounded, and last showed it with a change-feed event.
        expect(await until(b, 'alice')).toBeUndefined();
        const shown: FeedEvent[] = [];
        const showing = await a.feed.subscribe('acme', (e) => shown.push(e));
        await b.state.update('acme', 'alice', (st) => ({ next: st, result: undefined, emit: true }));
        await eventually(() => expect(shown).toHaveLength(1));
        showing.close();
        const seen: FeedEvent[] = [];
        const subs = await Promise.all([a, b].map((s) => s.feed.subscribe('acme', (e) => seen.push(e), shown[0]!.id)));
        const k = redisKeys(prefix);
        const raw = new Redis(redis.url);
        // A full outage found by a replica: whichever of the two beats next bounds everyone.
        await raw.set(k.registrationBound(), `${T}:${T + HOUR}`);
        await eventually(async () => expect(await boundKeys(prefix)).toEqual([0, 0]));
        const held = (s: RedisStore) => (s.state as unknown as { copy: Map<string, { version: number }> }).copy.get(k.state('acme', 'alice'))?.version;
        // One above the version, which stays: the order is hidden from every view.
        await eventually(() => expect([held(a), held(b)]).toEqual([2, 2]));
        const restore = (s: RedisStore) => (s.state as unknown as { restore(): Promise<number> }).restore();
        for (const [first, second] of [[a, b], [b, a]] as const) {
          await raw.del(k.state('acme', 'alice'));
          expect(await restore(first)).toBe(1);
          expect(await restore(second)).toBe(0);
          expect(await until(second, 'alice')).toBe(T + HOUR);
        }
        expect((await b.state.read('acme', 'alice')).presence).toMatchObject({ version: 1, orderFloor: 2, wakeAt: T + HOUR });
        expect((await b.state.read('acme', 'alice')).presence?.viewFloor).toBeUndefined();
        expect(seen).toEqual([]);
        // Nor does a client resuming from before it.
        const resumed = await b.feed.subscribe('acme', () => undefined, shown[0]!.id);
        expect(resumed.replay).toEqual([]);
        resumed.close();
        for (const sub of subs) sub.close();
        raw.disconnect();
        await a.close();
        await b.close();
      });

      it('a bounding write moves no version anyone is shown (no event tells of it), yet the next change, and no copy from before, orders after it', async () => {
        const prefix = `t${++n}:`;
        const a = await started(replica(prefix));
        // Alice went from a meeting to a call a minute before the outage, busy all along: a colleague sees since when she is busy.
        const changed = T - 60_000 + 7;
        await a.state.update('acme', 'alice', () => ({
          next: {
            signals: [desk],
            presence: { personId: 'alice', availability: 'busy', activity: 'on-call', routable: true, endpoints: [], explanation: [], since: changed, availabilitySince: T - HOUR, version: changed },
          },
          result: undefined,
        }));
        const k = redisKeys(prefix);
        const raw = new Redis(redis.url);
        const before = await raw.hgetallBuffer(k.state('acme', 'alice'));
        const alice = { id: 'alice', name: 'Alice', sensitive: false };
        const viewers = [
          { kind: 'key', tenantId: 'acme', keyId: 'k', role: 'member', personId: 'bob' },
          { kind: 'key', tenantId: 'acme', keyId: 'k', role: 'admin' },
          { kind: 'key', tenantId: 'acme', keyId: 'k', role: 'supervisor' },
          { kind: 'key', tenantId: 'acme', keyId: 'k', role: 'pbx' },
          { kind: 'key', tenantId: 'acme', keyId: 'k', role: 'external' },
        ] as const;
        const views = async (s: Store) => {
          const p = (await s.state.read('acme', 'alice')).presence!;
          return [...viewers.map((v) => viewOf(p, alice, v)), viewOf(p, { ...alice, sensitive: true }, viewers[3])];
        };
        const shown = await views(a);
        expect(shown.map((v) => v.version)).toEqual([T - HOUR, changed, changed, changed, changed, changed]);
        await a.close();
        await sleep(ALIVE_MS + 100);
        const b = await started(replica(prefix, T + HOUR));
        expect(await until(b, 'alice')).toBe(T + HOUR);
        expect(await views(b)).toEqual(shown);

        // A copy from before the outage loses to the bounded state, whichever is put back first.
        const restoreOld = () =>
          raw.eval(RESTORE_STATE, 3, k.state('acme', 'alice'), k.statesOf('acme'), k.tenants(), before.d!, before.v!.toString(), 'acme', 'alice', 'old-copy');
        const restore = (s: RedisStore) => (s.state as unknown as { restore(): Promise<number> }).restore();
        await raw.del(k.state('acme', 'alice'));
        expect(await restore(b)).toBe(1);
        expect(await restoreOld()).toBe(0);
        await raw.del(k.state('acme', 'alice'));
        expect(await restoreOld()).toBe(1);
        expect(await restore(b)).toBe(1);
        expect(await until(b, 'alice')).toBe(T + HOUR);

        // Her next change (on a replica whose clock is behind) has a version above the bounding write: every copy follows it.
        const engine = new PresenceEngine({ store: b, clock: new ManualClock(changed), metrics: new Metrics(false), log: silentLogger, policyFor: () => DEFAULT_POLICY });
        const next = await engine.apply('acme', 'alice', [{ op: 'put', signal: manual('away', { observedAt: changed }) }]);
        expect(next.changed).toBe(true);
        expect(next.presence.version).toBeGreaterThan(changed + 1);
        expect(next.presence.orderFloor).toBeUndefined();
        expect(Number(await raw.hget(k.state('acme', 'alice'), 'v'))).toBe(next.presence.version);
        engine.stop();
        raw.disconnect();
        await b.close();
      });

      it('one replica cut off from Redis for longer than alive while the others reach it changes nothing when it is back: no bound, calls kept', async () => {
        const prefix = `t${++n}:`;
        const cutOff = await severableRedis(redis.port);
        try {
          const bounding = (url: string) => replica(prefix, T + HOUR, url);
          const a = await started(bounding(redis.url));
          const b = await started(bounding(redis.url));
          const c = await started(bounding(cutOff.url));
          await onTheDeskPhone(c);
          cutOff.sever();
          await eventually(async () => expect(await c.ready()).toBe(false));
          await sleep(3 * ALIVE_MS);
          cutOff.heal();
          await eventually(async () => expect(await c.ready()).toBe(true), 10_000);
          // Its heartbeats after the reconnect, and every replica's since.
          await sleep(2 * ALIVE_MS);
          expect(await boundKeys(prefix)).toEqual([0, 0]);
          for (const s of [a, b, c]) expect((await s.state.read('acme', 'alice')).signals).toEqual([desk, onCall]);
          await Promise.all([a, b, c].map((s) => s.close()));
        } finally {
          await cutOff.close();
        }
      });

      it('every replica cut off from a Redis that runs on, for longer than alive, is a full outage: bounded and calls dropped once they are back', async () => {
        const prefix = `t${++n}:`;
        const cutOff = await severableRedis(redis.port);
        try {
          const a = await started(new RedisStore({ url: cutOff.url, prefix, feedEvents: 1000, log: silentLogger, aliveMs: ALIVE_MS, afterOutage: () => ({ at: T, registrationsUntil: T + HOUR }) }));
          await onTheDeskPhone(a);
          cutOff.sever();
          await sleep(3 * ALIVE_MS);
          cutOff.heal();
          await eventually(async () => expect((await a.state.read('acme', 'alice')).signals).toEqual([{ ...desk, until: T + HOUR }]), 10_000);
          await a.close();
        } finally {
          await cutOff.close();
        }
      });

      it('a Redis back empty after longer than alive is a full outage, not a mere data loss: what the replicas put back is bounded, the call dropped, and the person merged again before they answer', async () => {
        const lost = await startRedis();
        try {
          const prefix = `t${++n}:`;
          const back = T + 5 * 60_000;
          const bounding = () =>
            new RedisStore({ url: lost.url, prefix, feedEvents: 1000, log: silentLogger, aliveMs: ALIVE_MS, afterOutage: () => ({ at: back, registrationsUntil: back + HOUR }) });
          const [a, b] = [bounding(), bounding()];
          const clock = new ManualClock(T);
          const engines = [a, b].map((store) => new PresenceEngine({ store, clock, metrics: new Metrics(false), log: silentLogger, policyFor: () => DEFAULT_POLICY }));
          const merged: Array<Presence | undefined> = [];
          for (const [i, store] of [a, b].entries()) {
            await store.start();
            // As the service does: everyone merged again once the store is back (`create-hub.ts`).
            store.onRecovered(() => void engines[i]!.start().then(async () => merged.push((await store.state.read('acme', 'alice')).presence)));
          }
          await engines[0]!.apply('acme', 'alice', [desk, onCall].map((signal) => ({ op: 'put' as const, signal })));
          await eventually(async () => expect((await b.state.read('acme', 'alice')).presence).toMatchObject({ activity: 'on-call' }));
          // Both replicas hold the call; the hang-up is lost while Redis is away, longer than alive.
          await lost.kill();
          await sleep(ALIVE_MS + 200);
          await clock.advanceTo(back + 1000);
          await lost.restart({ empty: true });
          await eventually(() => expect(merged).toHaveLength(2), 10_000);
          const after = await a.state.read('acme', 'alice');
          expect(after.signals).toEqual([{ ...desk, until: back + HOUR }]);
          expect(after.presence).toMatchObject({ activity: 'available', routable: true, since: back });
          // The merge that counted saw the call dropped: no replica's recovery merged it before the bound.
          expect(merged.every((p) => p?.activity === 'available')).toBe(true);
          expect(await boundKeys(prefix)).toEqual([0, 0]);
          for (const e of engines) e.stop();
          await Promise.all([a, b].map((s) => s.close()));
        } finally {
          await lost.stop();
        }
      });

      it('a Redis back empty after a full outage: what a replica back later than the one that bounded puts back is bounded too', async () => {
        const lost = await startRedis();
        const late = await severableRedis(lost.port);
        try {
          const prefix = `t${++n}:`;
          const back = T + 5 * 60_000;
          const bounding = (url: string) => replica(prefix, back + HOUR, url);
          // Only b holds alice (a started after her last change, and has not read her since).
          const b = await started(bounding(late.url));
          await onTheDeskPhone(b);
          const a = await started(bounding(lost.url));
          late.sever();
          await lost.kill();
          await sleep(ALIVE_MS + 200);
          await lost.restart({ empty: true });
          // a is back first, finds no replica alive, sets the bound and applies it to what is there: nothing.
          await eventually(async () => expect(await a.ready()).toBe(true), 10_000);
          await eventually(async () => expect(await a.state.keys()).toEqual([]));
          late.heal();
          await eventually(async () => expect(await b.ready()).toBe(true), 10_000);
          // b puts back alice's call, after the bound: it must not come back unbounded.
          await eventually(async () => expect((await a.state.read('acme', 'alice')).signals).toEqual([{ ...desk, until: back + HOUR }]), 10_000);
          await Promise.all([a, b].map((s) => s.close()));
        } finally {
          await late.close();
          await lost.stop();
        }
      });

      it('a Redis emptied during a full outage, a replica starting in it first: what a replica back from the outage puts back is still bounded (the new one knows nothing of the gap before it)', async () => {
        const prefix = `t${++n}:`;
        const cutOff = await severableRedis(redis.port);
        const raw = new Redis(redis.url);
        try {
          const a = await lapsedOverALoss(prefix, cutOff, raw);
          const c = await started(replica(prefix, T + HOUR));
          cutOff.heal();
          await eventually(async () => expect(await a.ready()).toBe(true), 10_000);
          expect((await a.state.read('acme', 'alice')).signals).toEqual([{ ...desk, until: T + HOUR }]);
          await Promise.all([a, c].map((s) => s.close()));
        } finally {
          raw.disconnect();
          await cutOff.close();
        }
      });

      it('a replica cut off for longer than alive while Redis lost its data and the others put it back drops no call they put back', async () => {
        const prefix = `t${++n}:`;
        const cutOff = await severableRedis(redis.port);
        try {
          const bounding = (url: string) => replica(prefix, T + HOUR, url);
          const a = await started(bounding(redis.url));
          const c = await started(bounding(cutOff.url));
          await onTheDeskPhone(a);
          // c holds the call too (as it would following the feed).
          expect((await c.state.read('acme', 'alice')).signals).toEqual([desk, onCall]);
          cutOff.sever();
          const raw = new Redis(redis.url);
          await raw.del(...(await raw.keys(`${prefix}*`)));
          raw.disconnect();
          await eventually(async () => expect((await a.state.read('acme', 'alice')).signals).toEqual([desk, onCall]), 10_000);
          await sleep(2 * ALIVE_MS);
          cutOff.heal();
          await eventually(async () => expect(await c.ready()).toBe(true), 10_000);
          await sleep(2 * ALIVE_MS);
          for (const s of [a, c]) expect((await s.state.read('acme', 'alice')).signals).toEqual([desk, onCall]);
          await Promise.all([a, c].map((s) => s.close()));
        } finally {
          await cutOff.close();
        }
      });

      // A failover to a copy that lagged keeps what that copy held, the last bound of an earlier full outage
      // included, and the replica that notices names the dataset anew (`RENAME_DATASET`).
      for (const failover of [false, true]) {
        const loss = failover ? 'a failover to a copy that lagged' : 'a FLUSHALL';
        it(`a replica cut off alone for longer than alive, back within a heartbeat of ${loss} the others reached Redis through, drops no call`, async () => {
          const prefix = `t${++n}:`;
          const k = redisKeys(prefix);
          const cutOff = await severableRedis(redis.port);
          const raw = new Redis(redis.url);
          // Another replica, reaching Redis all along: it renews `alive` every third of it.
          const beat = () => raw.set(k.alive(), 'other-replica', 'PX', ALIVE_MS);
          let beating: NodeJS.Timeout | undefined;
          try {
            // Starting with no replica running in a dataset replicas ran in (a full outage, as far as it can
            // tell), c sets a bound: the last one.
            await raw.set(k.aliveEver(), '1');
            const c = await started(replica(prefix, T + HOUR, cutOff.url));
            expect(await raw.get(k.lastBound())).not.toBeNull();
            beating = setInterval(() => void beat(), ALIVE_MS / 3);
            await onTheDeskPhone(c);
            cutOff.sever();
            await sleep(3 * ALIVE_MS);
            // Redis loses its data between two of the other replica's heartbeats; c is back before the next.
            clearInterval(beating);
            const keys = await raw.keys(`${prefix}*`);
            await raw.del(...(failover ? keys.filter((key) => key !== k.lastBound()) : keys));
            if (failover) await raw.set(k.epoch(), 'renamed-by-the-replica-that-noticed');
            cutOff.heal();
            await eventually(async () => expect(await raw.exists(k.epoch())).toBe(1), 10_000);
            await beat();
            beating = setInterval(() => void beat(), ALIVE_MS / 3);
            await eventually(async () => expect(await c.ready()).toBe(true), 10_000);
            expect(await boundKeys(prefix)).toEqual([0, 0]);
            expect((await c.state.read('acme', 'alice')).signals).toEqual([desk, onCall]);
            await c.close();
          } finally {
            clearInterval(beating);
            raw.disconnect();
            await cutOff.close();
          }
        });
      }

      it('a Redis unreachable for longer than alive, its data kept, is a full outage: the replicas that ran bound the registrations once it is back', async () => {
        const kept = await startRedis({ appendonly: true, args: ['--appendfsync', 'always'] });
        try {
          const prefix = `t${++n}:`;
          const a = new RedisStore({ url: kept.url, prefix, feedEvents: 1000, log: silentLogger, aliveMs: ALIVE_MS, afterOutage: () => ({ at: T, registrationsUntil: T + HOUR }) });
          await a.start();
          await register(a, 'alice');
          expect(await until(a, 'alice')).toBeUndefined();
          // PBX events were refused (503) meanwhile, as while no replica ran.
          await kept.kill();
          await sleep(ALIVE_MS + 200);
          await kept.restart();
          await eventually(async () => expect(await until(a, 'alice')).toBe(T + HOUR), 10_000);
          await a.close();
        } finally {
          await kept.stop();
        }
      });
      for (const empty of [false, true]) {
        it(`a replica back from a full outage (Redis ${empty ? 'empty' : 'with its data'}) answers again only once bounded: a call a PBX reports as soon as it answers is kept`, async () => {
          const back = await startRedis(empty ? {} : { appendonly: true, args: ['--appendfsync', 'always'] });
          try {
            const prefix = `t${++n}:`;
            const a = await started(replica(prefix, T + HOUR, back.url));
            await register(a, 'alice');
            await back.kill();
            await sleep(ALIVE_MS + 200);
            // The PBX retries bob's call (refused with 503 while the replica cannot answer) until it is taken.
            let taken = false;
            const retrying = (async () => {
              while (!taken) {
                try {
                  await a.state.update('acme', 'bob', () => ({
                    next: { signals: [desk, onCall], presence: { personId: 'bob', availability: 'busy', activity: 'on-call', routable: false, endpoints: [], explanation: [], since: T, version: 1 } },
                    result: undefined,
                  }));
                  taken = true;
                } catch {
                  await sleep(1);
                }
              }
            })();
            await back.restart(empty ? { empty: true } : {});
            await retrying;
            expect(await boundKeys(prefix, back.url)).toEqual([0, 0]);
            expect(await until(a, 'alice')).toBe(T + HOUR);
            expect((await a.state.read('acme', 'bob')).signals).toEqual([desk, onCall]);
            await a.close();
          } finally {
            await back.stop();
          }
        });
      }

      it('a replica that loses Redis again while it waits for a bound checks it again before it answers: what Redis lost in that second gap is put back first', async () => {
        const prefix = `t${++n}:`;
        const k = redisKeys(prefix);
        const cutOff = await severableRedis(redis.port);
        const raw = new Redis(redis.url);
        try {
          // No check of the dataset every few seconds to find the loss for it: only a reconnect's.
          const a = await started(new RedisStore({ url: cutOff.url, prefix, feedEvents: 1000, log: silentLogger, aliveMs: 4 * ALIVE_MS, copyRefreshMs: 600_000, afterOutage: () => ({ at: T, registrationsUntil: T + HOUR }) }));
          await register(a, 'alice');
          // Another replica holds the bound's lock (stuck): a, back from a full outage, waits for it.
          await raw.set(k.registrationBoundLock(), 'other-replica', 'PX', 100 * ALIVE_MS);
          cutOff.sever();
          await sleep(5 * ALIVE_MS);
          cutOff.heal();
          await eventually(async () => expect(await boundKeys(prefix)).toEqual([1, 1]), 10_000);
          expect(await a.ready()).toBe(false);
          // Lost again while it waits, and Redis loses its data meanwhile.
          cutOff.sever();
          await raw.del(...(await raw.keys(`${prefix}*`)));
          cutOff.heal();
          await eventually(async () => expect(await a.ready()).toBe(true), 10_000);
          expect(await raw.exists(k.state('acme', 'alice'))).toBe(1);
          await a.close();
        } finally {
          raw.disconnect();
          await cutOff.close();
        }
      });

      it('a replica back from a Redis unreachable within alive answers at once, without waiting for any bound', async () => {
        const prefix = `t${++n}:`;
        const cutOff = await severableRedis(redis.port);
        try {
          const a = await started(replica(prefix, T + HOUR, cutOff.url));
          await register(a, 'alice');
          cutOff.sever();
          await eventually(async () => expect(await a.ready()).toBe(false));
          // Another replica is bounding a full outage it found (its lock held for longer than the wait cap).
          const k = redisKeys(prefix);
          const raw = new Redis(redis.url);
          await raw.set(k.registrationBound(), `${T}:${T + HOUR}`);
          await raw.set(k.registrationBoundLock(), 'other-replica', 'PX', 100 * ALIVE_MS);
          cutOff.heal();
          await eventually(async () => expect(await a.ready()).toBe(true), 10_000);
          expect(await boundKeys(prefix)).toEqual([1, 1]);
          await raw.del(k.registrationBound(), k.registrationBoundLock());
          raw.disconnect();
          await a.close();
        } finally {
          await cutOff.close();
        }
      });
    });

    describe("a replica's copy of the states", () => {
      /** Appends a signal; the presence version counts the updates. */
      const add = (s: Store, id: string) =>
        s.state.update('acme', 'alice', (st) => {
          const version = (st.presence?.version ?? 0) + 1;
          return {
            next: { signals: [...st.signals, desk({ id })], presence: { personId: 'alice', availability: 'available', activity: 'available', routable: true, endpoints: [], explanation: [], since: T, version } },
            result: version,
            emit: true,
          };
        });

      it("updates from what the feed brought of another replica's write, without reading the state first", async () => {
        const { store: a, prefix } = await fresh();
        const b = open(prefix);
        await b.start();
        const seen: number[] = [];
        const sub = await a.feed.subscribe('acme', (e) => seen.push(e.presence?.version ?? -1));
        expect(await add(b, 'one')).toBe(1);
        await eventually(() => expect(seen).toEqual([1]));
        const [reads, writes] = [await calls('hmget'), await calls('evalsha')];
        expect(await add(a, 'two')).toBe(2);
        expect([(await calls('hmget')) - reads, (await calls('evalsha')) - writes]).toEqual([0, 1]);
        expect((await b.state.read('acme', 'alice')).signals.map((x) => x.id)).toEqual(['one', 'two']);
        sub.close();
        await a.close();
        await b.close();
      });

      it("follows another replica's directory edit that raised the view floor at the same version, and puts that back after Redis lost it", async () => {
        const { store: a, prefix } = await fresh();
        const b = open(prefix);
        await b.start();
        const seen: Array<number | undefined> = [];
        const sub = await a.feed.subscribe('acme', (e) => seen.push(e.presence?.viewFloor));
        expect(await add(b, 'one')).toBe(1);
        await b.state.update('acme', 'alice', (st) => ({ next: { ...st, presence: { ...st.presence!, viewFloor: T } }, result: undefined, emit: true, cause: 'directory' }));
        await eventually(() => expect(seen).toEqual([undefined, T]));
        await b.close();
        const admin = new Redis(redis.url);
        await admin.del(redisKeys(prefix).state('acme', 'alice'));
        admin.disconnect();
        expect(await (a.state as unknown as { restore(): Promise<number> }).restore()).toBe(1);
        expect((await a.state.read('acme', 'alice')).presence).toMatchObject({ version: 1, viewFloor: T });
        sub.close();
        await a.close();
      });

      it("follows a directory edit made on a replica whose clock is behind a full outage's bound, and puts it back after Redis lost it", async () => {
        const { store: a, prefix } = await fresh();
        const b = open(prefix);
        await b.start();
        expect(await add(b, 'one')).toBe(1);
        // As a full outage's bound leaves her: ordered one above her version, which no view shows.
        await b.state.update('acme', 'alice', (st) => ({ next: { ...st, presence: { ...st.presence!, orderFloor: 2 } }, result: undefined, emit: true, cause: COPIES_ONLY }));
        const held = () => (a.state as unknown as { copy: Map<string, { version: number }> }).copy.get(redisKeys(prefix).state('acme', 'alice'))?.version;
        await eventually(() => expect(held()).toBe(2));
        const seen: Array<number | undefined> = [];
        const sub = await a.feed.subscribe('acme', (e) => seen.push(e.presence?.viewFloor));
        const engine = new PresenceEngine({ store: b, clock: new ManualClock(1), metrics: new Metrics(false), log: silentLogger, policyFor: () => DEFAULT_POLICY });
        await engine.directoryChanged('acme', 'alice');
        await eventually(() => expect(seen).toHaveLength(1));
        const edited = (await b.state.read('acme', 'alice')).presence!;
        // Ordered above the bound: every copy follows the edit, so a restore cannot put back the state before it.
        await eventually(() => expect(held()).toBeGreaterThan(2));
        await b.close();
        const admin = new Redis(redis.url);
        await admin.del(redisKeys(prefix).state('acme', 'alice'));
        admin.disconnect();
        expect(await (a.state as unknown as { restore(): Promise<number> }).restore()).toBe(1);
        expect((await a.state.read('acme', 'alice')).presence).toEqual(edited);
        engine.stop();
        sub.close();
        await a.close();
      });

      it('never writes over a person removed and written again since from an old copy, whatever the revision count', async () => {
        const { store: a, prefix } = await fresh();
        const b = open(prefix);
        await b.start();
        expect(await add(a, 'old')).toBe(1);
        // a no longer hears of b's writes: its copy stays at its own write.
        await a.feed.stop();
        await b.state.remove('acme', 'alice');
        expect(await add(b, 'new')).toBe(1);
        expect(await add(a, 'mine')).toBe(2);
        expect((await b.state.read('acme', 'alice')).signals.map((x) => x.id)).toEqual(['new', 'mine']);
        await a.close();
        await b.close();
      });

      it("follows another replica's writes in bursts: every change once, in order, and its copy at the last of each person", async () => {
        // A history larger than the 1,200 writes: a reader that lags on a busy machine must not lose any here
        // (one that lags past the history is told so instead, below).
        const { store: a, prefix } = await fresh(5_000);
        const b = open(prefix, 5_000);
        await b.start();
        const seen: FeedEvent[] = [];
        const sub = await b.feed.subscribe('acme', (e) => seen.push(e));
        const people = Array.from({ length: 40 }, (_, i) => `p${i}`);
        const put = (personId: string, version: number) =>
          a.state.update('acme', personId, () => ({
            next: { signals: [], presence: { personId, availability: 'available', activity: 'available', routable: true, endpoints: [], explanation: [], since: T, version } },
            result: undefined,
            emit: true,
          }));
        // Bursts of concurrent writes with quiet spells between them: reads that bring many entries,
        // reads that bring one, and reads that wait for the next burst.
        for (let version = 1; version <= 30; version++) {
          await Promise.all(people.map((p) => put(p, version)));
          if (version % 10 === 0) await new Promise((r) => setTimeout(r, 50));
        }
        await eventually(() => expect(seen).toHaveLength(people.length * 30));
        const seqs = seen.map((e) => Number(e.id.split('-')[1]));
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
        expect(new Set(seqs).size).toBe(seqs.length);
        for (const p of people) expect(seen.filter((e) => e.personId === p).map((e) => e.presence?.version)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
        // b writes from what the feed brought: no read of the state first.
        const reads = await calls('hmget');
        const from = await Promise.all(people.map((p) => b.state.update('acme', p, (st) => ({ next: st, result: st.presence?.version }))));
        expect((await calls('hmget')) - reads).toBe(0);
        expect(from).toEqual(people.map(() => 30));
        sub.close();
        await a.close();
        await b.close();
      });
      it('a replica cut off while the others write past the feed\'s history is told it missed changes, before any later one reaches its listeners', async () => {
        const prefix = `t${++n}:`;
        const cutOff = await severableRedis(redis.port);
        try {
          const a = new RedisStore({ url: redis.url, prefix, feedEvents: 100, log: silentLogger });
          const b = new RedisStore({ url: cutOff.url, prefix, feedEvents: 100, log: silentLogger });
          await a.start();
          await b.start();
          const order: string[] = [];
          const sub = await b.feed.subscribe('acme', (e) => order.push(`${e.personId}@${e.presence?.version}`));
          const offMissed = b.feed.onMissed(() => order.push('missed'));
          const put = (personId: string, version: number) =>
            a.state.update('acme', personId, () => ({
              next: { signals: [], presence: { personId, availability: 'available', activity: 'available', routable: true, endpoints: [], explanation: [], since: T, version } },
              result: undefined,
              emit: true,
            }));
          await put('p0', 1);
          await eventually(() => expect(order).toEqual(['p0@1']));
          // Cut off while fewer changes than the history holds were written: it reads them all on its reconnect, told nothing.
          cutOff.sever();
          await eventually(async () => expect(await b.ready()).toBe(false));
          for (let version = 2; version <= 20; version++) await put(`p${version % 7}`, version);
          cutOff.heal();
          await eventually(() => expect(order.at(-1)).toBe('p6@20'), 10_000);
          expect(order).toEqual(['p0@1', ...Array.from({ length: 19 }, (_, i) => `p${(i + 2) % 7}@${i + 2}`)]);
          order.length = 0;
          cutOff.sever();
          await eventually(async () => expect(await b.ready()).toBe(false));
          // Far more than the 100 entries the stream keeps (trimmed in whole nodes of about 100).
          for (let version = 21; version <= 400; version++) await put(`p${version % 7}`, version);
          cutOff.heal();
          await eventually(async () => expect(await b.ready()).toBe(true), 10_000);
          await put('p0', 401);
          await eventually(() => expect(order.at(-1)).toBe('p0@401'), 10_000);
          // Told once, before the first change it could still read; none of the trimmed ones came.
          expect(order.filter((x) => x === 'missed')).toHaveLength(1);
          const after = order.slice(order.indexOf('missed') + 1);
          expect(order.indexOf('missed')).toBe(0);
          expect(after.length).toBeGreaterThan(0);
          expect(after.length).toBeLessThan(300);
          // A replica that lagged nowhere hears nothing of it.
          let told = 0;
          const offA = a.feed.onMissed(() => told++);
          await put('p1', 402);
          await sleep(200);
          expect(told).toBe(0);
          offA();
          offMissed();
          sub.close();
          await Promise.all([a, b].map((s) => s.close()));
        } finally {
          await cutOff.close();
        }
      });
      it("resumes a client to a snapshot when the feed's history moves past its id between the check and the read (MAXLEN ~ drops a whole node at once)", async () => {
        const { store: a, prefix } = await fresh(100);
        const b = open(prefix, 100);
        await b.start();
        const admin = new Redis(redis.url);
        let version = 0;
        const put = () =>
          a.state.update('acme', 'p', () => ({
            next: { signals: [], presence: { personId: 'p', availability: 'available', activity: 'available', routable: true, endpoints: [], explanation: [], since: T, version: ++version } },
            result: undefined,
            emit: true,
          }));
        const oldest = async () => Number((await admin.xrange(`${prefix}feed`, '-', '+', 'COUNT', 1))[0]![0].split('-')[0]);
        try {
          for (let i = 0; i < 250; i++) await put();
          const edge = await oldest();
          // The client has everything up to just before the oldest entry kept: it can still be resumed.
          const after = `${await admin.get(`${prefix}epoch`)}-${edge - 1}`;
          const conn = (b.feed as unknown as { conn: { run: (...args: unknown[]) => Promise<unknown> } }).conn;
          const run = conn.run.bind(conn);
          let calls = 0;
          conn.run = async (...args) => {
            // Between the feed's check of its bounds and its read, the others write until the oldest node goes.
            if (++calls === 2) while ((await oldest()) === edge) await put();
            return run(...args);
          };
          const sub = await b.feed.subscribe('acme', () => undefined, after);
          conn.run = run;
          expect(sub.replay).toBe('reset');
          sub.close();
        } finally {
          admin.disconnect();
          await Promise.all([a, b].map((s) => s.close()));
        }
      });
    });

    describe("a replica's copy of the directory", () => {
      const person = (name: string, extension?: string) => ({
        op: 'put' as const,
        collection: 'people' as const,
        doc: { id: 'p1', tenantId: 'acme', name, timeZone: 'UTC', teams: [], skills: {}, sensitive: false, ...(extension ? { extension } : {}) },
      });
      const hgets = () => calls('hget');
      /** Waits until `store` answers p1 (named `name`) from its copy, without asking Redis. */
      const answersFromCopy = (store: Store, name: string) =>
        eventually(async () => {
          const before = await hgets();
          expect(await store.directory.get('people', 'acme', 'p1')).toMatchObject({ name });
          expect(await hgets()).toBe(before);
        });
      /** p1's name by id, by `extension` and in the list, read at once; fails if any read asked Redis. */
      const readsWithoutRedis = async (store: Store, extension: string) => {
        const before = await hgets();
        const [got, byExtension, list] = await Promise.all([
          store.directory.get('people', 'acme', 'p1'),
          store.directory.findUnique('people', 'extension', extension, 'acme'),
          store.directory.list('people', 'acme'),
        ]);
        expect(await hgets()).toBe(before);
        return [got?.name, byExtension?.name, list.map((p) => p.name)];
      };

      it("sees another replica's change, removal and unique field at once, whatever its copy holds", async () => {
        const { store: a, prefix } = await fresh();
        const b = open(prefix);
        await b.start();
        await a.directory.write([person('One', '100')]);
        expect(await b.directory.get('people', 'acme', 'p1')).toMatchObject({ name: 'One' });
        await b.directory.get('people', 'acme', 'p1'); // b's copy is now current
        await a.directory.write([person('Two', '200')]);
        expect(await b.directory.get('people', 'acme', 'p1')).toMatchObject({ name: 'Two' });
        expect(await b.directory.findUnique('people', 'extension', '200', 'acme')).toMatchObject({ name: 'Two' });
        expect(await b.directory.findUnique('people', 'extension', '100', 'acme')).toBeUndefined();
        expect((await b.directory.list('people', 'acme')).map((p) => p.name)).toEqual(['Two']);
        await a.directory.write([{ op: 'delete', collection: 'people', tenantId: 'acme', id: 'p1' }]);
        expect(await b.directory.get('people', 'acme', 'p1')).toBeUndefined();
        expect(await b.directory.list('people', 'acme')).toEqual([]);
        await a.close();
        await b.close();
      });

      it('keeps answering reads of a collection from the copy while another replica writes a different one', async () => {
        const { store: a, prefix } = await fresh();
        const b = open(prefix);
        await b.start();
        await a.directory.write([person('One', '100')]);
        await answersFromCopy(b, 'One');
        // Calendar sync state is written after every sync: b's copy of people stays current meanwhile.
        for (let i = 0; i < 5; i++) await a.directory.write([{ op: 'put', collection: 'calendarSyncStates', doc: { id: 'c1', tenantId: 'acme', lastSyncAt: T + i } }]);
        expect(await readsWithoutRedis(b, '100')).toEqual(['One', 'One', ['One']]);
        // The collection that moved is read from Redis until the copy catches up, and is never stale.
        expect(await b.directory.get('calendarSyncStates', 'acme', 'c1')).toMatchObject({ lastSyncAt: T + 4 });
        // And a change of people on a is still seen by b at once.
        await a.directory.write([person('Two', '200')]);
        expect(await b.directory.get('people', 'acme', 'p1')).toMatchObject({ name: 'Two' });
        // Every write still moves the one count that replicas of the previous version check (rolling upgrade).
        const raw = new Redis(redis.url);
        expect(await raw.get(`${prefix}docrev`)).toBe('7');
        raw.disconnect();
        await a.close();
        await b.close();
      });

      it('answers reads from the copy while the directory has not moved, its own writes included', async () => {
        const { store: a, prefix } = await fresh();
        const b = open(prefix);
        await b.start();
        await a.directory.write([person('One', '100')]);
        // b refreshes its copy after its first read finds it behind; a's copy follows its own writes.
        await answersFromCopy(b, 'One');
        await a.directory.write([person('Two', '200')]);
        expect(await readsWithoutRedis(a, '200')).toEqual(['Two', 'Two', ['Two']]);
        expect(Object.isFrozen(await a.directory.get('people', 'acme', 'p1'))).toBe(true);
        await a.close();
        await b.close();
      });
    });

    it('keeps every key under its prefix', async () => {
      const { store, prefix } = await fresh();
      await store.directory.write([{ op: 'put', collection: 'people', doc: { id: 'p', tenantId: 'acme', name: 'P', timeZone: 'UTC', teams: [], skills: {}, sensitive: false, extension: '1' } }]);
      await store.state.update('acme', 'p', () => ({ next: { signals: [] , presence: { personId: 'p', availability: 'available', activity: 'available', routable: true, endpoints: [], explanation: [], since: T, version: 1 } }, result: 0, emit: true }));
      await store.leases.acquire('x', 'o', 1000, T);
      const { Redis } = await import('ioredis');
      const c = new Redis(redis.url);
      const keys = await c.keys('*');
      c.disconnect();
      expect(keys.filter((k) => k.startsWith(prefix)).length).toBeGreaterThan(5);
      expect(keys.filter((k) => !/^t\d+:/.test(k))).toEqual([]);
      await store.close();
    });
  });
});

describeWith(['redis'], 'Redis store after Redis lost its data', () => {
  let redis: RunningRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());

  const presence = (version: number) => ({ personId: 'alice', availability: 'available' as const, activity: 'available' as const, routable: true, endpoints: [], explanation: [], since: T, version });
  const put = (s: Store, version: number) => s.state.update('acme', 'alice', () => ({ next: { signals: [], presence: presence(version) }, result: undefined, emit: true }));

  it('a live subscriber still gets the changes of the new dataset, whose sequence starts again', async () => {
    const store = new RedisStore({ url: redis.url, prefix: 'ph:', feedEvents: 1000, log: silentLogger });
    await store.start();
    const got: number[] = [];
    const sub = await store.feed.subscribe('acme', (e) => got.push(e.presence?.version ?? -1));
    for (const v of [1, 2, 3]) await put(store, v);
    await eventually(() => expect(got).toEqual([1, 2, 3]));
    await redis.restart({ empty: true });
    await eventually(async () => expect(await store.ready()).toBe(true));
    await put(store, 4);
    await eventually(() => expect(got).toEqual([1, 2, 3, 4]));
    sub.close();
    await store.close();
  }, 60_000);

  it('a write to a dataset without a name (Redis lost its data) names it, and its feed entry carries the new name', async () => {
    // No check of the dataset's name in this test: the write alone must name the new dataset.
    const store = new RedisStore({ url: redis.url, prefix: 'ph:', feedEvents: 1000, log: silentLogger, copyRefreshMs: 3_600_000 });
    await store.start();
    const admin = new Redis(redis.url);
    try {
      await put(store, 1);
      const before = await admin.get('ph:epoch');
      expect(before).not.toBeNull();
      await admin.flushall();
      await put(store, 2);
      const after = await admin.get('ph:epoch');
      expect(after).not.toBeNull();
      expect(after).not.toBe(before);
      const entries = await admin.xrange('ph:feed', '-', '+');
      expect(entries.map(([id, fields]) => [id, fields[1]!.split('\n')[0]])).toEqual([['1-0', after]]);
    } finally {
      admin.disconnect();
      await store.close();
    }
  });

  it('answers directory reads from its copy only while Redis holds the dataset the copy was read from', async () => {
    // No check of the dataset's name in this test: the reads alone must notice the loss.
    const store = new RedisStore({ url: redis.url, prefix: 'ph:', feedEvents: 1000, log: silentLogger, copyRefreshMs: 3_600_000 });
    await store.start();
    await store.directory.write([{ op: 'put', collection: 'people', doc: { id: 'bob', tenantId: 'acme', name: 'Bob', timeZone: 'UTC', teams: [], skills: {}, sensitive: false, extension: '7' } }]);
    expect(await store.directory.get('people', 'acme', 'bob')).toMatchObject({ name: 'Bob' });
    const admin = new Redis(redis.url);
    try {
      await admin.flushall();
      expect(await store.directory.get('people', 'acme', 'bob')).toBeUndefined();
      expect(await store.directory.findUnique('people', 'extension', '7', 'acme')).toBeUndefined();
      expect(await store.directory.list('people', 'acme')).toEqual([]);
    } finally {
      admin.disconnect();
      await store.close();
    }
  });

  it('notices a dataset lost under a live connection (FLUSHALL) and puts back what it held', async () => {
    const store = new RedisStore({ url: redis.url, prefix: 'ph:', feedEvents: 1000, log: silentLogger, copyRefreshMs: 100 });
    await store.start();
    await store.directory.write([{ op: 'put', collection: 'people', doc: { id: 'bob', tenantId: 'acme', name: 'Bob', timeZone: 'UTC', teams: [], skills: {}, sensitive: false } }]);
    const got: number[] = [];
    const sub = await store.feed.subscribe('acme', (e) => got.push(e.presence?.version ?? -1));
    // The new dataset counts its feed from 1 again: no change was missed, so no stream is cut.
    let missed = 0;
    const offMissed = store.feed.onMissed(() => missed++);
    for (const v of [10, 11, 12]) await put(store, v);
    await eventually(() => expect(got).toEqual([10, 11, 12]));
    await new Promise((r) => setTimeout(r, 300)); // the directory copy is refreshed
    const admin = new Redis(redis.url);
    try {
      await admin.flushall();
      await eventually(async () => expect(await store.directory.get('people', 'acme', 'bob')).toMatchObject({ name: 'Bob' }), 10_000);
      expect((await store.state.read('acme', 'alice')).presence?.version).toBe(12);
      await put(store, 13);
      await eventually(() => expect(got).toEqual([10, 11, 12, 13]), 10_000);
      expect(missed).toBe(0);
    } finally {
      admin.disconnect();
      offMissed();
      sub.close();
      await store.close();
    }
  }, 60_000);

  it('renames a dataset that came back older under its name (the last writes of an AOF lost): live streams go on, ids handed out before resume to a snapshot, newer states are put back', async () => {
    const store = new RedisStore({ url: redis.url, prefix: 'ph:', feedEvents: 1000, log: silentLogger, copyRefreshMs: 3_600_000 });
    await store.start();
    const admin = new Redis(redis.url);
    const got: number[] = [];
    const ids: string[] = [];
    const sub = await store.feed.subscribe('acme', (e) => {
      got.push(e.presence?.version ?? -1);
      ids.push(e.id);
    });
    // The renamed dataset's feed goes on from the older sequence, and the reader from a reconnect: nothing was missed.
    let missed = 0;
    const offMissed = store.feed.onMissed(() => missed++);
    try {
      for (const v of [21, 22]) await put(store, v);
      await eventually(() => expect(got).toEqual([21, 22]));
      // What the server comes back with after the kill: the dataset as it was here, under the same name.
      await admin.save();
      for (const v of [23, 24]) await put(store, v);
      await eventually(() => expect(got).toEqual([21, 22, 23, 24]));
      const handedOut = ids.at(-1)!;
      await redis.kill();
      await redis.restart();
      await eventually(async () => expect(await store.ready()).toBe(true), 10_000);
      expect((await store.state.read('acme', 'alice')).presence?.version).toBe(24);
      await put(store, 25);
      await eventually(() => expect(got).toEqual([21, 22, 23, 24, 25]), 10_000);
      expect(new Set(ids).size).toBe(ids.length);
      const late = await store.feed.subscribe('acme', () => undefined, handedOut);
      expect(late.replay).toBe('reset');
      late.close();
      expect(missed).toBe(0);
    } finally {
      await admin.flushall();
      admin.disconnect();
      offMissed();
      sub.close();
      await store.close();
    }
  }, 60_000);

  it("answers no read from a copy of a directory that came back older under its name, whose revisions another replica's write reaches again", async () => {
    const open = () => new RedisStore({ url: redis.url, prefix: 'ph:', feedEvents: 1000, log: silentLogger, copyRefreshMs: 3_600_000 });
    const [a, b] = [open(), open()];
    await a.start();
    await b.start();
    const admin = new Redis(redis.url);
    const person = (id: string, name: string) => ({ op: 'put' as const, collection: 'people' as const, doc: { id, tenantId: 'acme', name, timeZone: 'UTC', teams: [], skills: {}, sensitive: false } });
    try {
      await a.directory.write([person('bob', 'Bob')]);
      await admin.save();
      await a.directory.write([person('carol', 'Carol')]);
      expect(await a.directory.get('people', 'acme', 'carol')).toMatchObject({ name: 'Carol' });
      await redis.kill();
      await redis.restart();
      await eventually(async () => expect([await a.ready(), await b.ready()]).toEqual([true, true]), 10_000);
      await b.directory.write([person('dave', 'Dave')]);
      expect(await a.directory.get('people', 'acme', 'dave')).toMatchObject({ name: 'Dave' });
    } finally {
      await admin.flushall();
      admin.disconnect();
      await a.close();
      await b.close();
    }
  }, 60_000);
});
