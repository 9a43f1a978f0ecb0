import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import type { Presence } from '../../shared/domain/presence.js';
import type { SipTarget } from '../../shared/domain/target.js';
import { silentLogger } from '../../shared/log/logger.js';
import { FakeTransport } from '../../shared/sip/fake-transport.js';
import type { SipRequest } from '../../shared/sip/message.js';
import { UserAgentCore } from '../../shared/sip/user-agent-core.js';
import { EmbeddedStore } from '../../shared/store/embedded/embedded-store.js';
import { MemoryLeases } from '../../shared/store/embedded/memory-leases.js';
import { RedisStore } from '../../shared/store/redis/redis-store.js';
import type { DeliveryLedger } from '../../shared/store/shared-work.js';
import type { PresenceEngine } from '../../services/merger/engine.js';
import { parsePublicationAddress } from '../../services/publishers/sip/publication-address.js';
import { SipSink } from '../../services/publishers/sip/sip-sink.js';
import type { SrvRecord } from '../../services/publishers/sip/srv.js';
import { describeWith } from '../support/components.js';
import { testPipeline } from '../support/pipeline.js';
import { eventually } from '../support/receiver.js';
import { startRedis, type RunningRedis } from '../support/redis.js';
import { counterIds, SIP_TARGET, T0 } from '../sip/helpers.js';

const LEASE_MS = 9000;
const TARGET: SipTarget = { ...SIP_TARGET, server: 'sip:pbx.example.test', expiresSec: 600, coalesceMs: 0 };
const SERVERS: SrvRecord[] = [
  { name: 'a.example.test.', port: 5070, priority: 10, weight: 0, ttl: 60 },
  { name: 'b.example.test.', port: 5080, priority: 20, weight: 0, ttl: 60 },
];
const ADDRESSES: Record<string, string> = { 'a.example.test': '192.0.2.1', 'b.example.test': '192.0.2.2' };
const person = (i: number, extension = `1${i}`) =>
  ({ op: 'put', collection: 'people', doc: { id: `p${i}`, tenantId: 'acme', name: `P ${i}`, extension, timeZone: 'UTC', teams: [], skills: {}, sensitive: false } }) as never;
const available = (i: number) => ({ personId: `p${i}`, availability: 'available', activity: 'available', routable: true, endpoints: [], explanation: [], since: T0, version: 5 }) as unknown as Presence;

/**
 * Replicas publishing one SIP target found by SRV (servers a, then b) over fake transports, sharing leases and
 * the delivery ledger under test; p1 and p2 have a state.
 */
async function world(ledger: DeliveryLedger) {
  const clock = new ManualClock(T0);
  const store = new EmbeddedStore(':memory:');
  await store.directory.write([{ op: 'put', collection: 'tenants', doc: { id: 'acme', tenantId: '*', name: 'acme' } as never }, { op: 'put', collection: 'targets', doc: TARGET }, person(1), person(2)]);
  for (const i of [1, 2]) await store.state.update('acme', `p${i}`, () => ({ next: { signals: [], presence: available(i) }, result: undefined }));
  const leases = new MemoryLeases();

  function replica(name: string) {
    const transport = new FakeTransport();
    const core = new UserAgentCore({ transport, clock, ids: counterIds(), random: () => 0 });
    const srv = { lookup: async () => SERVERS, random: () => 0 };
    const check = async (host: string) => ADDRESSES[host] ?? Promise.reject(new Error(`${host} does not resolve`));
    const pipeline = testPipeline(store, clock, async (t, hooks) => new SipSink(t as SipTarget, undefined, core, {} as PresenceEngine, silentLogger, [], hooks, check, srv), {
      ledger,
      ownership: { leases, replica: name, leaseMs: LEASE_MS },
    });
    const answered = new Set<string>();
    /** PUBLISHes not answered yet: presentity, where to, SIP-If-Match and Expires. */
    const open = () => transport.requests('PUBLISH').filter((r) => !answered.has(r.headers.get('via')!));
    const show = (r: SipRequest) => {
      const to = transport.sent.find((s) => s.message === r)!.to;
      return `${r.uri} ${to.host}:${to.port} ${r.headers.get('sip-if-match') ?? '-'} ${r.headers.get('expires')}`;
    };
    /** Answers every open PUBLISH to `uri` (all when absent) with `status`, once there is one. */
    const reply = async (status: number, uri?: string) => {
      const found = await eventually(async () => {
        await clock.advance(0);
        const rs = open().filter((r) => uri === undefined || r.uri === uri);
        expect(rs.length).toBeGreaterThan(0);
        return rs;
      });
      for (const r of found) {
        answered.add(r.headers.get('via')!);
        const to = transport.sent.find((s) => s.message === r)!.to;
        transport.respond(r, status, status === 200 ? [['SIP-ETag', `${to.port === 5070 ? 'a' : 'b'}-${r.uri}`], ['Expires', '600']] : []);
      }
      await clock.advance(0);
      return found.map(show);
    };
    return { pipeline, transport, reply, published: () => transport.requests('PUBLISH').map(show) };
  }
  return { clock, store, replica };
}

/**
 * On replica `a`, p1 is given a new extension (or deleted); the removal of their old presentity is not taken by a,
 * the server holding it, which moves the target on to b: a goes on asking by itself. `a` hands the target over
 * before a answers; `b` must finish that removal, or a keeps showing p1's old presentity (and, Kamailio aggregating
 * publications, shows it beside whoever gets extension 11 next) until it expires.
 */
function handover(ledgerOf: () => { ledger: DeliveryLedger; ready?: Promise<void>; close(): Promise<void> }) {
  it('the new owner removes an old presentity whose removal its previous owner left under way, at the server holding it, by its etag', async () => {
    const { ledger, ready, close } = ledgerOf();
    await ready;
    const { clock, store, replica } = await world(ledger);
    const a = replica('a');
    await a.pipeline.start();
    expect((await a.reply(200)).sort()).toEqual(['sip:11@example.test 192.0.2.1:5070 - 600', 'sip:12@example.test 192.0.2.1:5070 - 600']);
    // p1 is given extension 19 while a publishes: the old presentity's removal, refused by a (503), moves the target to b.
    await store.directory.write([person(1, '19')]);
    await store.state.update('acme', 'p1', (s) => ({ next: s, result: undefined, emit: true, cause: 'directory' }));
    expect(await a.reply(503, 'sip:11@example.test')).toEqual(['sip:11@example.test 192.0.2.1:5070 a-sip:11@example.test 0']);
    expect((await a.reply(200)).sort()).toEqual(['sip:12@example.test 192.0.2.2:5080 - 600', 'sip:19@example.test 192.0.2.2:5080 - 600']);
    const recorded = await eventually(async () => {
      const address = parsePublicationAddress((await ledger.delivered('acme', TARGET.id)).get('p1')?.address);
      expect(address?.held?.presentity).toBe('sip:19@example.test');
      expect(address?.leaving).toHaveLength(1);
      return address!;
    });
    expect(recorded.leaving).toEqual([{ presentity: 'sip:11@example.test', etag: 'a-sip:11@example.test', expiresAt: T0 + 600_000, server: { host: 'a.example.test', port: 5070 } }]);
    // Handed over before a takes the removal (its retry is due 2 s after it was refused).
    await a.pipeline.close();
    await clock.advance(1);

    const b = replica('b');
    await b.pipeline.start();
    // p1's new presentity and p2, which a published at b, are published afresh at a, where b's requests go first: a never
    // issued their etags (a 412 each at their refresh before, and a's watchers saw nothing of them until then).
    expect((await b.reply(200)).sort()).toEqual(['sip:11@example.test 192.0.2.1:5070 a-sip:11@example.test 0', 'sip:12@example.test 192.0.2.1:5070 - 600', 'sip:19@example.test 192.0.2.1:5070 - 600']);
    expect(b.published()).toHaveLength(3);
    // Taken: the ledger lists only what is kept up for p1 now.
    await eventually(async () => expect(parsePublicationAddress((await ledger.delivered('acme', TARGET.id)).get('p1')?.address)?.leaving).toEqual([]));
    await b.pipeline.close();
    await close();
    store.close();
  });

  it("a deleted person's removal, finished by the new owner, leaves nothing in the ledger: the owner after that asks for it no more", async () => {
    const { ledger, ready, close } = ledgerOf();
    await ready;
    const { clock, store, replica } = await world(ledger);
    const a = replica('a');
    await a.pipeline.start();
    await a.reply(200);
    // p1 is deleted while a publishes: the removal, refused by a (503), moves the target to b; a goes on asking.
    await store.directory.write([{ op: 'delete', collection: 'people', tenantId: 'acme', id: 'p1' }]);
    await store.state.update('acme', 'p1', () => ({ next: { signals: [] }, result: undefined, emit: true }));
    expect(await a.reply(503, 'sip:11@example.test')).toEqual(['sip:11@example.test 192.0.2.1:5070 a-sip:11@example.test 0']);
    await a.reply(200);
    await eventually(async () => expect(parsePublicationAddress((await ledger.delivered('acme', TARGET.id)).get('p1')?.address)?.leaving).toHaveLength(1));
    await a.pipeline.close();
    await clock.advance(1);

    const b = replica('b');
    await b.pipeline.start();
    expect((await b.reply(200)).sort()).toEqual(['sip:11@example.test 192.0.2.1:5070 a-sip:11@example.test 0', 'sip:12@example.test 192.0.2.1:5070 - 600']);
    // Taken: nothing is left of p1 on the target, nor in the ledger.
    await eventually(async () => expect((await ledger.delivered('acme', TARGET.id)).has('p1')).toBe(false));
    await b.pipeline.close();
    await clock.advance(1);

    // Before the old publication would have expired: the next owner sends nothing (no removal answered 412).
    const c = replica('c');
    await c.pipeline.start();
    await clock.advance(0);
    expect(c.published()).toEqual([]);
    await c.pipeline.close();
    await close();
    store.close();
  });
}

describe('a SIP removal left under way, handed over through the embedded ledger', () => {
  handover(() => {
    const store = new EmbeddedStore(':memory:');
    return { ledger: store.deliveries, close: async () => store.close() };
  });
});

describeWith(['redis'], 'a SIP removal left under way, handed over through the Redis ledger', () => {
  let redis: RunningRedis;
  let tests = 0;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  handover(() => {
    // A ledger of its own for each test.
    const store = new RedisStore({ url: redis.url, prefix: `handover${++tests}:`, feedEvents: 100, log: silentLogger });
    const started = store.start();
    return { ledger: store.deliveries, ready: started, close: () => store.close() };
  });
});
