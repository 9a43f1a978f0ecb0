import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import type { SipTarget } from '../../shared/domain/target.js';
import type { SecretBox } from '../../shared/crypto/secrets.js';
import { EmbeddedStore } from '../../shared/store/embedded/embedded-store.js';
import type { DirectoryService } from '../../services/directory/directory-service.js';
import type { Sink } from '../../services/publishers/sink.js';
import { sinkFactory } from '../../services/publishers/sink-factory.js';
import { TargetsService } from '../../services/publishers/targets-service.js';
import { MemoryLedger } from '../support/memory-ledger.js';
import { TEST_RUNNER, testPipeline } from '../support/pipeline.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const TARGET = { id: 'pbx', tenantId: 'acme', kind: 'sip', name: 'PBX', enabled: true, server: 'sip:pbx.example.test', domain: 'example.test', transport: 'udp' } as SipTarget;
const iso = (ms: number) => new Date(ms).toISOString();

describe('a target whose publisher cannot start', () => {
  const closing: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closing.splice(0)) await close();
  });

  /** A SIP target whose server name resolves to a private address, refused under PRIVATE_TARGETS=false, until `dns` says otherwise. */
  async function world(over: Parameters<typeof testPipeline>[3] = {}) {
    const clock = new ManualClock(T0);
    const store = new EmbeddedStore(':memory:');
    await store.directory.write([
      { op: 'put', collection: 'tenants', doc: { id: 'acme', tenantId: '*', name: 'acme', settings: { allowPrivateTargets: true, wrapUpSeconds: 0 } } as never },
      { op: 'put', collection: 'targets', doc: TARGET },
    ]);
    const dns: Record<string, string> = { 'pbx.example.test': '10.0.0.7' };
    const resolve = async (host: string) => (dns[host] ? [{ address: dns[host]!, family: 4 }] : []);
    const started: number[] = [];
    const attempts: number[] = [];
    const factory = sinkFactory({
      store,
      clock,
      targets: new TargetsService(store, {} as DirectoryService, {} as SecretBox, resolve, false),
      resolve,
      timeoutMs: 1000,
      sip: async () => (started.push(clock.now()), { deliver: async () => {}, close: async () => {} }) as Sink,
    });
    const makeSink: typeof factory = (...a) => (attempts.push(clock.now()), factory(...a));
    // The backoff of a failing target's probes: from step 3 (failingAfter), 1 s doubling, the middle of each jitter.
    const pipeline = testPipeline(store, clock, makeSink, { runner: { ...TEST_RUNNER, retryBaseMs: 1000, retryCapMs: 60_000 }, ...over });
    closing.push(() => pipeline.close(), () => store.close());
    return { clock, store, dns, attempts, started, pipeline, status: () => pipeline.status('acme', 'pbx') };
  }

  it('says when it is tried again, on capped, jittered backoff, and starts at that time once the cause is gone', async () => {
    const w = await world();
    await w.pipeline.start();
    expect(w.started).toEqual([]);
    // Step 3: 4 s, jittered to between 2 and 4 s.
    expect(w.status()).toMatchObject({ state: 'failing', consecutiveFailures: 1, lastError: expect.stringContaining('10.0.0.7'), nextProbeAt: iso(T0 + 3000) });
    await w.clock.advance(2999);
    expect(w.status()).toMatchObject({ consecutiveFailures: 1 });
    await w.clock.advance(1);
    // Still refused: step 4, 8 s, jittered to 6 s.
    expect(w.status()).toMatchObject({ state: 'failing', consecutiveFailures: 2, nextProbeAt: iso(T0 + 9000) });
    // The server's name now resolves to an address the tenant may use.
    w.dns['pbx.example.test'] = '93.184.216.34';
    await w.clock.advance(5999);
    expect(w.started).toEqual([]);
    await w.clock.advance(1);
    expect(w.started).toEqual([T0 + 9000]);
    expect(w.status()).toMatchObject({ state: 'idle', consecutiveFailures: 0 });
    expect(w.status()).not.toHaveProperty('nextProbeAt');
  });

  it('with several replicas, the owner tries it on that backoff, not at every lease renewal', async () => {
    const leaseStore = new EmbeddedStore(':memory:');
    // Renewed every 1 s.
    const w = await world({ ledger: new MemoryLedger(), ownership: { leases: leaseStore.leases, replica: 'a', leaseMs: 3000 } });
    closing.push(() => leaseStore.close());
    await w.pipeline.start();
    expect(w.status()).toMatchObject({ state: 'failing', nextProbeAt: iso(T0 + 3000) });
    w.dns['pbx.example.test'] = '93.184.216.34';
    await w.clock.advance(2999);
    expect(w.attempts).toEqual([T0]);
    await w.clock.advance(1);
    expect(w.attempts).toEqual([T0, T0 + 3000]);
    expect(w.started).toEqual([T0 + 3000]);
    expect(w.status()).toMatchObject({ state: 'idle' });
  });

  it('with several replicas, an edit is tried at once and its attempts count afresh, as with one', async () => {
    const leaseStore = new EmbeddedStore(':memory:');
    const w = await world({ ledger: new MemoryLedger(), ownership: { leases: leaseStore.leases, replica: 'a', leaseMs: 3000 } });
    closing.push(() => leaseStore.close());
    await w.pipeline.start();
    await w.clock.advance(3000);
    await w.clock.advance(6000);
    expect(w.status()).toMatchObject({ consecutiveFailures: 3, nextProbeAt: iso(T0 + 21_000) });
    // Renamed (still refused): tried at the next lease renewal, its backoff from the start.
    await w.store.directory.write([{ op: 'put', collection: 'targets', doc: { ...TARGET, name: 'PBX 2' } }]);
    await w.clock.advance(1000);
    expect(w.attempts).toHaveLength(4);
    expect(w.status()).toMatchObject({ state: 'failing', consecutiveFailures: 1, nextProbeAt: iso(T0 + 13_000) });
  });

  it('backs off no further than PUBLISH_RETRY_CAP_MS', async () => {
    const w = await world();
    await w.pipeline.start();
    for (let i = 0; i < 10; i++) await w.clock.advance(Date.parse(w.status()!.nextProbeAt!) - w.clock.now());
    const waits = Date.parse(w.status()!.nextProbeAt!) - w.clock.now();
    expect(waits).toBe(45_000);
    expect(w.started).toEqual([]);
  });
});
