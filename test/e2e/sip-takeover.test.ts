import { afterEach, beforeEach, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import type { Presence } from '../../shared/domain/presence.js';
import type { SipTarget } from '../../shared/domain/target.js';
import { silentLogger } from '../../shared/log/logger.js';
import { EmbeddedStore } from '../../shared/store/embedded/embedded-store.js';
import { MemoryLeases } from '../../shared/store/embedded/memory-leases.js';
import type { LeaseStore } from '../../shared/store/leases.js';
import type { RequestSpec } from '../../shared/sip/user-agent-core.js';
import type { PresenceEngine } from '../../services/merger/engine.js';
import { Metrics } from '../../services/observability/metrics.js';
import { PublishPipeline } from '../../services/publishers/pipeline.js';
import { SipSink } from '../../services/publishers/sip/sip-sink.js';
import { SipStack } from '../../services/publishers/sip/sip-stack.js';
import { describeWith } from '../support/components.js';
import { kamailioPerTest, type RunningKamailio } from '../support/kamailio.js';
import { MemoryLedger } from '../support/memory-ledger.js';
import { severableLeases } from '../support/severable-leases.js';
import { eventually } from '../support/receiver.js';
import { startWatcher, type Watcher } from '../support/sipp.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const LEASE_MS = 9000;
const EXPIRES_SEC = 60;

/** One PUBLISH a replica sent and how it was answered (after any digest challenge). */
interface Exchange {
  uri: string;
  expires: string | undefined;
  ifMatch: string | null;
  status: number | undefined;
  etag: string | undefined;
}

/**
 * Two replicas publish one SIP target to a real Kamailio through their own SIP stacks, sharing leases and
 * the delivery ledger (in memory: the Redis ledger's rules are tested on a real Redis in
 * test/store/redis-store.test.ts; here what counts is what Kamailio holds). Replica `a` publishes alice
 * (extension 1001) and stops; replica `b` takes the target over.
 */
describeWith(['kamailio', 'sipp'], "a SIP target's new owner continues its previous owner's publications (real Kamailio)", () => {
  let kam: RunningKamailio;
  let clock: ManualClock;
  let store: EmbeddedStore;
  const stacks: SipStack[] = [];
  const pipelines: PublishPipeline[] = [];
  const watchers: Watcher[] = [];

  const kamailio = kamailioPerTest();
  beforeEach(async () => {
    kam = kamailio.kam;
    clock = new ManualClock(T0);
    store = new EmbeddedStore(':memory:');
    const target: SipTarget = {
      kind: 'sip',
      id: 'kam',
      tenantId: 'acme',
      name: 'Kamailio',
      enabled: true,
      server: kam.uri,
      transport: 'udp',
      domain: kam.domain,
      username: kam.credentials.user,
      expiresSec: EXPIRES_SEC,
      subscribeDialog: false,
      coalesceMs: 0,
    };
    await store.directory.write([
      { op: 'put', collection: 'tenants', doc: { id: 'acme', tenantId: '*', name: 'acme' } as never },
      { op: 'put', collection: 'targets', doc: target },
      alice('1001'),
    ]);
    await setState(available(5), false);
  });
  afterEach(async () => {
    for (const w of watchers.splice(0)) await w.stop().catch(() => {});
    for (const p of pipelines.splice(0)) await p.close();
    for (const s of stacks.splice(0)) await s.close();
  });

  const alice = (extension: string) =>
    ({ op: 'put', collection: 'people', doc: { id: 'alice', tenantId: 'acme', name: 'Alice', extension, timeZone: 'UTC', teams: [], skills: {}, sensitive: false } }) as never;
  const available = (version: number) =>
    ({ personId: 'alice', availability: 'available', activity: 'available', routable: true, endpoints: [], explanation: [], since: T0, version }) as unknown as Presence;
  const setState = (presence: Presence, emit = true) => store.state.update('acme', 'alice', () => ({ next: { signals: [], presence }, result: undefined, emit }));

  /**
   * A replica publishing through its own SIP stack; `exchanges` lists its PUBLISHes as answered. Those `lost` says
   * never reach Kamailio (no answer ever comes: the replica dies first).
   */
  async function replica(name: string, leases: LeaseStore, ledger: MemoryLedger, lost: (spec: RequestSpec) => boolean = () => false) {
    const stack = new SipStack({ host: '127.0.0.1', port: 0 }, clock, () => 0.5);
    stacks.push(stack);
    const core = await stack.get();
    const exchanges: Exchange[] = [];
    const request = core.request.bind(core);
    core.request = async (spec, destination, auth) => {
      if (lost(spec)) return new Promise<never>(() => {});
      const outcome = await request(spec, destination, auth);
      const response = outcome.kind === 'response' ? outcome.response : undefined;
      const header = (name: string) => spec.headers?.find(([k]) => k === name)?.[1];
      exchanges.push({
        uri: spec.requestUri,
        expires: header('Expires'),
        ifMatch: header('SIP-If-Match') ?? null,
        status: response?.status,
        etag: response?.headers.get('sip-etag'),
      });
      return outcome;
    };
    const pipeline = new PublishPipeline({
      store,
      feed: store.feed,
      clock,
      log: silentLogger,
      metrics: new Metrics(false),
      makeSink: async (t, hooks) => new SipSink(t as SipTarget, kam.credentials.password, core, {} as PresenceEngine, silentLogger, [], hooks),
      ledger,
      ownership: { leases, replica: name, leaseMs: LEASE_MS },
      runner: { defaultCoalesceMs: 0, retryBaseMs: 1000, retryCapMs: 30_000, failingAfter: 3, random: () => 0.5 },
    });
    pipelines.push(pipeline);
    return { pipeline, exchanges };
  }

  const watch = async (user: string) => {
    const w = await startWatcher(kam, { user, expires: 300 });
    watchers.push(w);
    return w;
  };
  /** The last NOTIFY's document: what Kamailio holds for the presentity, every publication's tuples together. */
  const lastDocument = (w: Watcher) => w.notifies().at(-1)?.body ?? '';
  const tuples = (body: string) => body.match(/<tuple\b/g)?.length ?? 0;
  /** What Kamailio notifies once no publication is left: our last tuple, closed, without our person element. */
  const unpublished = (body: string) => body.includes('<basic>closed</basic>') && !body.includes('p-presence-hub');
  const etagIn = (address: string | undefined) => (address ? (JSON.parse(address) as { etag: string }).etag : undefined);
  /** Lets protocol time pass in small steps until `check` holds: real answers need real time to arrive. */
  const until = <T>(check: () => T | Promise<T>) =>
    eventually(async () => {
      await clock.advance(100);
      return check();
    }, 10_000);

  /**
   * Replica `a` publishes alice and stops: it hands the target over, or can no longer reach the leases and
   * its lease runs out. `edit` changes the directory while nobody publishes, `live` while `a` publishes (the requests
   * it says are lost then never reach Kamailio); `b` takes over.
   */
  async function takeover(stop: 'handover' | 'expiry', edit: () => Promise<unknown> = async () => {}, oldEntries = false, live?: { lost: (spec: RequestSpec) => boolean; edit: () => Promise<unknown> }) {
    const shared = new MemoryLeases();
    const cut = severableLeases(shared);
    const ledger = new MemoryLedger();
    const a = await replica('a', cut.leases, ledger, live?.lost);
    await a.pipeline.start();
    const etagA = await until(() => {
      const etag = etagIn(ledger.entries.get('alice')?.address);
      expect(etag).toBeDefined();
      return etag!;
    });
    expect(a.exchanges).toEqual([{ uri: 'sip:1001@example.test', expires: String(EXPIRES_SEC), ifMatch: null, status: 200, etag: etagA }]);
    await live?.edit();
    if (stop === 'handover') await a.pipeline.close();
    else {
      cut.sever();
      await clock.advanceTo(T0 + LEASE_MS);
    }
    await edit();
    // As recorded before publications were kept: no address.
    if (oldEntries) for (const [id, r] of ledger.entries) ledger.entries.set(id, { version: r.version, mark: r.mark, rendering: r.rendering! });
    await clock.advance(1);
    const b = await replica('b', shared, ledger);
    await b.pipeline.start();
    return { a, b, etagA, ledger, publishedAt: T0 };
  }

  it.each(['handover', 'expiry'] as const)(
    'refreshes the publication with the previous owner’s etag, so Kamailio keeps one publication, which later changes modify (%s)',
    async (stop) => {
      const w = await watch('1001');
      const { b, etagA, ledger, publishedAt } = await takeover(stop);
      await eventually(() => expect(tuples(lastDocument(w))).toBe(1));
      // The state the target holds is not sent again at the takeover.
      await clock.advance(1000);
      await new Promise((r) => setTimeout(r, 200));
      expect(b.exchanges).toEqual([]);
      // 15% of the 60 s before the publication expires: a refresh with A's etag, which Kamailio accepts.
      await clock.advanceTo(publishedAt + EXPIRES_SEC * 850 - 100);
      expect(b.exchanges).toEqual([]);
      await until(() => expect(b.exchanges).toHaveLength(1));
      const [refresh] = b.exchanges;
      expect(refresh).toMatchObject({ uri: 'sip:1001@example.test', expires: String(EXPIRES_SEC), ifMatch: etagA, status: 200 });
      expect(refresh!.etag).toBeDefined();
      // The new etag is in the ledger for whoever owns the target next.
      await eventually(() => expect(etagIn(ledger.entries.get('alice')?.address)).toBe(refresh!.etag));
      // A new state modifies the same publication. A second publication would not show: Kamailio 5.6, given two
      // documents with our tuple id, notifies the older one's tuple until it expires.
      await setState({ ...available(6), availability: 'busy', activity: 'in-meeting', routable: false } as Presence);
      await until(() => expect(b.exchanges).toHaveLength(2));
      expect(b.exchanges[1]).toMatchObject({ ifMatch: refresh!.etag, status: 200 });
      await eventually(() => expect(lastDocument(w)).toContain('<rpid:meeting/>'));
      expect(tuples(lastDocument(w))).toBe(1);
      expect(lastDocument(w)).toContain('<basic>closed</basic>');
    },
  );

  /** `b` removes 1001's publication by `a`'s etag and publishes 1002: Kamailio no longer holds the old presentity, and 1002's watcher sees alice. */
  async function movedTo1002(b: { exchanges: Exchange[] }, etagA: string, old: Watcher, moved: Watcher): Promise<void> {
    await until(() => expect(b.exchanges).toHaveLength(2));
    expect(b.exchanges).toEqual([
      { uri: 'sip:1001@example.test', expires: '0', ifMatch: etagA, status: 200, etag: expect.any(String) },
      { uri: 'sip:1002@example.test', expires: String(EXPIRES_SEC), ifMatch: null, status: 200, etag: expect.any(String) },
    ]);
    await eventually(() => expect(unpublished(lastDocument(old))).toBe(true));
    await eventually(() => expect(lastDocument(moved)).toContain('<basic>open</basic>'));
    expect(tuples(lastDocument(moved))).toBe(1);
  }

  it('removes the old presentity’s publication of someone given a new extension while nobody published, and publishes the new one', async () => {
    const [old, moved] = [await watch('1001'), await watch('1002')];
    const { b, etagA } = await takeover('handover', () => store.directory.write([alice('1002')]));
    await movedTo1002(b, etagA, old, moved);
  });

  it('a replica that dies before Kamailio took the removal of an old presentity leaves it to the next owner, which removes it there by its etag', async () => {
    const [old, moved] = [await watch('1001'), await watch('1002')];
    const removal = (spec: RequestSpec) => spec.headers?.some(([k, v]) => k === 'Expires' && v === '0') === true;
    // alice is given extension 1002 while a publishes: its removal of 1001 goes out, and a dies before any answer.
    const edit = async () => {
      await eventually(() => expect(lastDocument(old)).toContain('<basic>open</basic>'));
      await store.directory.write([alice('1002')]);
      await store.state.update('acme', 'alice', (s) => ({ next: s, result: undefined, emit: true, cause: 'directory' }));
      await clock.advance(0);
    };
    const { a, b, etagA } = await takeover('expiry', undefined, false, { lost: removal, edit });
    // Nothing else went out from a: not the new presentity, which nobody would have refreshed or removed.
    expect(a.exchanges.map((e) => `${e.uri} ${e.expires} ${e.ifMatch} ${e.status}`)).toEqual([`sip:1001@example.test ${EXPIRES_SEC} null 200`]);
    await movedTo1002(b, etagA, old, moved);
  });

  it.each([
    ['whose publication lapsed while nobody published', () => clock.advanceTo(T0 + EXPIRES_SEC * 1000 + 1), false],
    ['whose publication was recorded without its etag (before they were kept)', async () => {}, true],
  ] as const)('publishes afresh at the takeover someone %s', async (_, edit, oldEntries) => {
    const { b } = await takeover('handover', edit, oldEntries);
    await until(() => expect(b.exchanges).toHaveLength(1));
    expect(b.exchanges[0]).toMatchObject({ uri: 'sip:1001@example.test', expires: String(EXPIRES_SEC), ifMatch: null, status: 200 });
  });

  it('removes the publication of someone deleted while nobody published', async () => {
    const w = await watch('1001');
    const { b, etagA } = await takeover('expiry', () => store.directory.write([{ op: 'delete', collection: 'people', tenantId: 'acme', id: 'alice' }]));
    await until(() => expect(b.exchanges).toHaveLength(1));
    expect(b.exchanges[0]).toMatchObject({ uri: 'sip:1001@example.test', expires: '0', ifMatch: etagA, status: 200 });
    await eventually(() => expect(unpublished(lastDocument(w))).toBe(true));
  });
});
