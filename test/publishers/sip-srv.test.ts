import { promises as dns } from 'node:dns';
import { describe, expect, it } from 'vitest';
import type { Person } from '../../shared/domain/directory.js';
import type { Presence } from '../../shared/domain/presence.js';
import type { SipTarget } from '../../shared/domain/target.js';
import { silentLogger } from '../../shared/log/logger.js';
import type { SipRequest } from '../../shared/sip/message.js';
import type { PresenceEngine } from '../../services/merger/engine.js';
import { MIN_TTL_MS } from '../../services/publishers/dns-cache.js';
import { srvNameOf } from '../../services/publishers/sip/presentity.js';
import { RETURN_CHECK_MS } from '../../services/publishers/sip/server-set.js';
import { parsePublicationAddress, publicationAddress } from '../../services/publishers/sip/publication-address.js';
import { SipSink } from '../../services/publishers/sip/sip-sink.js';
import { WATCHES_RESUMED_PER_SECOND } from '../../services/publishers/sip/watch-pacer.js';
import { orderSrv, srvResolver, type SrvRecord } from '../../services/publishers/sip/srv.js';
import { TargetRunner } from '../../services/publishers/target-runner.js';
import { Metrics } from '../../services/observability/metrics.js';
import { TIMER_F } from '../../shared/sip/timers.js';
import { setup, SIP_TARGET, T0 } from '../sip/helpers.js';

const srv = (name: string, port: number, priority: number, weight: number, ttl?: number): SrvRecord => ({ name, port, priority, weight, ...(ttl !== undefined ? { ttl } : {}) });
/** Plays the draws RFC 2782 makes, in turn. */
const draws = (...values: number[]) => () => values.shift() ?? 0;

describe('RFC 2782 order', () => {
  it('lowest priority first; within one, drawn by weight, the random number picking the first record whose running sum reaches it', () => {
    const records = [srv('c', 1, 20, 0), srv('a1', 1, 10, 60), srv('a2', 1, 10, 40)];
    // Sum 100, draw 0..100: 0.5 → 50 → a1 (running 60); then a2 alone.
    expect(orderSrv(records, draws(0.5, 0, 0)).map((r) => r.name)).toEqual(['a1', 'a2', 'c']);
    // 0.7 → 70 → past a1's 60: a2 first.
    expect(orderSrv(records, draws(0.7, 0, 0)).map((r) => r.name)).toEqual(['a2', 'a1', 'c']);
  });

  it('weight-0 records go first in the running sum: a draw of 0 picks one, anything else the weighted ones', () => {
    const records = [srv('heavy', 1, 10, 5), srv('zero', 1, 10, 0)];
    expect(orderSrv(records, draws(0, 0)).map((r) => r.name)).toEqual(['zero', 'heavy']);
    expect(orderSrv(records, draws(0.5, 0)).map((r) => r.name)).toEqual(['heavy', 'zero']);
  });

  it('a "." target (the service is decidedly not offered) gives no server', () => {
    expect(orderSrv([srv('.', 0, 0, 0)], Math.random)).toEqual([]);
    expect(orderSrv([srv('', 0, 0, 0)], Math.random)).toEqual([]);
  });
});

describe('which servers are looked up by SRV (RFC 3263 §4.2)', () => {
  const of = (server: string, transport: SipTarget['transport'] = 'udp') => srvNameOf({ server, transport });
  it('a host name without a port, by the configured transport; sips: and TLS use _sips._tcp', () => {
    expect(of('sip:example.com')).toBe('_sip._udp.example.com');
    expect(of('sip:example.com', 'tcp')).toBe('_sip._tcp.example.com');
    expect(of('sip:example.com', 'tls')).toBe('_sips._tcp.example.com');
    expect(of('sips:example.com', 'udp')).toBe('_sips._tcp.example.com');
    expect(of('sip:example.com;transport=tcp', 'tcp')).toBe('_sip._tcp.example.com');
  });
  it('never a host with a port, nor an IP address', () => {
    expect(of('sip:example.com:5060')).toBeUndefined();
    expect(of('sip:192.0.2.1')).toBeUndefined();
    expect(of('sip:[2001:db8::1]')).toBeUndefined();
  });
  it('"no such name" and "no SRV records" are an empty answer, other failures are failures', async () => {
    const failing = (code: string) => srvResolver({ resolveSrv: () => Promise.reject(Object.assign(new Error(code), { code })) });
    expect(await failing(dns.NODATA)('_sip._udp.example.com')).toEqual([]);
    expect(await failing(dns.NOTFOUND)('_sip._udp.example.com')).toEqual([]);
    await expect(failing(dns.SERVFAIL)('_sip._udp.example.com')).rejects.toThrow(dns.SERVFAIL);
  });
});

const TARGET: SipTarget = { ...SIP_TARGET, server: 'sip:pbx.example.test' };
const PRESENCE = { availability: 'available', activity: 'available', routable: true, since: T0, version: 1 } as Presence;
const AWAY = { ...PRESENCE, availability: 'away', activity: 'away', routable: false, version: 2 } as Presence;
const person = (i: number) => ({ id: `p${i}`, tenantId: 'acme', name: `P ${i}`, extension: `1${i}`, teams: [] }) as unknown as Person;
const ADDRESSES: Record<string, string> = { 'a.example.test': '192.0.2.1', 'b.example.test': '192.0.2.2', 'pbx.example.test': '192.0.2.9' };

/** A SIP sink whose server is found by SRV records the test plays, over a fake transport. */
function harness(answer: SrvRecord[] | Error = [srv('a.example.test.', 5070, 10, 0, 60), srv('b.example.test.', 5080, 20, 0, 60)], target = TARGET, people: Person[] = []) {
  const h = setup();
  /** What the sink told the ledger between deliveries, by person: their latest address. */
  const readdressed = new Map<string, string | undefined>();
  const hooks = { readdressed: (personId: string, address: string | undefined) => void readdressed.set(personId, address) };
  const dns = { answer, lookups: [] as string[] };
  const lookup = async (name: string) => {
    dns.lookups.push(name);
    if (dns.answer instanceof Error) throw dns.answer;
    return dns.answer;
  };
  const check = async (host: string) => ADDRESSES[host] ?? Promise.reject(new Error(`${host} does not resolve`));
  const sink = new SipSink(target, undefined, h.core, {} as PresenceEngine, silentLogger, people, hooks, check, { lookup, random: () => 0 });
  /** Each request transaction once (UDP retransmissions left out): method, where it went, presentity and SIP-If-Match. */
  const sent = () => {
    const seen = new Map<string, string>();
    for (const s of h.transport.sent) {
      const r = s.message as SipRequest;
      if (r.kind === 'request') seen.set(r.headers.get('via')!, `${r.method} ${s.to.host}:${s.to.port} ${r.uri} ${r.headers.get('sip-if-match') ?? '-'}`);
    }
    return [...seen.values()];
  };
  const answered = new Set<string>();
  /** Requests not answered yet, oldest first. */
  const open = () => h.transport.requests().filter((r) => !answered.has(r.headers.get('via')!));
  const reply = async (r: SipRequest, status: number, etag?: string) => {
    answered.add(r.headers.get('via')!);
    h.transport.respond(r, status, etag ? [['SIP-ETag', etag], ['Expires', '600']] : []);
    await h.clock.advance(0);
  };
  const deliver = (i: number, presence = PRESENCE) => sink.deliver({ tenantId: 'acme', personId: `p${i}`, person: person(i), presence, version: presence.version });
  /** Delivers `presence` of person `i`, its PUBLISH answered 200 with `etag`. */
  const published = async (i: number, etag: string, presence = PRESENCE) => {
    const done = deliver(i, presence);
    await h.clock.advance(0);
    await reply(open()[0]!, 200, etag);
    await done;
  };
  const details = () => sink.details() as { publishingTo: string; servers: unknown[]; srv?: string; lastMove?: { from: string; to: string; because: string } };
  return { ...h, dns, sink, sent, open, reply, deliver, published, details, readdressed };
}

/**
 * p1 and p2 published at a; p1 given extension 19, its old publication's removal answered 503 there: the others
 * move on to b (answered 200). What was sent before that removal's answer.
 */
async function movedOnFromRemoval(h: ReturnType<typeof harness>): Promise<number> {
  for (const i of [1, 2]) await h.published(i, `a-${i}`);
  const done = h.sink.deliver({ tenantId: 'acme', personId: 'p1', person: { ...person(1), extension: '19' } as Person, presence: PRESENCE, version: 1, rerender: T0 + 1 });
  await h.clock.advance(0);
  const before = h.sent().length;
  expect(h.sent().at(-1)).toBe('PUBLISH 192.0.2.1:5070 sip:11@example.test a-1');
  await h.reply(h.open()[0]!, 503);
  for (let r = h.open()[0]; r; r = h.open()[0]) await h.reply(r, 200, `b-${r.uri}`);
  await done;
  return before;
}

describe('a SIP target located by DNS SRV', () => {
  it('publishes to the most preferred server at its SRV port, and says so in its status', async () => {
    const h = harness();
    const done = h.deliver(1);
    await h.clock.advance(0);
    expect(h.dns.lookups).toEqual(['_sip._udp.pbx.example.test']);
    expect(h.sent()).toEqual(['PUBLISH 192.0.2.1:5070 sip:11@example.test -']);
    await h.reply(h.open()[0]!, 200, 'a-1');
    await done;
    expect(h.details()).toMatchObject({
      srv: '_sip._udp.pbx.example.test',
      servers: [
        { host: 'a.example.test', port: 5070, priority: 10, weight: 0 },
        { host: 'b.example.test', port: 5080, priority: 20, weight: 0 },
      ],
      publishingTo: 'a.example.test:5070',
    });
    expect(h.details().lastMove).toBeUndefined();
    // The answer is kept for its TTL (60 s): requests meanwhile ask no DNS.
    await h.clock.advance(59_999);
    const change = h.deliver(1, AWAY);
    await h.clock.advance(0);
    await h.reply(h.open()[0]!, 200, 'a-2');
    await change;
    expect(h.dns.lookups).toHaveLength(1);
    await h.sink.close();
  });

  it('without SRV records, or when the lookup fails, publishes to the name itself on the default port (A/AAAA)', async () => {
    for (const answer of [[], new Error('SERVFAIL')]) {
      const h = harness(answer);
      const done = h.deliver(1);
      await h.clock.advance(0);
      expect(h.sent()).toEqual(['PUBLISH 192.0.2.9:5060 sip:11@example.test -']);
      await h.reply(h.open()[0]!, 200, 'x-1');
      await done;
      expect(h.details()).toMatchObject({ servers: [{ host: 'pbx.example.test', port: 5060 }], publishingTo: 'pbx.example.test:5060' });
      await h.sink.close();
    }
  });

  it('a server that does not answer: the request is made afresh at the next (no SIP-If-Match), and every other publication follows at once', async () => {
    const h = harness();
    for (const i of [1, 2]) await h.published(i, `a-${i}`);
    const change = h.deliver(1, AWAY);
    await h.clock.advance(0);
    expect(h.sent().at(-1)).toBe('PUBLISH 192.0.2.1:5070 sip:11@example.test a-1');
    const before = h.sent().length;
    // Timer F: no answer from a (RFC 3261 §17.1.2.2).
    await h.clock.advance(TIMER_F);
    expect(h.sent().slice(before).sort()).toEqual(['PUBLISH 192.0.2.2:5080 sip:11@example.test -', 'PUBLISH 192.0.2.2:5080 sip:12@example.test -']);
    for (const r of h.open().filter((r) => r.method === 'PUBLISH')) await h.reply(r, 200, `b-${r.uri}`);
    await change;
    expect(h.details()).toMatchObject({
      publishingTo: 'b.example.test:5080',
      lastMove: { from: 'a.example.test:5070', to: 'b.example.test:5080', because: 'no answer (408) from a.example.test:5070' },
    });
    expect((h.sink.details() as { failingPublications: number }).failingPublications).toBe(0);
    await h.sink.close();
  });

  it('a 503 or a transport error moves on at once; once every server failed, the publication backs off and starts again at the first', async () => {
    const h = harness();
    const done = h.deliver(1).catch((err: Error) => err);
    await h.clock.advance(0);
    await h.reply(h.open()[0]!, 503);
    expect(h.sent()).toEqual(['PUBLISH 192.0.2.1:5070 sip:11@example.test -', 'PUBLISH 192.0.2.2:5080 sip:11@example.test -']);
    expect(h.details().lastMove?.because).toBe('503 Service Unavailable from a.example.test:5070');
    await h.reply(h.open()[0]!, 503);
    // Both failed: the delivery fails (the pipeline retries it) and the publisher backs off, to try a first again.
    expect(await done).toBeInstanceOf(Error);
    expect(h.details()).toMatchObject({ publishingTo: 'a.example.test:5070', lastMove: { because: '503 Service Unavailable from b.example.test:5080, the last server' } });
    expect(h.sent()).toHaveLength(2);
    while (h.sent().length === 2) await h.clock.advance(500);
    expect(h.sent()[2]).toBe('PUBLISH 192.0.2.1:5070 sip:11@example.test -');
    await h.reply(h.open()[0]!, 200, 'a-1');
    // A transport error (a refused connection) is a failure of that server too: a, then b, then backoff.
    h.transport.failure = new Error('connection refused');
    const refused = h.deliver(1, AWAY).catch((err: Error) => err.message);
    await h.clock.advance(0);
    expect(await refused).toContain('connection refused');
    expect(h.details().lastMove?.because).toMatch(/connection refused from b\.example\.test:5080, the last server$/);
    await h.sink.close();
  });

  it('a removal the server holding the publication does not take moves the others on, but is not made at the next server (it holds nothing by that etag): the publisher asks the holder again itself, the delivery done', async () => {
    const h = harness();
    for (const i of [1, 2]) await h.published(i, `a-${i}`);
    const removal = { tenantId: 'acme', personId: 'p1', version: 5 };
    const done = h.sink.deliver(removal);
    await h.clock.advance(0);
    const before = h.sent().length;
    expect(h.sent().at(-1)).toBe('PUBLISH 192.0.2.1:5070 sip:11@example.test a-1');
    await h.reply(h.open()[0]!, 503);
    // Done as far as the target goes (b, where everyone is now, says nothing of it): not its failure, nor its answer.
    expect(await done).toBe('unchanged');
    // Like any request's failure (RFC 3263 §4.3): the target moves to b, and p2's publication follows at once; p1's removal does not go there.
    expect(h.details()).toMatchObject({ publishingTo: 'b.example.test:5080', lastMove: { because: '503 Service Unavailable from a.example.test:5070' } });
    expect(h.sent().slice(before)).toEqual(['PUBLISH 192.0.2.2:5080 sip:12@example.test -']);
    await h.reply(h.open()[0]!, 200, 'b-2');
    // The removal's retry, after the publication's backoff (2 s, jittered down): to a, which still shows p1 to its watchers, by its etag.
    await h.clock.advance(1500);
    expect(h.sent().slice(before)).toHaveLength(1);
    await h.clock.advance(500);
    expect(h.sent().at(-1)).toBe('PUBLISH 192.0.2.1:5070 sip:11@example.test a-1');
    await h.reply(h.open()[0]!, 200, 'a-1');
    // Nothing is left of p1: the ledger is told, so their entry goes rather than have each later owner ask that removal again.
    expect([...h.readdressed].filter(([id]) => id === 'p1')).toEqual([['p1', undefined]]);
    await h.clock.advance(600_000);
    const publishes = () => h.sent().slice(before).filter((r) => r.startsWith('PUBLISH'));
    // Answered: nothing more of p1; p2's refresh at b.
    expect(publishes().slice(0, 3)).toEqual(['PUBLISH 192.0.2.2:5080 sip:12@example.test -', 'PUBLISH 192.0.2.1:5070 sip:11@example.test a-1', 'PUBLISH 192.0.2.2:5080 sip:12@example.test b-2']);
    expect(await h.sink.deliver(removal)).toBe('unchanged');
    expect(publishes().filter((r) => r.includes('sip:11@'))).toHaveLength(1);
    await h.sink.close();
  });

  it('a new extension whose old publication the server holding it did not remove moves on and publishes the new one at the next server; the old one is still asked to be removed there, by its etag', async () => {
    const h = harness();
    const before = await movedOnFromRemoval(h);
    expect(h.sent().slice(before).sort()).toEqual(['PUBLISH 192.0.2.2:5080 sip:12@example.test -', 'PUBLISH 192.0.2.2:5080 sip:19@example.test -']);
    // The old publication's removal, after the publication's backoff (2 s, jittered down): to a, which still shows it to its watchers.
    await h.clock.advance(2000);
    expect(h.sent().slice(before + 2)).toEqual(['PUBLISH 192.0.2.1:5070 sip:11@example.test a-1']);
    await h.reply(h.open()[0]!, 200, 'a-1');
    expect((h.sink.details() as { publications: unknown }).publications).toEqual({ published: 2 });
    // Answered: nothing more of the old presentity.
    await h.clock.advance(600_000);
    expect(h.sent().filter((r) => r.includes('sip:11@'))).toHaveLength(3);
    await h.sink.close();
  });

  it('an old presentity left to its publisher is in the ledger with the server holding it, until that server takes its removal', async () => {
    const h = harness();
    await movedOnFromRemoval(h);
    const moved = { tenantId: 'acme', personId: 'p1', person: { ...person(1), extension: '19' } as Person, presence: PRESENCE, version: 1 };
    const newOne = { presentity: 'sip:19@example.test', etag: 'b-sip:19@example.test', expiresAt: T0 + 600_000, server: { host: 'b.example.test', port: 5080 } };
    // Recorded with the delivery of the new presentity: a replica taking the target over finishes the removal.
    expect(parsePublicationAddress(h.sink.addressOf(moved))).toEqual({
      held: newOne,
      leaving: [{ presentity: 'sip:11@example.test', etag: 'a-1', expiresAt: T0 + 600_000, server: { host: 'a.example.test', port: 5070 } }],
    });
    await h.clock.advance(2000);
    await h.reply(h.open()[0]!, 200);
    // Taken: the ledger is told, without a delivery, that only the new presentity's publication is left.
    expect(parsePublicationAddress(h.readdressed.get('p1'))).toEqual({ held: newOne, leaving: [] });
    expect(parsePublicationAddress(h.sink.addressOf(moved))).toEqual({ held: newOne, leaving: [] });
    await h.sink.close();
  });

  it('a removal a previous owner left under way is asked again of the server holding it (not where requests go first), by its etag, until answered', async () => {
    const h = harness();
    // Someone deleted: nothing kept up for them, an old publication at b, the least preferred server, still to remove.
    const leaving = [{ presentity: 'sip:11@example.test', etag: 'b-1', expiresAt: T0 + 600_000, server: { host: 'b.example.test', port: 5080 } }];
    h.sink.adopt('p1', undefined, publicationAddress({ leaving }));
    await h.clock.advance(0);
    expect(h.sent()).toEqual(['PUBLISH 192.0.2.2:5080 sip:11@example.test b-1']);
    expect(h.transport.requests()[0]!.headers.get('expires')).toBe('0');
    expect(parsePublicationAddress(h.sink.addressOf({ tenantId: 'acme', personId: 'p1', version: 2 }))).toEqual({ leaving });
    // Not taken: asked again there on its own backoff (2 s), nobody waiting on it; requests still go to a first.
    await h.reply(h.open()[0]!, 503);
    await h.clock.advance(2000);
    expect(h.sent()).toEqual(['PUBLISH 192.0.2.2:5080 sip:11@example.test b-1', 'PUBLISH 192.0.2.2:5080 sip:11@example.test b-1']);
    expect(h.readdressed.has('p1')).toBe(false);
    await h.reply(h.open()[0]!, 200);
    // Done: nothing is left of p1 on the target, and their entry goes from the ledger.
    expect([...h.readdressed]).toEqual([['p1', undefined]]);
    await h.clock.advance(600_000);
    expect(h.sent()).toHaveLength(2);
    expect(h.sink.addressOf({ tenantId: 'acme', personId: 'p1', version: 2 })).toBeUndefined();
    await h.sink.close();
  });

  it('an old presentity left to its publisher keeps being asked to be removed when the requests come back to its server and it answers a 5xx there: nobody else will ask', async () => {
    const h = harness();
    await movedOnFromRemoval(h);
    // b fails in turn: past the last server, requests go back to a.
    const away = h.deliver(2, AWAY);
    await h.clock.advance(0);
    await h.reply(h.open()[0]!, 503);
    await h.reply(h.open()[0]!, 200, 'a-2');
    await away;
    expect(h.details().publishingTo).toBe('a.example.test:5070');
    const removals = () => h.sent().filter((r) => r === 'PUBLISH 192.0.2.1:5070 sip:11@example.test a-1');
    await h.clock.advance(2000);
    expect(removals()).toHaveLength(2);
    await h.reply(h.open()[0]!, 500);
    // Its own backoff (4 s after two failures): then answered, it is done.
    await h.clock.advance(4000);
    expect(removals()).toHaveLength(3);
    await h.reply(h.open()[0]!, 200);
    await h.clock.advance(600_000);
    expect(removals()).toHaveLength(3);
    await h.sink.close();
  });

  it('a removal left at a server that went dead while the others publish at the next one does not hold the target as failing: the others stay kept up there', async () => {
    const h = harness();
    for (const i of [1, 2]) await h.published(i, `a-${i}`);
    const runner = new TargetRunner(TARGET, h.sink, h.clock, { coalesceMs: 0, retryBaseMs: 1000, retryCapMs: 60_000, failingAfter: 3, random: () => 0.5 }, new Metrics(false), silentLogger);
    const via = (r: SipRequest) => r.headers.get('via')!;
    /** b answers everything sent to it; a (dead) nothing. */
    const bAnswers = async () => {
      const toB = new Set(h.transport.sent.filter((s) => s.to.port === 5080).map((s) => via(s.message as SipRequest)));
      for (const r of h.open()) if (toB.has(via(r))) await h.reply(r, 200, `b-${r.uri}`);
    };
    // p1 deleted (a quiet tenant: nothing else changes): its removal goes to a, which does not answer.
    runner.offer({ tenantId: 'acme', personId: 'p1', version: 5 });
    const states = new Set<string>();
    for (let t = 0; t < 900; t++) {
      await h.clock.advance(1000);
      await bAnswers();
      states.add(runner.status().state);
    }
    expect(h.details().publishingTo).toBe('b.example.test:5080');
    expect(states).not.toContain('failing');
    // p2's publication, made at b when the requests moved there, is refreshed there (85 % of 600 s) rather than left to lapse.
    expect(h.sent().filter((r) => r.startsWith('PUBLISH 192.0.2.2:5080 sip:12@example.test b-')).length).toBeGreaterThan(0);
    await runner.close(undefined);
  });

  it('goes back to the preferred server when the SRV set is looked up again and that server answers, continuing what it still holds there', async () => {
    const h = harness();
    await h.published(1, 'a-1');
    const change = h.deliver(1, AWAY);
    await h.clock.advance(0);
    await h.reply(h.open()[0]!, 503);
    await h.reply(h.open()[0]!, 200, 'b-1');
    await change;
    expect(h.details().publishingTo).toBe('b.example.test:5080');
    // Past the SRV answer's TTL (60 s), the next request looks it up again, and asks a whether it answers.
    await h.clock.advance(Math.max(60_000, RETURN_CHECK_MS));
    const back = h.deliver(1, { ...PRESENCE, version: 3 });
    await h.clock.advance(0);
    expect(h.dns.lookups).toHaveLength(2);
    const options = h.open().find((r) => r.method === 'OPTIONS')!;
    expect(options.uri).toBe('sip:a.example.test:5070');
    await h.reply(h.open().find((r) => r.method === 'PUBLISH')!, 200, 'b-2');
    await back;
    await h.reply(options, 200);
    expect(h.details()).toMatchObject({ publishingTo: 'a.example.test:5070', lastMove: { from: 'b.example.test:5080', to: 'a.example.test:5070', because: 'a.example.test:5070 answers again' } });
    // a still holds the publication it acknowledged before the fail-over (not expired): modified by its etag, not one beside it.
    expect(h.sent().at(-1)).toBe('PUBLISH 192.0.2.1:5070 sip:11@example.test a-1');
    await h.sink.close();
  });

  it('a preferred server that still does not answer keeps the publications where they are, and is asked again only after a while', async () => {
    const h = harness();
    const first = h.deliver(1);
    await h.clock.advance(0);
    await h.reply(h.open()[0]!, 503);
    await h.reply(h.open()[0]!, 200, 'b-1');
    await first;
    await h.clock.advance(60_000);
    void h.deliver(1, AWAY);
    await h.clock.advance(0);
    const options = h.open().find((r) => r.method === 'OPTIONS')!;
    await h.reply(options, 503);
    expect(h.details().publishingTo).toBe('b.example.test:5080');
    await h.clock.advance(MIN_TTL_MS);
    void h.deliver(1, { ...PRESENCE, version: 3 });
    await h.clock.advance(0);
    expect(h.transport.requests('OPTIONS')).toHaveLength(1);
    await h.sink.close();
  });

  it('new SRV records that no longer list the server in use move the publications to the first of them', async () => {
    const h = harness();
    await h.published(1, 'a-1');
    h.dns.answer = [srv('b.example.test', 5080, 10, 0, 60)];
    await h.clock.advance(60_000);
    const next = h.deliver(1, AWAY);
    await h.clock.advance(0);
    // The request that looked them up again went where they pointed until then; the next goes to the new set.
    expect(h.details()).toMatchObject({ publishingTo: 'b.example.test:5080', lastMove: { because: 'the SRV records changed' } });
    await h.reply(h.open()[0]!, 200, 'a-2');
    expect(h.sent().slice(1)).toEqual(['PUBLISH 192.0.2.1:5070 sip:11@example.test a-1', 'PUBLISH 192.0.2.2:5080 sip:11@example.test -']);
    await h.reply(h.open()[0]!, 200, 'b-1');
    await next;
    await h.sink.close();
  });

  it('dialog watches wait for the servers to be known, and start over at the server the publications moved to', async () => {
    const h = harness(undefined, { ...TARGET, subscribeDialog: true }, [person(1)]);
    await h.clock.advance(0);
    expect(h.sent()).toEqual(['SUBSCRIBE 192.0.2.1:5070 sip:11@example.test -']);
    await h.reply(h.open()[0]!, 503);
    void h.deliver(1);
    await h.clock.advance(0);
    await h.reply(h.open().find((r) => r.method === 'PUBLISH')!, 503);
    expect(h.details().publishingTo).toBe('b.example.test:5080');
    expect(h.sent().filter((r) => r.startsWith('SUBSCRIBE')).at(-1)).toBe('SUBSCRIBE 192.0.2.2:5080 sip:11@example.test -');
    await h.sink.close();
  });

  it(`dialog watches start over at the server the requests moved to in turn, ${WATCHES_RESUMED_PER_SECOND} a second, not all at one instant`, async () => {
    const h = harness(undefined, { ...TARGET, subscribeDialog: true }, [person(1), person(2), person(3)]);
    await h.clock.advance(0);
    for (const r of h.open()) await h.reply(r, 200);
    void h.deliver(1);
    await h.clock.advance(0);
    await h.reply(h.open().find((r) => r.method === 'PUBLISH')!, 503);
    expect(h.details().publishingTo).toBe('b.example.test:5080');
    const atB = () => h.sent().filter((r) => r.startsWith('SUBSCRIBE 192.0.2.2:5080'));
    expect(atB()).toEqual(['SUBSCRIBE 192.0.2.2:5080 sip:11@example.test -']);
    const step = 1000 / WATCHES_RESUMED_PER_SECOND;
    await h.clock.advance(step - 1);
    expect(atB()).toHaveLength(1);
    await h.clock.advance(1);
    expect(atB()).toHaveLength(2);
    await h.clock.advance(step);
    expect(atB()).toEqual(['SUBSCRIBE 192.0.2.2:5080 sip:11@example.test -', 'SUBSCRIBE 192.0.2.2:5080 sip:12@example.test -', 'SUBSCRIBE 192.0.2.2:5080 sip:13@example.test -']);
    await h.sink.close();
  });

  it('a dialog watch whose own re-subscription falls due before its paced turn at the server the requests moved to waits for that turn: one SUBSCRIBE there, not two', async () => {
    const h = harness(undefined, { ...TARGET, subscribeDialog: true }, [person(1), person(2), person(3)]);
    await h.clock.advance(0);
    // 11 and 12 subscribed at a; 13 was refused, and re-subscribes on its own backoff (2 s, no jitter here).
    const [s1, s2, s3] = h.open().filter((r) => r.method === 'SUBSCRIBE');
    for (const r of [s1!, s2!]) await h.reply(r, 200, 'dialog');
    await h.reply(s3!, 500);
    const retryAt = h.clock.now() + 2000;
    // A move not during a failure, just before 13's retry: its turn at b comes two gaps after 11's, past its retry.
    await h.clock.advanceTo(retryAt - 1000 / WATCHES_RESUMED_PER_SECOND);
    void h.deliver(1);
    await h.clock.advance(0);
    await h.reply(h.open().find((r) => r.method === 'PUBLISH')!, 503);
    expect(h.details().publishingTo).toBe('b.example.test:5080');
    await h.clock.advance(1000);
    const at = (uri: string) => h.sent().filter((r) => r.startsWith(`SUBSCRIBE 192.0.2.2:5080 ${uri}`));
    expect([at('sip:11@'), at('sip:12@'), at('sip:13@')].map((s) => s.length)).toEqual([1, 1, 1]);
    await h.sink.close();
  });

  it('while its target is failing (held), a probe that moves on to the next server takes nobody else there: the others and the dialog watches follow once it answers', async () => {
    const h = harness(undefined, { ...TARGET, subscribeDialog: true }, [person(1), person(2), person(3)]);
    await h.clock.advance(0);
    for (const r of h.open().filter((r) => r.method === 'SUBSCRIBE')) await h.reply(r, 503);
    for (const i of [1, 2, 3]) await h.published(i, `a-${i}`);
    h.sink.hold(true);
    const before = h.sent().length;
    // The runner's probe: p1's change, refused by a, then tried at b (no answer from either).
    const probe = h.deliver(1, AWAY).catch((err: Error) => err);
    await h.clock.advance(0);
    await h.reply(h.open().find((r) => r.method === 'PUBLISH')!, 503);
    await h.clock.advance(0);
    expect(h.details().publishingTo).toBe('b.example.test:5080');
    await h.reply(h.open().find((r) => r.method === 'PUBLISH')!, 503);
    expect(await probe).toBeInstanceOf(Error);
    await h.clock.advance(60_000);
    const publishes = (from: number) => h.sent().slice(from).filter((r) => r.startsWith('PUBLISH'));
    expect(publishes(before)).toEqual(['PUBLISH 192.0.2.1:5070 sip:11@example.test a-1', 'PUBLISH 192.0.2.2:5080 sip:11@example.test -']);
    // The next probe: refused by a again (requests started over there), and b is tried by the one after.
    const second = h.deliver(1, AWAY).catch((err: Error) => err);
    await h.clock.advance(0);
    await h.reply(h.open().find((r) => r.method === 'PUBLISH')!, 503);
    expect(await second).toBeInstanceOf(Error);
    const third = h.deliver(1, AWAY);
    await h.clock.advance(0);
    const atB = h.sent().length;
    await h.reply(h.open().find((r) => r.method === 'PUBLISH')!, 200, 'b-1');
    await third;
    expect(publishes(before)).toEqual([
      'PUBLISH 192.0.2.1:5070 sip:11@example.test a-1',
      'PUBLISH 192.0.2.2:5080 sip:11@example.test -',
      'PUBLISH 192.0.2.1:5070 sip:11@example.test a-1',
      'PUBLISH 192.0.2.2:5080 sip:11@example.test -',
    ]);
    // b answers: released, everyone follows there, and the dialog watches start over there, paced.
    h.sink.hold(false);
    await h.clock.advance(0);
    expect(h.sent().slice(atB).filter((r) => r.startsWith('SUBSCRIBE'))).toEqual(['SUBSCRIBE 192.0.2.2:5080 sip:11@example.test -']);
    await h.clock.advance(2000 / WATCHES_RESUMED_PER_SECOND);
    expect(h.sent().slice(atB).filter((r) => !r.startsWith('OPTIONS')).sort()).toEqual([
      'PUBLISH 192.0.2.2:5080 sip:12@example.test -',
      'PUBLISH 192.0.2.2:5080 sip:13@example.test -',
      'SUBSCRIBE 192.0.2.2:5080 sip:11@example.test -',
      'SUBSCRIBE 192.0.2.2:5080 sip:12@example.test -',
      'SUBSCRIBE 192.0.2.2:5080 sip:13@example.test -',
    ]);
    await h.sink.close();
  });

  it('dialog watches still to start over at the server the requests moved to do so after a hold that cut their paced resumption short', async () => {
    const h = harness(undefined, { ...TARGET, subscribeDialog: true }, [person(1), person(2), person(3)]);
    await h.clock.advance(0);
    // Each watch subscribed at a (accepted; everything below stays within Timer N, so none fails by itself).
    for (const r of h.open().filter((r) => r.method === 'SUBSCRIBE')) await h.reply(r, 200, 'dialog');
    h.sink.hold(true);
    // The probe: refused by a, accepted by b.
    const probe = h.deliver(1);
    await h.clock.advance(0);
    await h.reply(h.open().find((r) => r.method === 'PUBLISH')!, 503);
    await h.reply(h.open().find((r) => r.method === 'PUBLISH')!, 200, 'b-1');
    await probe;
    expect(h.details().publishingTo).toBe('b.example.test:5080');
    const atB = h.sent().length;
    const subscribesAtB = () => h.sent().slice(atB).filter((r) => r.startsWith('SUBSCRIBE'));
    // Released: 11 starts over at b; before 12 and 13 do, the target fails again, and answers again.
    h.sink.hold(false);
    await h.clock.advance(0);
    expect(subscribesAtB()).toEqual(['SUBSCRIBE 192.0.2.2:5080 sip:11@example.test -']);
    h.sink.hold(true);
    await h.clock.advance(1000);
    h.sink.hold(false);
    await h.clock.advance(1000);
    // 12 and 13 still hold dialogs at a, which no longer hears from us (and may be down): they start over at b too.
    expect(subscribesAtB().sort()).toEqual(['SUBSCRIBE 192.0.2.2:5080 sip:11@example.test -', 'SUBSCRIBE 192.0.2.2:5080 sip:12@example.test -', 'SUBSCRIBE 192.0.2.2:5080 sip:13@example.test -']);
    await h.sink.close();
  });

  describe('a publication a previous owner made at the second server, while requests go to the first', () => {
    const atB = (expiresAt: number) => publicationAddress({ held: { presentity: 'sip:11@example.test', etag: 'b-1', expiresAt, server: { host: 'b.example.test', port: 5080 } }, leaving: [] });

    it('is removed there, by its etag, not where requests go (which never issued it, and would leave it standing)', async () => {
      const h = harness();
      h.sink.adopt('p1', undefined, atB(T0 + 600_000));
      const done = h.sink.deliver({ tenantId: 'acme', personId: 'p1', version: 2 });
      await h.clock.advance(0);
      expect(h.sent()).toEqual(['PUBLISH 192.0.2.2:5080 sip:11@example.test b-1']);
      expect(h.transport.requests()[0]!.headers.get('expires')).toBe('0');
      await h.reply(h.open()[0]!, 200);
      expect(await done).toBeUndefined();
      await h.sink.close();
    });

    it('is published afresh where requests go when its refresh is due, not refreshed there by an etag it never issued (a 412, and every publication rechecked)', async () => {
      const h = harness();
      await h.published(2, 'a-2');
      h.sink.adopt('p1', person(1), atB(T0 + 60_000), PRESENCE);
      await h.clock.advance(0);
      expect(h.sent().slice(1)).toEqual(['PUBLISH 192.0.2.1:5070 sip:11@example.test -']);
      await h.reply(h.open()[0]!, 200, 'a-1');
      // The ledger learns where it is now.
      expect(parsePublicationAddress(h.readdressed.get('p1'))?.held).toEqual({ presentity: 'sip:11@example.test', etag: 'a-1', expiresAt: T0 + 600_000, server: { host: 'a.example.test', port: 5070 } });
      await h.clock.advance(1000);
      expect(h.sent()).toHaveLength(2);
      await h.sink.close();
    });
  });

  it("a publication taken over from another replica is refreshed at the SRV servers, not at the name's own address", async () => {
    const h = harness();
    // Due for its refresh now: it expires in a minute, and refreshes come 15 % of 600 s before.
    h.sink.adopt('p1', person(1), publicationAddress({ held: { presentity: 'sip:11@example.test', etag: 'x-1', expiresAt: T0 + 60_000 }, leaving: [] }), PRESENCE);
    await h.clock.advance(0);
    expect(h.sent()).toEqual(['PUBLISH 192.0.2.1:5070 sip:11@example.test x-1']);
    await h.sink.close();
  });
});
