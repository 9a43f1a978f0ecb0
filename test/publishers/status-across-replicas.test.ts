import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import type { Target } from '../../shared/domain/target.js';
import { EmbeddedStore } from '../../shared/store/embedded/embedded-store.js';
import type { LeaseStore } from '../../shared/store/leases.js';
import type { Store } from '../../shared/store/port.js';
import type { TargetStatusStore } from '../../shared/store/target-status.js';
import type { PublishPipeline } from '../../services/publishers/pipeline.js';
import type { Sink } from '../../services/publishers/sink.js';
import { targetStatus } from '../../services/publishers/status-view.js';
import { MemoryLedger } from '../support/memory-ledger.js';
import { testPipeline } from '../support/pipeline.js';
import { severableLeases } from '../support/severable-leases.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const LEASE_MS = 9000;
const TARGET = { kind: 'webhook', id: 'hook', tenantId: 'acme', name: 'hook', enabled: true, url: 'https://example.com/hook' } as Target;

/** A webhook whose receiver refuses every delivery. */
const refusing = async (): Promise<Sink> => ({
  deliver: async () => {
    throw new Error('connect ECONNREFUSED 127.0.0.1:9');
  },
  close: async () => {},
});

async function world(clock: ManualClock): Promise<EmbeddedStore> {
  const store = new EmbeddedStore(':memory:');
  await store.directory.write([
    { op: 'put', collection: 'tenants', doc: { id: 'acme', tenantId: '*', name: 'acme' } as never },
    { op: 'put', collection: 'people', doc: { id: 'alice', tenantId: 'acme', name: 'Alice', timeZone: 'UTC', teams: [], skills: {}, sensitive: false } as never },
    { op: 'put', collection: 'targets', doc: TARGET },
  ]);
  await store.state.update('acme', 'alice', () => ({
    next: { signals: [], presence: { personId: 'alice', availability: 'available', activity: 'available', routable: true, endpoints: [], explanation: [], since: clock.now(), version: 5 } },
    result: undefined,
  }));
  return store;
}

/** One replica: its pipeline over the shared store and its leases (as in the service, the store's own). */
function replica(store: Store, clock: ManualClock, leases: LeaseStore, name: string) {
  const pipeline = testPipeline(store, clock, refusing, { ledger: new MemoryLedger(), ownership: { leases, replica: name, leaseMs: LEASE_MS } });
  return { pipeline, status: () => targetStatus({ store, pipeline, clock }, TARGET) };
}

/** The same store, but what its replica reports goes nowhere (a replica of a version that does not report). */
function notReporting(store: EmbeddedStore): Store {
  const silent: TargetStatusStore = { report: async () => {}, read: (...a) => store.targetStatus.read(...a), withdraw: async () => {} };
  return Object.assign(Object.create(store) as Store, { targetStatus: silent });
}

describe("a push target's status on every replica", () => {
  const open: PublishPipeline[] = [];
  afterEach(async () => {
    for (const p of open.splice(0)) await p.close();
  });

  it("a replica that does not publish the target answers the owner's failing status, naming it and when it reported", async () => {
    const clock = new ManualClock(T0);
    const store = await world(clock);
    const shared = store.leases;
    const a = replica(store, clock, shared, 'a');
    const b = replica(store, clock, shared, 'b');
    open.push(a.pipeline, b.pipeline);
    await a.pipeline.start();
    await b.pipeline.start();
    await clock.advance(2000);
    const owner = await a.status();
    expect(owner).toMatchObject({ targetId: 'hook', state: 'failing', lastError: 'connect ECONNREFUSED 127.0.0.1:9' });
    expect(owner).not.toHaveProperty('reportedBy');
    const other = await b.status();
    expect(other).toMatchObject({ state: 'failing', lastError: 'connect ECONNREFUSED 127.0.0.1:9', reportedBy: 'a' });
    // Reported when it changed (within a second), not only at the lease renewal (every 3 s).
    expect(Date.parse((other as { reportedAt: string }).reportedAt)).toBeGreaterThan(T0);
    expect(Date.parse((other as { reportedAt: string }).reportedAt)).toBeLessThanOrEqual(T0 + 2000);
  });

  it('a dead owner goes stale: another replica publishes the target and answers its own status', async () => {
    const clock = new ManualClock(T0);
    const store = await world(clock);
    const shared = store.leases;
    const cut = severableLeases(shared);
    const a = replica(store, clock, cut.leases, 'a');
    const b = replica(store, clock, shared, 'b');
    open.push(a.pipeline, b.pipeline);
    await a.pipeline.start();
    await b.pipeline.start();
    await clock.advance(2000);
    expect(await b.status()).toMatchObject({ reportedBy: 'a' });
    cut.sever();
    await clock.advance(LEASE_MS + LEASE_MS / 3 + 2000);
    const now = await b.status();
    expect(now).toMatchObject({ targetId: 'hook', state: 'failing' });
    expect(now).not.toHaveProperty('reportedBy');
    expect(await a.status()).toMatchObject({ state: 'failing', reportedBy: 'b' });
  });

  it('an owner that does not report answers unknown, naming it; once it hands over, starting until another takes the target', async () => {
    const clock = new ManualClock(T0);
    const store = await world(clock);
    const shared = store.leases;
    const a = replica(notReporting(store), clock, shared, 'a');
    const b = replica(store, clock, shared, 'b');
    open.push(b.pipeline);
    await a.pipeline.start();
    await b.pipeline.start();
    await clock.advance(2000);
    expect(await b.status()).toEqual({ targetId: 'hook', kind: 'webhook', state: 'unknown', reason: 'owner-not-reporting', owner: 'a', detail: expect.any(String) });
    await a.pipeline.close();
    expect(await b.status()).toEqual({ targetId: 'hook', kind: 'webhook', state: 'starting' });
    await clock.advance(LEASE_MS / 3);
    expect(await b.status()).toMatchObject({ targetId: 'hook', state: expect.stringMatching(/^(idle|failing)$/) });
    expect(await b.status()).not.toHaveProperty('reportedBy');
  });

  it('a graceful stop withdraws the report, so no replica answers a status nobody keeps up', async () => {
    const clock = new ManualClock(T0);
    const store = await world(clock);
    const shared = store.leases;
    const a = replica(store, clock, shared, 'a');
    open.push(a.pipeline);
    await a.pipeline.start();
    await clock.advance(2000);
    expect(await store.targetStatus.read('acme', 'hook', clock.now())).toMatchObject({ replica: 'a' });
    await a.pipeline.close();
    expect(await store.targetStatus.read('acme', 'hook', clock.now())).toBeUndefined();
  });
});
