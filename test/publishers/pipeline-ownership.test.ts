import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import type { Presence } from '../../shared/domain/presence.js';
import type { AriTarget, Target } from '../../shared/domain/target.js';
import { silentLogger } from '../../shared/log/logger.js';
import { EmbeddedStore } from '../../shared/store/embedded/embedded-store.js';
import { MemoryLeases } from '../../shared/store/embedded/memory-leases.js';
import type { LeaseStore } from '../../shared/store/leases.js';
import type { DeliveryLedger } from '../../shared/store/shared-work.js';
import { Metrics } from '../../services/observability/metrics.js';
import { createTargetClient } from '../../services/publishers/http-client.js';
import { PublishPipeline, type SinkFactory } from '../../services/publishers/pipeline.js';
import type { Delivery, Sink } from '../../services/publishers/sink.js';
import { AriSink } from '../../services/publishers/sinks/ari-sink.js';
import { MemoryLedger } from '../support/memory-ledger.js';
import { severableLeases } from '../support/severable-leases.js';
import { eventually, startReceiver, type Receiver } from '../support/receiver.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const LEASE_MS = 9000;
const TARGET = { kind: 'webhook', id: 'hook', tenantId: 'acme', name: 'hook', enabled: true, url: 'https://example.com/hook' } as Target;

class RecordingSink implements Sink {
  delivered: Delivery[] = [];
  adopted: string[] = [];
  /** The version of the state handed with each adoption, when the target holds the current one. */
  adoptedStates: Array<[string, number | undefined]> = [];
  closed = false;
  /** What the pipeline said the target is from now on. */
  closedWith: Target | undefined | 'open' = 'open';
  /** Whether the pipeline asked it to take what it published off the target. */
  withdrew: boolean | undefined;
  adopt(personId: string, _person?: unknown, _address?: string, presence?: Presence): void {
    this.adopted.push(personId);
    this.adoptedStates.push([personId, presence?.version]);
  }
  async deliver(d: Delivery): Promise<void> {
    this.delivered.push(d);
  }
  async close(next?: Target, withdraw?: boolean): Promise<void> {
    this.closed = true;
    this.closedWith = next;
    this.withdrew = withdraw;
  }
}

/** `shared`, each acquisition reaching it `delayMs()` after it was asked (undefined: at once). */
function lateLeases(shared: MemoryLeases, clock: ManualClock, delayMs: () => number | undefined): LeaseStore {
  return {
    ...shared,
    acquire: (...args) => {
      const ms = delayMs();
      return ms === undefined ? shared.acquire(...args) : new Promise((resolve, reject) => clock.after(ms, () => shared.acquire(...args).then(resolve, reject)));
    },
    holder: (...args) => shared.holder(...args),
    release: (...args) => shared.release(...args),
    acquireAll: (...args) => shared.acquireAll(...args),
    releaseAll: (...args) => shared.releaseAll(...args),
  };
}

const noLedger: DeliveryLedger = { delivered: async () => new Map(), record: async () => {}, readdress: async () => {} };

/** The embedded store plus the tenant, two people with a state each, and one webhook target. */
async function world(clock: ManualClock) {
  const store = new EmbeddedStore(':memory:');
  await store.directory.write([
    { op: 'put', collection: 'tenants', doc: { id: 'acme', tenantId: '*', name: 'acme' } as never },
    { op: 'put', collection: 'people', doc: { id: 'alice', tenantId: 'acme', name: 'Alice', timeZone: 'UTC', teams: [], skills: {}, sensitive: false } as never },
    { op: 'put', collection: 'people', doc: { id: 'bob', tenantId: 'acme', name: 'Bob', timeZone: 'UTC', teams: [], skills: {}, sensitive: false } as never },
    { op: 'put', collection: 'targets', doc: TARGET },
  ]);
  for (const personId of ['alice', 'bob']) await available(store, clock, personId);
  return store;
}

/** Gives the person a state: available, version 5. */
async function available(store: EmbeddedStore, clock: ManualClock, personId: string): Promise<void> {
  await store.state.update('acme', personId, () => ({
    next: { signals: [], presence: { personId, availability: 'available', activity: 'available', routable: true, endpoints: [], explanation: [], since: clock.now(), version: 5 } },
    result: undefined,
  }));
}

/**
 * `sinks` collects the recording sinks the pipeline opens, or makes the pipeline's sinks itself. Without
 * `leases`, one process publishes every target, with `ledger` if given (the embedded store's).
 */
function pipeline(store: EmbeddedStore, clock: ManualClock, leases: LeaseStore | undefined, replica: string, sinks: RecordingSink[] | SinkFactory, ledger?: DeliveryLedger) {
  const deps = {
    store,
    feed: store.feed,
    clock,
    log: silentLogger,
    metrics: new Metrics(false),
    makeSink:
      typeof sinks === 'function'
        ? sinks
        : async () => {
            const s = new RecordingSink();
            sinks.push(s);
            return s;
          },
    runner: { defaultCoalesceMs: 0, retryBaseMs: 100, retryCapMs: 1000, failingAfter: 3, random: () => 0.5 },
  };
  return new PublishPipeline(leases ? { ...deps, ledger: ledger ?? noLedger, ownership: { leases, replica, leaseMs: LEASE_MS } } : { ...deps, ledger });
}

/** A world whose target two replicas take turns at, sharing leases and a ledger. */
async function handedOver() {
  const clock = new ManualClock(T0);
  return { clock, store: await world(clock), leases: new MemoryLeases(), ledger: new MemoryLedger() };
}

describe('publish pipeline with several replicas', () => {
  const open: PublishPipeline[] = [];
  afterEach(async () => {
    for (const p of open.splice(0)) await p.close();
  });

  it('a takeover whose re-send of current states failed half way is tried again, so nobody is left out', async () => {
    const clock = new ManualClock(T0);
    const store = await world(clock);
    const read = store.state.read.bind(store.state);
    let failures = 1;
    store.state.read = async (tenantId, personId) => {
      if (personId === 'bob' && failures-- > 0) throw new Error('the store is unavailable');
      return read(tenantId, personId);
    };
    const sinks: RecordingSink[] = [];
    const p = pipeline(store, clock, new MemoryLeases(), 'a', sinks);
    open.push(p);
    await p.start();
    await clock.advance(LEASE_MS);
    const got = new Set(sinks.flatMap((s) => (s.closed ? [] : s.delivered.map((d) => d.personId))));
    expect(got).toEqual(new Set(['alice', 'bob']));
  });

  it('a replica that cannot renew its lease stops publishing by the time the lease runs out, even when Redis hangs', async () => {
    const clock = new ManualClock(T0);
    const store = await world(clock);
    const shared = new MemoryLeases();
    let hanging = false;
    // What a Redis that stopped answering does to one replica: each call fails after the 5 s command timeout.
    const cut: LeaseStore = {
      acquire: (...args) => (hanging ? new Promise((_, reject) => clock.after(5000, () => reject(new Error('Command timed out')))) : shared.acquire(...args)),
      release: (...args) => shared.release(...args),
      holder: (...args) => shared.holder(...args),
      acquireAll: (...args) => shared.acquireAll(...args),
      releaseAll: (...args) => shared.releaseAll(...args),
    };
    const sinksA: RecordingSink[] = [];
    const a = pipeline(store, clock, cut, 'a', sinksA);
    open.push(a);
    await a.start();
    expect(sinksA).toHaveLength(1);
    hanging = true;
    // From the lease's expiry on, any other replica may take the target over.
    await clock.advanceTo(T0 + LEASE_MS - 1);
    expect(sinksA[0]!.closed).toBe(false);
    await clock.advanceTo(T0 + LEASE_MS);
    expect(await shared.acquire('publish:acme:hook', 'b', LEASE_MS, clock.now())).toBe(true);
    expect(sinksA[0]!.closed).toBe(true);
  });

  describe('a renewal still under way when the previous one runs out (Redis answering slowly)', () => {
    const SECOND = { ...TARGET, id: 'hook2', name: 'hook 2' } as Target;
    /**
     * Replica `a` publishes two targets. From `slow` on, Redis takes the next lease of `hook` `hookMs` to confirm (it
     * renewed it when asked), and never answers for `hook2`, nor for `hook` after that (each call fails after the 5 s
     * command timeout).
     */
    async function slowRenewal(hookMs: number) {
      const clock = new ManualClock(T0);
      const store = await world(clock);
      await store.directory.write([{ op: 'put', collection: 'targets', doc: SECOND }]);
      const shared = new MemoryLeases();
      let slow = false;
      let hookRenewals = 0;
      const late = <T>(ms: number, answer: () => Promise<T>) => new Promise<T>((resolve, reject) => clock.after(ms, () => answer().then(resolve, reject)));
      const leases: LeaseStore = {
        ...shared,
        acquire: (key, ...rest) => {
          if (!slow) return shared.acquire(key, ...rest);
          if (key === 'publish:acme:hook2' || hookRenewals++ > 0) return late(5000, () => Promise.reject(new Error('Command timed out')));
          const renewed = shared.acquire(key, ...rest);
          return late(hookMs, () => renewed);
        },
        holder: (...args) => shared.holder(...args),
        release: (...args) => shared.release(...args),
        acquireAll: (...args) => shared.acquireAll(...args),
        releaseAll: (...args) => shared.releaseAll(...args),
      };
      const sinks = new Map<string, RecordingSink[]>();
      const a = pipeline(store, clock, leases, 'a', async (t) => {
        const s = new RecordingSink();
        sinks.set(t.id, [...(sinks.get(t.id) ?? []), s]);
        return s;
      });
      open.push(a);
      await a.start();
      slow = true;
      /** The publisher of `id` open now, if any. */
      const running = (id: string) => (sinks.get(id) ?? []).filter((s) => !s.closed);
      /** Closes `a`, letting the renewal under way time out. */
      const stop = async () => {
        const closing = a.close();
        await clock.advance(5000);
        await closing;
      };
      return { clock, shared, running, sinks, stop };
    }

    it('a target whose lease it renewed keeps its publisher past the previous lease, while one it could not renew stops', async () => {
      // The renewal at a third of the lease confirms hook's at once, and hangs on hook2's past the previous lease.
      const { clock, running, sinks, stop } = await slowRenewal(0);
      await clock.advanceTo(T0 + LEASE_MS / 3);
      await clock.advanceTo(T0 + LEASE_MS);
      expect(running('hook2')).toEqual([]);
      // hook's lease runs to T0 + 4/3 of it: its publisher goes on, the same one (nothing dropped, nothing sent again).
      expect(sinks.get('hook')).toHaveLength(1);
      expect(running('hook')).toHaveLength(1);
      await stop();
    });

    it('a renewal confirmed after the previous lease ran out publishes no longer than the renewed lease, though the next never ends', async () => {
      // hook's renewal is confirmed 6.5 s after it was asked, past the previous lease; the next hangs for good, as hook2's do.
      const { clock, shared, running, stop } = await slowRenewal(6500);
      await clock.advanceTo(T0 + LEASE_MS / 3);
      await clock.advanceTo(T0 + LEASE_MS);
      expect(running('hook')).toEqual([]);
      await clock.advanceTo(T0 + LEASE_MS / 3 + 6500);
      expect(running('hook')).toHaveLength(1);
      // The lease renewed when asked (a third of the way) runs out at 4/3 of it: another replica may take hook then.
      await clock.advanceTo(T0 + (LEASE_MS * 4) / 3);
      expect(await shared.acquire('publish:acme:hook', 'b', LEASE_MS, clock.now())).toBe(true);
      expect(running('hook')).toEqual([]);
      await stop();
    });
  });

  it('a publisher whose opening outlasts the lease (Redis slow to read the ledger) sends nothing once another replica may own the target', async () => {
    const { clock, store, leases, ledger } = await handedOver();
    // Replica a's first read of the ledger, made at once, is answered only past its lease (which no renewal extends:
    // claims wait for this one).
    const slow: DeliveryLedger = {
      delivered: async () => {
        const read = await ledger.delivered();
        return new Promise((resolve) => clock.at(T0 + LEASE_MS + 1000, () => resolve(read)));
      },
      record: (...args) => ledger.record(...args),
      readdress: (...args) => ledger.readdress(...args),
    };
    const sinksA: RecordingSink[] = [];
    const a = pipeline(store, clock, leases, 'a', sinksA, slow);
    open.push(a);
    void a.start();
    await clock.advance(0);
    expect(sinksA).toHaveLength(1);
    await clock.advanceTo(T0 + LEASE_MS);
    const sinksB: RecordingSink[] = [];
    const b = pipeline(store, clock, leases, 'b', sinksB, ledger);
    open.push(b);
    await b.start();
    expect(sinksB[0]!.delivered.map((d) => d.personId).sort()).toEqual(['alice', 'bob']);
    await clock.advanceTo(T0 + LEASE_MS + 1000);
    // b publishes the target now: a's late opening must not send everyone's state beside it.
    expect(sinksA.flatMap((s) => s.delivered)).toEqual([]);
    expect(sinksA.every((s) => s.closed)).toBe(true);
  });

  it('a publisher whose re-send of current states outlasts the lease (Redis slow to read one) sends no more of them', async () => {
    const { clock, store, leases } = await handedOver();
    // Replica a's read of bob's state is answered only past its lease; alice's went out before.
    const read = store.state.read.bind(store.state);
    let slow = true;
    store.state.read = async (tenantId, personId) => {
      const state = await read(tenantId, personId);
      if (personId !== 'bob' || !slow) return state;
      slow = false;
      return new Promise((resolve) => clock.at(T0 + LEASE_MS + 1000, () => resolve(state)));
    };
    const sinksA: RecordingSink[] = [];
    const a = pipeline(store, clock, leases, 'a', sinksA);
    open.push(a);
    void a.start();
    await clock.advance(0);
    await clock.advanceTo(T0 + LEASE_MS + 1000);
    // (A claim after that takes the lease anew, nobody having taken it: a publisher of its own then.)
    expect(sinksA[0]!.delivered.map((d) => d.personId)).toEqual(['alice']);
    expect(sinksA[0]!.closed).toBe(true);
  });

  it('a renewal Redis makes only after the replica closed is released at once, so another replica need not wait for the lease to run out', async () => {
    const clock = new ManualClock(T0);
    const store = await world(clock);
    const shared = new MemoryLeases();
    let slow = false;
    // From `slow` on, each acquisition reaches Redis 5 s after it was asked.
    const leases = lateLeases(shared, clock, () => (slow ? 5000 : undefined));
    const a = pipeline(store, clock, leases, 'a', []);
    await a.start();
    slow = true;
    await clock.advanceTo(T0 + LEASE_MS / 3);
    // Closed (its lease released) while the renewal is on its way: Redis takes it after that.
    const closing = a.close();
    await clock.advance(10);
    await closing;
    expect(await shared.holder('publish:acme:hook', clock.now())).toBeUndefined();
    await clock.advance(5000);
    expect(await shared.acquire('publish:acme:hook', 'b', LEASE_MS, clock.now())).toBe(true);
  });

  it('a lease Redis confirms while the target is still being handed over (its old publisher closing), then the replica closes: released at once', async () => {
    const clock = new ManualClock(T0);
    const store = await world(clock);
    const shared = new MemoryLeases();
    let slow = false;
    // From `slow` on, Redis confirms an acquisition only once the previous lease ran out (at LEASE_MS + 1 s).
    const leases = lateLeases(shared, clock, () => (slow ? T0 + LEASE_MS + 1000 - clock.now() : undefined));
    // The publisher closed when its lease ran out takes 1.5 s to (its last requests).
    const a = pipeline(store, clock, leases, 'a', async () => {
      const s = new RecordingSink();
      const close = s.close.bind(s);
      s.close = (...args) => new Promise<void>((resolve) => clock.after(1500, () => void close(...args).then(resolve)));
      return s;
    });
    await a.start();
    slow = true;
    await clock.advanceTo(T0 + LEASE_MS / 3);
    await clock.advanceTo(T0 + LEASE_MS + 1000);
    // The renewal confirmed, its turn waits behind that closing; the replica stops meanwhile.
    const closing = a.close();
    await clock.advance(1000);
    await closing;
    // Long before the renewed lease (asked at LEASE_MS / 3) runs out.
    expect(clock.now()).toBeLessThan(T0 + LEASE_MS / 3 + LEASE_MS);
    expect(await shared.holder('publish:acme:hook', clock.now())).toBeUndefined();
  });

  it("a target whose publisher is slow to start (DNS, a server that does not answer) holds no other target's lease renewal", async () => {
    const clock = new ManualClock(T0);
    const store = await world(clock);
    await store.directory.write([{ op: 'put', collection: 'targets', doc: { ...TARGET, id: 'hook2', name: 'hook 2' } as Target }]);
    const leases = new MemoryLeases();
    const sinks = new Map<string, RecordingSink>();
    // hook's publisher takes 30 s to make, which is past both leases.
    const a = pipeline(store, clock, leases, 'a', async (t) => {
      if (t.id === 'hook') await new Promise<void>((resolve) => clock.after(30_000, () => resolve()));
      const s = new RecordingSink();
      sinks.set(t.id, s);
      return s;
    });
    void a.start();
    await clock.advance(0);
    await clock.advanceTo(T0 + LEASE_MS);
    // hook2's lease was renewed meanwhile, its publisher goes on; hook's was not (its claim is under way): b may take hook.
    expect(sinks.get('hook2')?.closed).toBe(false);
    expect(await leases.acquire('publish:acme:hook2', 'b', LEASE_MS, clock.now())).toBe(false);
    expect(await leases.acquire('publish:acme:hook', 'b', LEASE_MS, clock.now())).toBe(true);
    const closing = a.close();
    await clock.advance(30_000);
    await closing;
  });

  it('a change whose person could not be looked up (the store failed for a moment) is still published', async () => {
    const clock = new ManualClock(T0);
    const store = await world(clock);
    const sinks: RecordingSink[] = [];
    const p = pipeline(store, clock, undefined, 'a', sinks);
    open.push(p);
    await p.start();
    const get = store.directory.get.bind(store.directory);
    let failures = 1;
    store.directory.get = (async (collection, tenantId, id) => {
      if (collection === 'people' && failures-- > 0) throw new Error('the store is unavailable');
      return get(collection, tenantId, id);
    }) as typeof store.directory.get;
    await store.state.update('acme', 'alice', () => ({
      next: { signals: [], presence: { personId: 'alice', availability: 'busy', activity: 'in-meeting', routable: false, endpoints: [], explanation: [], since: clock.now(), version: 6 } },
      result: undefined,
      emit: true,
    }));
    for (let i = 0; i < 5; i++) await clock.advance(1000);
    expect(sinks[0]!.delivered.filter((d) => d.personId === 'alice').map((d) => d.version)).toEqual([5, 6]);
  });

  it("tells a publisher whether its target goes on (handed over, reconfigured) or not (deleted, disabled)", async () => {
    const clock = new ManualClock(T0);
    const store = await world(clock);
    const leases = new MemoryLeases();
    const sinks: RecordingSink[] = [];
    const a = pipeline(store, clock, leases, 'a', sinks);
    open.push(a);
    await a.start();
    // Another replica holds the lease once this one's runs out: handed over as it is.
    clock.advance(0);
    const expired = sinks[0]!;
    await leases.release('publish:acme:hook', 'a');
    await leases.acquire('publish:acme:hook', 'b', LEASE_MS * 10, clock.now());
    await clock.advance(LEASE_MS);
    expect(expired.closedWith).toEqual(TARGET);
    await leases.release('publish:acme:hook', 'b');
    // Disabled, then deleted.
    await store.directory.write([{ op: 'put', collection: 'targets', doc: { ...TARGET, enabled: true, name: 'renamed' } as Target }]);
    await clock.advance(LEASE_MS);
    const running = sinks.at(-1)!;
    expect(running.closedWith).toBe('open');
    await store.directory.write([{ op: 'put', collection: 'targets', doc: { ...TARGET, enabled: false } as Target }]);
    await clock.advance(LEASE_MS);
    expect(running.closedWith).toMatchObject({ id: 'hook', enabled: false });
    await store.directory.write([{ op: 'put', collection: 'targets', doc: TARGET }]);
    await clock.advance(LEASE_MS);
    const last = sinks.at(-1)!;
    expect(last.closedWith).toBe('open');
    await store.directory.write([{ op: 'delete', collection: 'targets', tenantId: 'acme', id: 'hook' }]);
    // The next renewal (a third of the lease) finds it gone, well before the lease would run out.
    await clock.advance(LEASE_MS / 3);
    expect(last.closed).toBe(true);
    expect(last.closedWith).toBeUndefined();
  });

  it('withdraws what a publisher published when no ledger lets another continue it (an edit or a stop), and hands it over as it is when one does', async () => {
    const clock = new ManualClock(T0);
    const alone: RecordingSink[] = [];
    const a = pipeline(await world(clock), clock, undefined, 'a', alone);
    await a.start();
    await a.reload('acme', 'hook');
    await a.close();
    expect(alone.map((s) => s.withdrew)).toEqual([true, true]);
    const shared: RecordingSink[] = [];
    const b = pipeline(await world(clock), clock, new MemoryLeases(), 'b', shared);
    await b.start();
    await b.close();
    expect(shared.map((s) => s.withdrew)).toEqual([false]);
  });

  it("one process with a ledger (the embedded store) hands its publications to the next runner on an edit and to its next start on a stop, and withdraws a disabled target's", async () => {
    const clock = new ManualClock(T0);
    const store = await world(clock);
    const ledger = new MemoryLedger();
    const sinks: RecordingSink[] = [];
    const a = pipeline(store, clock, undefined, 'a', sinks, ledger);
    await a.start();
    await clock.advance(0);
    expect([...ledger.entries.keys()].sort()).toEqual(['alice', 'bob']);
    const edited = { ...TARGET, url: 'https://example.com/new' } as Target;
    await store.directory.write([{ op: 'put', collection: 'targets', doc: edited }]);
    await a.reload('acme', 'hook');
    await clock.advance(0);
    // As a replica taking over: states rendered for the target's previous configuration are sent again.
    expect(sinks[1]!.delivered.map((d) => [d.personId, d.version, d.rerender !== undefined])).toEqual([
      ['alice', 5, true],
      ['bob', 5, true],
    ]);
    await store.directory.write([{ op: 'put', collection: 'targets', doc: { ...edited, enabled: false } as Target }]);
    await a.reload('acme', 'hook');
    await store.directory.write([{ op: 'put', collection: 'targets', doc: edited }]);
    await a.reload('acme', 'hook');
    await clock.advance(0);
    await a.close();
    expect(sinks.map((s) => s.withdrew)).toEqual([false, true, false]);
    // The next start continues what the target holds, and sends nothing it already has.
    const b = pipeline(store, clock, undefined, 'a', sinks, ledger);
    await b.start();
    await clock.advance(0);
    expect(sinks[3]!.adopted.sort()).toEqual(['alice', 'bob']);
    expect(sinks[3]!.delivered).toEqual([]);
    await b.close();
  });

  describe('a takeover sends what the previous owner acknowledged with an older directory', () => {
    /** Replica `a` publishes everyone and stops; `edit` changes the directory while nobody publishes; `b` takes over. */
    async function takeover(target: Target, edit: (store: EmbeddedStore) => Promise<void>, people: { alice?: object } = {}) {
      const clock = new ManualClock(T0);
      const store = await world(clock);
      await store.directory.write([
        { op: 'put', collection: 'targets', doc: target },
        { op: 'put', collection: 'people', doc: { id: 'alice', tenantId: 'acme', name: 'Alice', timeZone: 'UTC', teams: [], skills: {}, sensitive: false, ...people.alice } as never },
      ]);
      const leases = new MemoryLeases();
      const ledger = new MemoryLedger();
      const sinksA: RecordingSink[] = [];
      const a = pipeline(store, clock, leases, 'a', sinksA, ledger);
      await a.start();
      await a.close();
      await edit(store);
      await clock.advance(1);
      const sinksB: RecordingSink[] = [];
      const b = pipeline(store, clock, leases, 'b', sinksB, ledger);
      open.push(b);
      await b.start();
      const sent = sinksB.flatMap((s) => s.delivered);
      await b.close();
      open.splice(open.indexOf(b), 1);
      // A third owner finds everything acknowledged.
      const sinksC: RecordingSink[] = [];
      const c = pipeline(store, clock, leases, 'c', sinksC, ledger);
      open.push(c);
      await c.start();
      return {
        before: sinksA.flatMap((s) => s.delivered),
        sent,
        adopted: sinksB.flatMap((s) => s.adopted),
        adoptedStates: sinksB.flatMap((s) => s.adoptedStates),
        third: sinksC.flatMap((s) => s.delivered),
      };
    }

    it('re-renders the state of someone marked sensitive meanwhile, same version, and nobody else', async () => {
      const { before, sent, adopted, third } = await takeover(TARGET, (store) =>
        store.directory.write([{ op: 'put', collection: 'people', doc: { id: 'alice', tenantId: 'acme', name: 'Alice', timeZone: 'UTC', teams: [], skills: {}, sensitive: true } as never }]),
      );
      expect(before.map((d) => d.personId).sort()).toEqual(['alice', 'bob']);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({ personId: 'alice', version: 5, person: { sensitive: true } });
      expect(sent[0]!.rerender).toBeGreaterThan(T0);
      // Bob's state on the target was rendered from his record as it stands: the new owner's publisher adopts it.
      expect(adopted).toEqual(['bob']);
      expect(third).toEqual([]);
    });

    it('withdraws someone who left the teams of a team target meanwhile', async () => {
      const target = { ...TARGET, teams: ['sales'] } as Target;
      const { before, sent, third } = await takeover(
        target,
        (store) => store.directory.write([{ op: 'put', collection: 'people', doc: { id: 'alice', tenantId: 'acme', name: 'Alice', timeZone: 'UTC', teams: [], skills: {}, sensitive: false } as never }]),
        { alice: { teams: ['sales'] } },
      );
      expect(before.map((d) => d.personId)).toEqual(['alice']);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({ personId: 'alice', version: 5, outOfScope: true });
      expect(sent[0]!.presence).toBeUndefined();
      expect(third).toEqual([]);
    });

    it('removes someone deleted meanwhile', async () => {
      const { sent, third } = await takeover(TARGET, (store) => store.directory.write([{ op: 'delete', collection: 'people', tenantId: 'acme', id: 'bob' }]));
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({ personId: 'bob' });
      expect(sent[0]!.presence).toBeUndefined();
      expect(sent[0]!.outOfScope).toBeUndefined();
      expect(sent[0]!.version).toBeGreaterThan(5);
      expect(third).toEqual([]);
    });

    it('sends everyone again to a target reconfigured meanwhile (a new URL holds nothing yet)', async () => {
      const { sent, third } = await takeover(TARGET, (store) => store.directory.write([{ op: 'put', collection: 'targets', doc: { ...TARGET, url: 'https://example.com/new-hook' } as Target }]));
      expect(sent.map((d) => [d.personId, d.version, d.presence?.availability]).sort()).toEqual([
        ['alice', 5, 'available'],
        ['bob', 5, 'available'],
      ]);
      for (const d of sent) expect(d.rerender).toBeGreaterThan(T0);
      expect(third).toEqual([]);
    });

    it('sends nothing again when the directory did not change', async () => {
      const { before, sent, adopted } = await takeover(TARGET, async () => {});
      expect(before).toHaveLength(2);
      expect(sent).toEqual([]);
      expect(adopted.sort()).toEqual(['alice', 'bob']);
    });

    it('hands the publisher the state the target holds only when it is the current one (a SIP refresh re-sends it)', async () => {
      const { sent, adoptedStates } = await takeover(TARGET, async (store) => {
        await store.state.update('acme', 'alice', (state) => ({ next: { ...state, presence: { ...state.presence!, availability: 'away', activity: 'away', version: 6 } }, result: undefined }));
      });
      expect(sent.map((d) => [d.personId, d.version])).toEqual([['alice', 6]]);
      expect(adoptedStates.sort()).toEqual([
        ['alice', undefined],
        ['bob', 5],
      ]);
    });
  });

  it("records where a takeover published afresh what could no longer be kept up (a lapsed SIP publication), over the previous owner's entry of the same version", async () => {
    const { clock, store, leases, ledger } = await handedOver();
    /** Each replica's publications are at an address of its own; the first one's have lapsed. */
    const sinks = (replica: string): SinkFactory => async () =>
      Object.assign(new RecordingSink(), { addressOf: (d: Delivery) => `${replica}:${d.personId}`, lapsed: (address?: string) => address?.startsWith('a:') ?? true });
    const a = pipeline(store, clock, leases, 'a', sinks('a'), ledger);
    await a.start();
    await eventually(() => expect(ledger.entries.get('alice')?.address).toBe('a:alice'));
    await a.close();
    await clock.advance(1);
    const b = pipeline(store, clock, leases, 'b', sinks('b'), ledger);
    open.push(b);
    await b.start();
    await eventually(() => expect([...ledger.entries].map(([id, r]) => [id, r.version, r.address]).sort()).toEqual([
      ['alice', 5, 'b:alice'],
      ['bob', 5, 'b:bob'],
    ]));
  });

  it('a graceful handover lets the deliveries under way end and records them, so the next owner does not send them again', async () => {
    const { clock, store, leases, ledger } = await handedOver();
    const sinksA: RecordingSink[] = [];
    const a = pipeline(store, clock, leases, 'a', sinksA, ledger);
    await a.start();
    await eventually(() => expect([...ledger.entries.keys()].sort()).toEqual(['alice', 'bob']));
    // Alice's next state is on its way when the replica stops; the target answers only after that.
    let answer!: () => void;
    sinksA[0]!.deliver = async (d) => {
      sinksA[0]!.delivered.push(d);
      await new Promise<void>((r) => (answer = r));
    };
    await store.state.update('acme', 'alice', (st) => ({ next: { signals: [], presence: { ...st.presence!, activity: 'away', availability: 'away', version: 6 } }, result: undefined, emit: true }));
    await eventually(() => expect(sinksA[0]!.delivered.at(-1)?.version).toBe(6));
    const closing = a.close();
    // Whatever changes meanwhile waits for the next owner.
    await store.state.update('acme', 'bob', (st) => ({ next: { signals: [], presence: { ...st.presence!, activity: 'away', availability: 'away', version: 6 } }, result: undefined, emit: true }));
    answer();
    await closing;
    expect(sinksA[0]!.delivered.map((d) => [d.personId, d.version])).toEqual([['alice', 5], ['bob', 5], ['alice', 6]]);
    expect(ledger.entries.get('alice')?.version).toBe(6);
    await clock.advance(1);
    const sinksB: RecordingSink[] = [];
    const b = pipeline(store, clock, leases, 'b', sinksB, ledger);
    open.push(b);
    await b.start();
    await eventually(() => expect(sinksB[0]?.delivered.map((d) => [d.personId, d.version])).toEqual([['bob', 6]]));
  });

  it('a graceful handover waits for a delivery that never answers at most a third of the lease, and does not record it', async () => {
    const clock = new ManualClock(T0);
    const store = await world(clock);
    const ledger = new MemoryLedger();
    const sinks: RecordingSink[] = [];
    const a = pipeline(store, clock, new MemoryLeases(), 'a', sinks, ledger);
    await a.start();
    await eventually(() => expect([...ledger.entries.keys()].sort()).toEqual(['alice', 'bob']));
    sinks[0]!.deliver = (d) => {
      sinks[0]!.delivered.push(d);
      return new Promise<void>(() => {});
    };
    await store.state.update('acme', 'alice', (st) => ({ next: { signals: [], presence: { ...st.presence!, activity: 'away', availability: 'away', version: 6 } }, result: undefined, emit: true }));
    await eventually(() => expect(sinks[0]!.delivered.at(-1)?.version).toBe(6));
    let closed = false;
    const timers = clock.timers;
    const closing = a.close().then(() => (closed = true));
    // Its lease timers cancelled, then the drain's bound set.
    await eventually(() => expect(clock.timers).toBe(timers - 1));
    await clock.advance(LEASE_MS / 3 - 1);
    expect(closed).toBe(false);
    await clock.advance(1);
    await closing;
    expect(ledger.entries.get('alice')?.version).toBe(5);
  });

  it("leaves nothing in the ledger of someone deleted while nobody published, though what the target held of them lapsed", async () => {
    const { clock, store, leases, ledger } = await handedOver();
    const lapsing: SinkFactory = async () => Object.assign(new RecordingSink(), { addressOf: (d: Delivery) => (d.presence ? 'held' : undefined), lapsed: () => true });
    const a = pipeline(store, clock, leases, 'a', lapsing, ledger);
    await a.start();
    await eventually(() => expect([...ledger.entries.keys()].sort()).toEqual(['alice', 'bob']));
    await a.close();
    await store.directory.write([{ op: 'delete', collection: 'people', tenantId: 'acme', id: 'bob' }]);
    await clock.advance(1);
    const b = pipeline(store, clock, leases, 'b', lapsing, ledger);
    open.push(b);
    await b.start();
    await eventually(() => expect([...ledger.entries.keys()]).toEqual(['alice']));
  });

  it('a replica that took a scoped target over tells it of the deletion of whom the previous owner delivered, and of nobody else', async () => {
    const clock = new ManualClock(T0);
    const store = await world(clock);
    await store.directory.write([
      { op: 'put', collection: 'targets', doc: { ...TARGET, teams: ['sales'] } as Target },
      { op: 'put', collection: 'people', doc: { id: 'alice', tenantId: 'acme', name: 'Alice', timeZone: 'UTC', teams: ['sales'], skills: {}, sensitive: false } as never },
      { op: 'put', collection: 'people', doc: { id: 'carol', tenantId: 'acme', name: 'Carol', timeZone: 'UTC', teams: ['sales'], skills: {}, sensitive: false } as never },
    ]);
    await available(store, clock, 'carol');
    const leases = new MemoryLeases();
    const ledger = new MemoryLedger();
    const sinksA: RecordingSink[] = [];
    const a = pipeline(store, clock, leases, 'a', sinksA, ledger);
    await a.start();
    await eventually(() => expect([...ledger.entries.keys()].sort()).toEqual(['alice', 'carol']));
    // Carol leaves the target's teams: her withdrawal is acknowledged before the handover.
    await store.directory.write([{ op: 'put', collection: 'people', doc: { id: 'carol', tenantId: 'acme', name: 'Carol', timeZone: 'UTC', teams: [], skills: {}, sensitive: false } as never }]);
    await store.state.update('acme', 'carol', (state) => ({ next: state, result: undefined, emit: true, cause: 'directory' }));
    await eventually(() => expect([...ledger.entries.keys()]).toEqual(['alice']));
    await a.close();
    await clock.advance(1);
    const sinksB: RecordingSink[] = [];
    const b = pipeline(store, clock, leases, 'b', sinksB, ledger);
    open.push(b);
    await b.start();
    for (const personId of ['alice', 'bob', 'carol']) {
      await store.directory.write([{ op: 'delete', collection: 'people', tenantId: 'acme', id: personId }]);
      await store.state.remove('acme', personId);
    }
    await clock.advance(0);
    await eventually(() => expect(sinksB.flatMap((s) => s.delivered).map((d) => [d.personId, d.presence === undefined, d.outOfScope])).toEqual([['alice', true, undefined]]));
    await clock.advance(1000);
    expect(sinksB.flatMap((s) => s.delivered).map((d) => d.personId)).toEqual(['alice']);
  });

  it('keeps the entry of someone deleted whose removal the target has not taken yet (left to the publisher), so the next owner finishes it', async () => {
    const { clock, store, leases, ledger } = await handedOver();
    const sinks: RecordingSink[] = [];
    // A SIP publication's removal at a server the target moved away from: the publisher goes on with it, and says where.
    const removing: SinkFactory = async () => {
      const s = Object.assign(new RecordingSink(), { addressOf: (d: Delivery) => (d.presence ? 'held' : 'removing'), adoptedAt: [] as Array<string | undefined> });
      s.adopt = (personId: string, _person?: unknown, address?: string) => void s.adoptedAt.push(`${personId} ${address}`);
      sinks.push(s);
      return s;
    };
    const a = pipeline(store, clock, leases, 'a', removing, ledger);
    await a.start();
    await eventually(() => expect([...ledger.entries.keys()].sort()).toEqual(['alice', 'bob']));
    await store.directory.write([{ op: 'delete', collection: 'people', tenantId: 'acme', id: 'bob' }]);
    await store.state.update('acme', 'bob', () => ({ next: { signals: [] }, result: undefined, emit: true }));
    await eventually(() => expect(ledger.entries.get('bob')?.address).toBe('removing'));
    await a.close();
    await clock.advance(1);
    const b = pipeline(store, clock, leases, 'b', removing, ledger);
    open.push(b);
    await b.start();
    expect((sinks.at(-1) as RecordingSink & { adoptedAt: string[] }).adoptedAt).toEqual(['alice held', 'bob removing']);
    await eventually(() => expect(sinks.at(-1)!.delivered.map((d) => [d.personId, d.presence === undefined])).toContainEqual(['bob', true]));
  });

  describe('a takeover of an Asterisk target resets the device the previous owner set, though edited while nobody published', () => {
    let receiver: Receiver;
    beforeAll(async () => {
      receiver = await startReceiver();
    });
    afterAll(() => receiver.close());

    const puts = () => receiver.received.map((r) => [r.path, r.query.deviceState]);
    const ari: SinkFactory = async (t) => new AriSink(t as AriTarget, 'pw', createTargetClient({ allowPrivate: true, timeoutMs: 5000 }));
    const person = (id: string, extension: string) =>
      ({ op: 'put', collection: 'people', doc: { id, tenantId: 'acme', name: id, extension, timeZone: 'UTC', teams: [], skills: {}, sensitive: false } }) as never;

    /**
     * Replica `a` sets alice's device (extension 1001) and bob's (2001), then stops: it hands the target over,
     * or it can no longer reach the leases and its lease runs out. `edit` changes the directory while nobody
     * publishes; `b` takes over. `oldEntries`: the ledger holds what replicas wrote before addresses were kept.
     */
    async function ariTakeover(stop: 'handover' | 'expiry', edit: (store: EmbeddedStore) => Promise<unknown>, oldEntries = false) {
      receiver.received.length = 0;
      const clock = new ManualClock(T0);
      const store = await world(clock);
      await store.directory.write([
        { op: 'delete', collection: 'targets', tenantId: 'acme', id: 'hook' },
        { op: 'put', collection: 'targets', doc: { kind: 'ari', id: 'ast', tenantId: 'acme', name: 'Asterisk', enabled: true, baseUrl: receiver.url, username: 'u', deviceName: 'Stasis:p-{extension}' } as AriTarget },
        person('alice', '1001'),
        person('bob', '2001'),
      ]);
      const shared = new MemoryLeases();
      const cut = severableLeases(shared);
      const ledger = new MemoryLedger();
      const a = pipeline(store, clock, cut.leases, 'a', ari, ledger);
      open.push(a);
      await a.start();
      await eventually(() => expect([...ledger.entries.values()].map((r) => r.address).sort()).toEqual(['Stasis:p-1001', 'Stasis:p-2001']));
      const before = puts().sort();
      if (stop === 'handover') await a.close();
      else {
        cut.sever();
        await clock.advanceTo(T0 + LEASE_MS);
      }
      if (oldEntries) for (const [id, r] of ledger.entries) ledger.entries.set(id, { version: r.version, mark: r.mark, rendering: r.rendering! });
      receiver.received.length = 0;
      await edit(store);
      await clock.advance(1);
      const b = pipeline(store, clock, shared, 'b', ari, ledger);
      open.push(b);
      await b.start();
      return { before, store, ledger };
    }

    it.each(['handover', 'expiry'] as const)('sets the new device of someone given a new extension meanwhile and resets the old one (%s)', async (stop) => {
      const { before, ledger } = await ariTakeover(stop, (store) => store.directory.write([person('alice', '1002')]));
      expect(before).toEqual([
        ['/ari/deviceStates/Stasis:p-1001', 'NOT_INUSE'],
        ['/ari/deviceStates/Stasis:p-2001', 'NOT_INUSE'],
      ]);
      await receiver.waitFor(2);
      await eventually(() => expect(ledger.entries.get('alice')?.address).toBe('Stasis:p-1002'));
      expect(puts()).toEqual([
        ['/ari/deviceStates/Stasis:p-1002', 'NOT_INUSE'],
        ['/ari/deviceStates/Stasis:p-1001', 'UNAVAILABLE'],
      ]);
    });

    it.each(['handover', 'expiry'] as const)('resets the device of someone deleted meanwhile (%s)', async (stop) => {
      const { ledger } = await ariTakeover(stop, (store) => store.directory.write([{ op: 'delete', collection: 'people', tenantId: 'acme', id: 'alice' }]));
      await receiver.waitFor(1);
      await eventually(() => expect(ledger.entries.has('alice')).toBe(false));
      expect(puts()).toEqual([['/ari/deviceStates/Stasis:p-1001', 'UNAVAILABLE']]);
    });

    it('with ledger entries written before addresses were kept, sets the new device and resets an old one only if the record did not change meanwhile', async () => {
      const { store, ledger } = await ariTakeover('handover', (s) => s.directory.write([person('alice', '1002')]), true);
      // Alice's old device is not known: her record changed meanwhile, and the entry does not say where she was.
      await receiver.waitFor(1);
      await eventually(() => expect(ledger.entries.get('alice')?.address).toBe('Stasis:p-1002'));
      expect(puts()).toEqual([['/ari/deviceStates/Stasis:p-1002', 'NOT_INUSE']]);
      // Bob's record is as his state was rendered from: his device is known, and a later new extension resets it.
      await store.directory.write([person('bob', '2002')]);
      await store.state.update('acme', 'bob', (state) => ({ next: state, result: undefined, emit: true, cause: 'address' }));
      await receiver.waitFor(3);
      expect(puts().slice(1)).toEqual([
        ['/ari/deviceStates/Stasis:p-2002', 'NOT_INUSE'],
        ['/ari/deviceStates/Stasis:p-2001', 'UNAVAILABLE'],
      ]);
    });
  });
});
