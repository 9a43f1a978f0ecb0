import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import { MemoryLeases } from '../../shared/store/embedded/memory-leases.js';
import type { LeaseStore } from '../../shared/store/leases.js';
import { Turns, type Turn } from '../../services/routing/turns.js';

const T0 = Date.parse('2026-03-02T09:30:00Z');
const LEASE_MS = 5_000;

/** A promise the test settles by hand. */
function later<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The leases of one store as a replica sees them, with the calls it makes and the owners it uses. */
function replicaLeases(shared: LeaseStore, renewal: (owner: string) => Promise<boolean> | undefined = () => undefined) {
  const calls = { acquire: 0, acquireAll: 0, release: 0, releaseAll: 0 };
  const owners = new Set<string>();
  const leases: LeaseStore = {
    acquire: (...a) => (calls.acquire++, shared.acquire(...a)),
    release: (...a) => (calls.release++, shared.release(...a)),
    holder: (...a) => shared.holder(...a),
    acquireAll: (keys, owner, ttlMs, now) => {
      calls.acquireAll++;
      const renewing = owners.has(owner);
      owners.add(owner);
      return (renewing && renewal(owner)) || shared.acquireAll(keys, owner, ttlMs, now);
    },
    releaseAll: (...a) => (calls.releaseAll++, shared.releaseAll(...a)),
  };
  return { leases, calls, owner: () => [...owners].at(-1)! };
}

/** Starts a turn whose work waits until `done` resolves, then runs `then` with the turn (a write would come there). */
function longTurn(turns: Turns, keys: string[], then: (turn: Turn) => unknown = () => undefined) {
  const done = later();
  const started = later();
  const result = turns.runAll(keys, async (turn) => {
    started.resolve();
    await done.promise;
    then(turn);
    return 'written';
  });
  result.catch(() => undefined);
  return { result, done: done.resolve, started: started.promise };
}

describe('turns on records across replicas', () => {
  it('a turn keeps all its leases for as long as it lasts, however long past their 5 s', async () => {
    const clock = new ManualClock(T0);
    const shared = new MemoryLeases();
    const turns = new Turns(shared, clock, 'queue_pause_busy');
    const keys = ['queue-pause:acme:alice', 'queue-pause:acme:bob', 'queue-pause:acme:carol'];
    const turn = longTurn(turns, keys, (t) => t.hold());
    await turn.started;
    for (let elapsed = 0; elapsed <= 4 * LEASE_MS; elapsed += 500) {
      for (const key of keys) expect(await shared.acquire(key, 'another-replica', LEASE_MS, clock.now())).toBe(false);
      await clock.advance(500);
    }
    turn.done();
    expect(await turn.result).toBe('written');
    // Ended, the turn frees them at once and renews nothing any more.
    expect(clock.timers).toBe(0);
    expect(await shared.acquireAll(keys, 'another-replica', LEASE_MS, clock.now())).toBe(true);
  });

  it('a renewal the store fails once does not lose the turn', async () => {
    const clock = new ManualClock(T0);
    const shared = new MemoryLeases();
    let failures = 1;
    const replica = replicaLeases(shared, () => (failures-- > 0 ? Promise.reject(new Error('Command timed out')) : undefined));
    const turn = longTurn(new Turns(replica.leases, clock, 'queue_pause_busy'), ['a', 'b'], (t) => t.hold());
    await turn.started;
    await clock.advance(LEASE_MS + 1000);
    expect(await shared.acquire('a', 'another-replica', LEASE_MS, clock.now())).toBe(false);
    turn.done();
    expect(await turn.result).toBe('written');
  });

  it('a turn whose leases were taken from it (Redis lost them) writes nothing more and answers 503', async () => {
    const clock = new ManualClock(T0);
    const shared = new MemoryLeases();
    const replica = replicaLeases(shared);
    const turns = new Turns(replica.leases, clock, 'queue_pause_busy');
    let wrote = false;
    const turn = longTurn(turns, ['a', 'b'], (t) => {
      t.hold();
      wrote = true;
    });
    await turn.started;
    await shared.releaseAll(['a', 'b'], replica.owner());
    expect(await shared.acquire('b', 'another-replica', LEASE_MS, clock.now())).toBe(true);
    await clock.advance(LEASE_MS / 3);
    turn.done();
    await expect(turn.result).rejects.toMatchObject({ status: 503, code: 'queue_pause_busy' });
    expect(wrote).toBe(false);
    // What the other replica took stays its own.
    expect(await shared.acquire('b', 'a-third', LEASE_MS, clock.now())).toBe(false);
    expect(await shared.acquire('a', 'a-third', LEASE_MS, clock.now())).toBe(true);

    // Work that never asks (it wrote already) still cannot end as if it had held its turn.
    const silent = turns.runAll(['c'], async () => {
      await shared.releaseAll(['c'], replica.owner());
      await shared.acquire('c', 'another-replica', LEASE_MS, clock.now());
      await sleepOn(clock, LEASE_MS / 2);
      return 'written';
    });
    silent.catch(() => undefined);
    await clock.advance(0);
    await clock.advance(LEASE_MS / 2);
    await expect(silent).rejects.toMatchObject({ status: 503, code: 'queue_pause_busy' });
  });

  it('a turn whose renewals hang loses its leases when they run out, though the store would renew them later', async () => {
    const clock = new ManualClock(T0);
    const shared = new MemoryLeases();
    // What a Redis that stopped answering does: each call answers only after a while.
    const replica = replicaLeases(shared, (owner) => new Promise((resolve) => clock.after(LEASE_MS, () => resolve(shared.acquireAll(['a'], owner, LEASE_MS, clock.now())))));
    const turn = longTurn(new Turns(replica.leases, clock, 'queue_pause_busy'), ['a'], (t) => t.hold());
    await turn.started;
    await clock.advance(LEASE_MS - 1);
    expect(await shared.acquire('a', 'another-replica', LEASE_MS, clock.now())).toBe(false);
    await clock.advance(1);
    expect(await shared.acquire('a', 'another-replica', 1, clock.now())).toBe(true);
    await clock.advance(LEASE_MS);
    turn.done();
    await expect(turn.result).rejects.toMatchObject({ status: 503, code: 'queue_pause_busy' });
  });

  it('a turn on 2,000 records takes their leases in one store call per attempt, and frees them in one', async () => {
    const clock = new ManualClock(T0);
    const shared = new MemoryLeases();
    const replica = replicaLeases(shared);
    const keys = Array.from({ length: 2000 }, (_, i) => `queue-pause:acme:p${String(i).padStart(4, '0')}`);
    // Another replica's change of one of them is under way: this turn waits for it, holding none.
    expect(await shared.acquire(keys[1500]!, 'another-replica', 60_000, clock.now())).toBe(true);
    const turn = new Turns(replica.leases, clock, 'queue_pause_busy').runAll([...keys].reverse(), async () => 'written');
    await clock.advance(0);
    await clock.advance(25 * 3);
    expect(await shared.acquire(keys[0]!, 'a-third', 1, clock.now())).toBe(true);
    expect(await shared.release(keys[1500]!, 'another-replica')).toBe(true);
    await clock.advance(25);
    expect(await turn).toBe('written');
    expect(replica.calls).toEqual({ acquire: 0, acquireAll: 5, release: 0, releaseAll: 1 });
    expect(await shared.acquireAll(keys, 'another-replica', LEASE_MS, clock.now())).toBe(true);
  });

  it('turns on overlapping records, on one replica or two, all get their turn, one after the other', async () => {
    const clock = new ManualClock(T0);
    const shared = new MemoryLeases();
    const one = new Turns(shared, clock, 'queue_pause_busy');
    const two = new Turns(shared, clock, 'queue_pause_busy');
    const order: string[] = [];
    let inside = 0;
    const work = (name: string) => async () => {
      expect(++inside).toBe(1);
      order.push(name);
      await sleepOn(clock, 100);
      inside--;
      return name;
    };
    const all = Promise.all([
      one.runAll(['a', 'b'], work('first')),
      one.runAll(['b', 'c'], work('second')),
      one.run('c', work('third')),
      two.runAll(['c', 'b', 'a'], work('elsewhere')),
    ]);
    for (let i = 0; i < 100 && order.length < 4; i++) await clock.advance(25);
    await clock.advance(100);
    expect(await all).toEqual(['first', 'second', 'third', 'elsewhere']);
    // Within a replica, in the order they came.
    expect(order.filter((n) => n !== 'elsewhere')).toEqual(['first', 'second', 'third']);
  });
});

function sleepOn(clock: ManualClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.after(ms, resolve));
}
