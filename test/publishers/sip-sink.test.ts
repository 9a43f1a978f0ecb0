import { describe, expect, it } from 'vitest';
import type { Person } from '../../shared/domain/directory.js';
import type { Presence } from '../../shared/domain/presence.js';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import { silentLogger } from '../../shared/log/logger.js';
import type { PresenceEngine } from '../../services/merger/engine.js';
import { healthOf, MAX_PUBLISHES_IN_FLIGHT, SipSink } from '../../services/publishers/sip/sip-sink.js';
import { WATCHES_RESUMED_PER_SECOND } from '../../services/publishers/sip/watch-pacer.js';
import { DeliveryError } from '../../services/publishers/http-client.js';
import { SipStack } from '../../services/publishers/sip/sip-stack.js';
import { sendAddress } from '../../services/publishers/ssrf-guard.js';
import type { SipRequest } from '../../shared/sip/message.js';
import { setup, SIP_TARGET, T0 } from '../sip/helpers.js';

const TARGET = SIP_TARGET;
const PRESENCE = { availability: 'available', activity: 'available', routable: true, since: T0, version: 1 } as Presence;
const person = (i: number) => ({ id: `p${i}`, tenantId: 'acme', name: `P ${i}`, extension: `1${i}`, teams: [] }) as unknown as Person;

/** p1's state published, the server answering with entity-tag e1 for 600 s. */
async function publishedAsE1(h: ReturnType<typeof setup>, sink: SipSink): Promise<void> {
  const first = sink.deliver({ tenantId: 'acme', personId: 'p1', person: person(1), presence: PRESENCE, version: 1 });
  await h.clock.advance(0);
  h.transport.respond(h.transport.lastRequest('PUBLISH'), 200, [['SIP-ETag', 'e1'], ['Expires', '600']]);
  await first;
}

describe('SIP sink', () => {
  it(`waits on at most ${MAX_PUBLISHES_IN_FLIGHT} PUBLISHes at once, and sends the next as each is answered`, async () => {
    const h = setup();
    const sink = new SipSink(TARGET, undefined, h.core, {} as PresenceEngine, silentLogger, []);
    const people = MAX_PUBLISHES_IN_FLIGHT + 36;
    const done = Array.from({ length: people }, (_, i) => sink.deliver({ tenantId: 'acme', personId: `p${i}`, person: person(i), presence: PRESENCE, version: 1 }));
    await h.clock.advance(0);
    expect(h.transport.requests('PUBLISH')).toHaveLength(MAX_PUBLISHES_IN_FLIGHT);
    const answered = new Set<string>();
    /** Answers up to `n` of the PUBLISHes not answered yet, oldest first. */
    const answer = async (n: number) => {
      const open = h.transport.requests('PUBLISH').filter((r) => !answered.has(r.headers.get('via')!)).slice(0, n);
      for (const r of open) {
        answered.add(r.headers.get('via')!);
        h.transport.respond(r, 200, [['SIP-ETag', `e-${r.uri}`], ['Expires', '600']]);
      }
      await h.clock.advance(0);
      return open.length;
    };
    await answer(10);
    expect(h.transport.requests('PUBLISH')).toHaveLength(MAX_PUBLISHES_IN_FLIGHT + 10);
    while ((await answer(people)) > 0) expect(h.transport.requests('PUBLISH').length - answered.size).toBeLessThanOrEqual(MAX_PUBLISHES_IN_FLIGHT);
    expect(answered.size).toBe(people);
    await Promise.all(done);
    expect(new Set(h.transport.requests('PUBLISH').map((r) => r.uri)).size).toBe(people);
    await sink.close();
  });

  it('sends each request to the address its server name resolves to when it goes out, never to one the guard refuses since (DNS rebinding), and retries', async () => {
    const h = setup();
    const dns: Record<string, string> = { 'pbx.example.test': '93.184.216.34' };
    const resolve = async (host: string) => (dns[host] ? [{ address: dns[host]!, family: 4 }] : []);
    const target = { ...TARGET, server: 'sip:pbx.example.test:5070', subscribeDialog: true };
    const sink = new SipSink(target, undefined, h.core, {} as PresenceEngine, silentLogger, [person(1)], undefined, (host) => sendAddress(host, false, resolve));
    const sentTo = () => h.transport.sent.filter((m) => m.message.kind === 'request').map((m) => `${(m.message as SipRequest).method} ${m.to.host}:${m.to.port}`);
    const first = sink.deliver({ tenantId: 'acme', personId: 'p1', person: person(1), presence: PRESENCE, version: 1 });
    await h.clock.advance(0);
    expect(new Set(sentTo())).toEqual(new Set(['SUBSCRIBE 93.184.216.34:5070', 'PUBLISH 93.184.216.34:5070']));
    h.transport.respond(h.transport.lastRequest('PUBLISH'), 200, [['SIP-ETag', 'e1'], ['Expires', '600']]);
    await first;
    const before = h.transport.sent.length;
    for (const [i, address, reason] of [
      [2, '127.0.0.1', 'resolves to the private address 127.0.0.1'],
      [3, '169.254.169.254', 'resolves to 169.254.169.254, which is never allowed'],
    ] as const) {
      dns['pbx.example.test'] = address;
      const refused = await sink.deliver({ tenantId: 'acme', personId: `p${i}`, person: person(i), presence: PRESENCE, version: 1 }).catch((err: Error) => err);
      expect(refused).toBeInstanceOf(DeliveryError);
      expect((refused as Error).message).toContain(`not sent to pbx.example.test: pbx.example.test ${reason}`);
      // Retried, refreshed and resubscribed meanwhile: refused every time.
      await h.clock.advance(10 * 60_000);
    }
    // Only the first SUBSCRIBE's retransmissions went out meanwhile, to the address it was checked for.
    expect(new Set(sentTo().slice(before))).toEqual(new Set(['SUBSCRIBE 93.184.216.34:5070']));
    // The name points at the PBX again: the retries go out, to the address it gives now.
    dns['pbx.example.test'] = '93.184.216.35';
    const after = h.transport.sent.length;
    await h.clock.advance(10 * 60_000);
    expect(new Set(sentTo().slice(after))).toEqual(new Set(['SUBSCRIBE 93.184.216.35:5070', 'PUBLISH 93.184.216.35:5070']));
    await sink.close();
  });

  describe('one publication failing, the others', () => {
    /** p1 and p2 published (etags e1, e2), then p1 changes and its modify is answered with `answer`. */
    async function failOne(answer: number | 'timeout') {
      const h = setup();
      const sink = new SipSink(TARGET, undefined, h.core, {} as PresenceEngine, silentLogger, []);
      /** Each PUBLISH transaction once (UDP retransmissions left out): presentity and SIP-If-Match. */
      const publishes = () => {
        const seen = new Map<string, [string, string | null]>();
        for (const r of h.transport.requests('PUBLISH')) seen.set(r.headers.get('via')!, [r.uri, r.headers.get('sip-if-match') ?? null]);
        return [...seen.values()];
      };
      for (const i of [1, 2]) {
        const done = sink.deliver({ tenantId: 'acme', personId: `p${i}`, person: person(i), presence: PRESENCE, version: 1 });
        await h.clock.advance(0);
        h.transport.respond(h.transport.lastRequest('PUBLISH'), 200, [['SIP-ETag', `e${i}`], ['Expires', '600']]);
        await done;
      }
      await h.clock.advance(10_000);
      const away = { ...PRESENCE, availability: 'away', activity: 'away', version: 2 } as Presence;
      const failed = sink.deliver({ tenantId: 'acme', personId: 'p1', person: person(1), presence: away, version: 2 }).catch((err: Error) => err);
      await h.clock.advance(0);
      if (answer === 'timeout') await h.clock.advance(32_000);
      else h.transport.respond(h.transport.lastRequest('PUBLISH'), answer);
      await h.clock.advance(0);
      return { h, sink, failed, publishes };
    }

    it.each([500, 503, 'timeout'] as const)('after a %s to one modify, retries that one with its etag after a backoff and leaves the others alone', async (answer) => {
      const { h, sink, failed, publishes } = await failOne(answer);
      const modify: [string, string] = ['sip:11@example.test', 'e1'];
      expect(publishes()).toEqual([['sip:11@example.test', null], ['sip:12@example.test', null], modify]);
      expect(await failed).toBeInstanceOf(Error);
      // The backoff (2 s, jittered down by up to a fifth) ends: the same publication, modified by its etag.
      await h.clock.advance(2_000);
      expect(publishes()).toEqual([['sip:11@example.test', null], ['sip:12@example.test', null], modify, modify]);
      await sink.close();
    });

    it('after a 412 (the server lost the entity-tag, so maybe all of them) publishes that one afresh and refreshes every other at once', async () => {
      const { sink, publishes } = await failOne(412);
      expect(publishes()).toEqual([
        ['sip:11@example.test', null],
        ['sip:12@example.test', null],
        ['sip:11@example.test', 'e1'],
        ['sip:12@example.test', 'e2'],
        ['sip:11@example.test', null],
      ]);
      await sink.close();
    });
  });

  it('while its target is failing (held), its publications neither refresh nor retry by themselves; deliveries still go out; released, what fell due goes out', async () => {
    const h = setup();
    const sink = new SipSink(TARGET, undefined, h.core, {} as PresenceEngine, silentLogger, []);
    /** Each PUBLISH transaction once (UDP retransmissions left out). */
    const publishes = () => new Set(h.transport.requests('PUBLISH').map((r) => r.headers.get('via'))).size;
    for (const i of [1, 2]) {
      const done = sink.deliver({ tenantId: 'acme', personId: `p${i}`, person: person(i), presence: PRESENCE, version: 1 });
      await h.clock.advance(0);
      h.transport.respond(h.transport.lastRequest('PUBLISH'), 200, [['SIP-ETag', `e${i}`], ['Expires', '600']]);
      await done;
    }
    sink.hold(true);
    // Past the refreshes (at 85 % of 600 s) and into the publications' expiry: nothing.
    await h.clock.advance(20 * 60_000);
    expect(publishes()).toBe(2);
    // The runner's probe: it goes out, fails, and is not retried by the publication itself.
    const away = { ...PRESENCE, availability: 'away', activity: 'away', version: 2 } as Presence;
    const probe = sink.deliver({ tenantId: 'acme', personId: 'p1', person: person(1), presence: away, version: 2 }).catch((err: Error) => err);
    await h.clock.advance(0);
    expect(publishes()).toBe(3);
    h.transport.respond(h.transport.lastRequest('PUBLISH'), 503);
    expect(await probe).toBeInstanceOf(DeliveryError);
    await h.clock.advance(20 * 60_000);
    expect(publishes()).toBe(3);
    // The next probe goes out at once, not after the publication's own backoff.
    void sink.deliver({ tenantId: 'acme', personId: 'p1', person: person(1), presence: away, version: 2 }).catch(() => undefined);
    await h.clock.advance(0);
    expect(publishes()).toBe(4);
    h.transport.respond(h.transport.lastRequest('PUBLISH'), 503);
    await h.clock.advance(0);
    // Released: p2's publication, expired meanwhile, is published afresh; p1's waits for its delivery (the runner flushes it).
    sink.hold(false);
    await h.clock.advance(0);
    expect(h.transport.requests('PUBLISH').slice(-1).map((r) => [r.uri, r.headers.get('sip-if-match') ?? null])).toEqual([['sip:12@example.test', null]]);
    await sink.close();
  });

  it(`while its target is failing (held), its dialog watches neither re-subscribe nor refresh by themselves; released, those due go out, ${WATCHES_RESUMED_PER_SECOND} a second`, async () => {
    const h = setup();
    const sink = new SipSink({ ...TARGET, subscribeDialog: true }, undefined, h.core, {} as PresenceEngine, silentLogger, [person(1), person(2), person(3), person(4)]);
    /** Each SUBSCRIBE transaction once (UDP retransmissions left out), by the extension it watches. */
    const subscribes = () => [...new Map(h.transport.requests('SUBSCRIBE').map((r) => [r.headers.get('via'), r.headers.get('to')!.replace(/^<?sip:(\d+)@.*$/, '$1')])).values()];
    await h.clock.advance(0);
    const [first, second, third] = h.transport.requests('SUBSCRIBE');
    // 11 accepted but never notified (Timer N), 12 and 13 refused, 14 unanswered (Timer F): each re-subscribed after a backoff of 2 s, doubling.
    h.transport.respond(first!, 200, [['Expires', '600']]);
    h.transport.respond(second!, 503);
    h.transport.respond(third!, 503);
    await h.clock.advance(0);
    sink.hold(true);
    await h.clock.advance(20 * 60_000);
    expect(subscribes()).toEqual(['11', '12', '13', '14']);
    expect(sink.watchHealth()).toEqual({ failing: 4 });
    // The target answers again: 11 re-subscribes now, 12, 13 and 14 each 1/WATCHES_RESUMED_PER_SECOND s after the one before.
    sink.hold(false);
    await h.clock.advance(0);
    expect(subscribes().slice(4)).toEqual(['11']);
    const step = 1000 / WATCHES_RESUMED_PER_SECOND;
    await h.clock.advance(step - 1);
    expect(subscribes().slice(4)).toEqual(['11']);
    await h.clock.advance(1);
    expect(subscribes().slice(4)).toEqual(['11', '12']);
    await h.clock.advance(step);
    expect(subscribes().slice(4)).toEqual(['11', '12', '13']);
    await h.clock.advance(step);
    expect(subscribes().slice(4)).toEqual(['11', '12', '13', '14']);
    await sink.close();
  });

  it.each([
    ['named alike', 'sip:192.0.2.1:5060'],
    ['one by its address, one by a name that resolves to it', 'sip:kam.example.test:5060'],
  ])(`dialog watches of two targets on one server (%s) resume there ${WATCHES_RESUMED_PER_SECOND} a second together, not each target at that pace`, async (_, server) => {
    const h = setup();
    const check = async (host: string) => (host === 'kam.example.test' ? '192.0.2.1' : host);
    const sinks = [
      new SipSink({ ...TARGET, subscribeDialog: true }, undefined, h.core, {} as PresenceEngine, silentLogger, [person(1), person(2)], undefined, check),
      new SipSink({ ...TARGET, server, id: 'kam2', subscribeDialog: true }, undefined, h.core, {} as PresenceEngine, silentLogger, [person(3), person(4)], undefined, check),
    ];
    /** Each SUBSCRIBE transaction once (UDP retransmissions left out), by the extension it watches. */
    const subscribes = () => [...new Map(h.transport.requests('SUBSCRIBE').map((r) => [r.headers.get('via'), r.headers.get('to')!.replace(/^<?sip:(\d+)@.*$/, '$1')])).values()];
    await h.clock.advance(0);
    for (const r of h.transport.requests('SUBSCRIBE')) h.transport.respond(r, 503);
    await h.clock.advance(0);
    for (const sink of sinks) sink.hold(true);
    await h.clock.advance(60_000);
    expect(subscribes()).toEqual(['11', '12', '13', '14']);
    for (const sink of sinks) sink.hold(false);
    await h.clock.advance(0);
    const step = 1000 / WATCHES_RESUMED_PER_SECOND;
    const resumed: string[][] = [];
    for (let i = 0; i < 4; i++) {
      resumed.push(subscribes().slice(4));
      await h.clock.advance(step);
    }
    expect(resumed).toEqual([['11'], ['11', '12'], ['11', '12', '13'], ['11', '12', '13', '14']]);
    for (const sink of sinks) await sink.close();
  });

  it('a removal the server did not take (no answer, 5xx) fails the delivery, so a failing target is not taken for answering again, and its retry asks that server again; one with nothing to remove asks nothing of it', async () => {
    const h = setup();
    const sink = new SipSink(TARGET, undefined, h.core, {} as PresenceEngine, silentLogger, []);
    const removal = (i: number) => ({ tenantId: 'acme', personId: `p${i}`, version: 5 });
    const done = sink.deliver({ tenantId: 'acme', personId: 'p1', person: person(1), presence: PRESENCE, version: 1 });
    await h.clock.advance(0);
    h.transport.respond(h.transport.lastRequest('PUBLISH'), 200, [['SIP-ETag', 'e1'], ['Expires', '600']]);
    await done;
    sink.hold(true);
    // p2's first PUBLISH is refused: the server holds nothing of them.
    const refused = sink.deliver({ tenantId: 'acme', personId: 'p2', person: person(2), presence: PRESENCE, version: 1 }).catch((err: Error) => err);
    await h.clock.advance(0);
    h.transport.respond(h.transport.lastRequest('PUBLISH'), 503);
    expect(await refused).toBeInstanceOf(DeliveryError);
    // p1 deleted: the removal (Expires 0) is not answered.
    const removed = sink.deliver(removal(1)).catch((err: Error) => err);
    await h.clock.advance(0);
    expect(h.transport.lastRequest('PUBLISH').headers.get('expires')).toBe('0');
    h.transport.respond(h.transport.lastRequest('PUBLISH'), 503);
    expect(await removed).toBeInstanceOf(DeliveryError);
    // Retried: asked of the server holding the publication again, by its etag; answered, nothing is left to ask.
    const again = sink.deliver(removal(1));
    await h.clock.advance(0);
    expect(h.transport.lastRequest('PUBLISH').headers.get('expires')).toBe('0');
    expect(h.transport.lastRequest('PUBLISH').headers.get('sip-if-match')).toBe('e1');
    h.transport.respond(h.transport.lastRequest('PUBLISH'), 200, [['SIP-ETag', 'e1'], ['Expires', '0']]);
    expect(await again).toBeUndefined();
    expect(await sink.deliver(removal(1))).toBe('unchanged');
    const before = h.transport.requests('PUBLISH').length;
    expect(await sink.deliver(removal(2))).toBe('unchanged');
    expect(h.transport.requests('PUBLISH')).toHaveLength(before);
    await sink.close();
  });

  it("a removal retried while the person was recreated (a new id, the same extension) asks only for the old publication, by its etag, never the new one's", async () => {
    const h = setup();
    const sink = new SipSink(TARGET, undefined, h.core, {} as PresenceEngine, silentLogger, []);
    const reborn = { ...person(1), id: 'p1-new' } as Person;
    const publish = async (p: Person, etag: string) => {
      const done = sink.deliver({ tenantId: 'acme', personId: p.id, person: p, presence: PRESENCE, version: 1 });
      await h.clock.advance(0);
      expect(h.transport.lastRequest('PUBLISH').headers.get('sip-if-match')).toBeUndefined();
      h.transport.respond(h.transport.lastRequest('PUBLISH'), 200, [['SIP-ETag', etag], ['Expires', '600']]);
      await done;
    };
    await publish(person(1), 'old');
    const removed = sink.deliver({ tenantId: 'acme', personId: 'p1', version: 5 }).catch((err: Error) => err);
    await h.clock.advance(0);
    h.transport.respond(h.transport.lastRequest('PUBLISH'), 500);
    expect(await removed).toBeInstanceOf(DeliveryError);
    // Recreated: a publication of its own (an initial PUBLISH), beside the old one the server may still hold.
    await publish(reborn, 'new');
    const retried = sink.deliver({ tenantId: 'acme', personId: 'p1', version: 5 });
    await h.clock.advance(0);
    const removal = h.transport.lastRequest('PUBLISH');
    expect([removal.uri, removal.headers.get('expires'), removal.headers.get('sip-if-match')]).toEqual(['sip:11@example.test', '0', 'old']);
    h.transport.respond(removal, 200, [['SIP-ETag', 'old'], ['Expires', '0']]);
    expect(await retried).toBeUndefined();
    // The new publication is untouched: refreshed by its own etag when due.
    const publishes = h.transport.requests('PUBLISH').length;
    await h.clock.advance(600_000 * 0.85);
    expect(h.transport.requests('PUBLISH').slice(publishes).map((r) => r.headers.get('sip-if-match'))).toContain('new');
    expect(h.transport.requests('PUBLISH').slice(publishes).map((r) => r.headers.get('sip-if-match'))).not.toContain('old');
    await sink.close();
  });

  it('a person back after a removal the server did not take has their state sent again: the server may have removed it without saying so', async () => {
    const h = setup();
    const sink = new SipSink(TARGET, undefined, h.core, {} as PresenceEngine, silentLogger, []);
    const deliver = () => sink.deliver({ tenantId: 'acme', personId: 'p1', person: person(1), presence: PRESENCE, version: 1 });
    const first = deliver();
    await h.clock.advance(0);
    h.transport.respond(h.transport.lastRequest('PUBLISH'), 200, [['SIP-ETag', 'e1'], ['Expires', '600']]);
    await first;
    const removed = sink.deliver({ tenantId: 'acme', personId: 'p1', version: 5 }).catch((err: Error) => err);
    await h.clock.advance(0);
    // A 500 (a database write failed after the row was deleted), or a response lost on the way: either way unknown.
    h.transport.respond(h.transport.lastRequest('PUBLISH'), 500);
    expect(await removed).toBeInstanceOf(DeliveryError);
    // Back in scope with the very same document: asked of the server by the etag (a 412 there would start it afresh), not taken as held.
    const back = deliver();
    await h.clock.advance(0);
    const again = h.transport.lastRequest('PUBLISH');
    expect([again.headers.get('expires'), again.headers.get('sip-if-match'), again.body.length > 0]).toEqual(['600', 'e1', true]);
    h.transport.respond(again, 412);
    await h.clock.advance(0);
    expect(h.transport.lastRequest('PUBLISH').headers.get('sip-if-match')).toBeUndefined();
    h.transport.respond(h.transport.lastRequest('PUBLISH'), 200, [['SIP-ETag', 'e2'], ['Expires', '600']]);
    expect(await back).toBeUndefined();
    await sink.close();
  });

  it('sends nothing for a new state whose document is the same (a note, another source): the server would NOTIFY every watcher; nor says the server answered', async () => {
    const h = setup();
    const sink = new SipSink(TARGET, undefined, h.core, {} as PresenceEngine, silentLogger, []);
    const first = sink.deliver({ tenantId: 'acme', personId: 'p1', person: person(1), presence: PRESENCE, version: 1 });
    await h.clock.advance(0);
    h.transport.respond(h.transport.lastRequest('PUBLISH'), 200, [['SIP-ETag', 'e1'], ['Expires', '600']]);
    await first;
    const noted = { ...PRESENCE, since: T0 + 5_000, note: 'in the lab', source: 'manual', version: 2 } as Presence;
    const second = sink.deliver({ tenantId: 'acme', personId: 'p1', person: person(1), presence: noted, version: 2 });
    await h.clock.advance(0);
    expect(h.transport.requests('PUBLISH')).toHaveLength(1);
    // Nothing was asked: a failing target's probe must not take this for the server answering again.
    expect(await second).toBe('unchanged');
    await sink.close();
  });

  it('counts its dialog subscriptions by health: pending until the PBX authorises, failing while refused and retried', async () => {
    const h = setup();
    const people = [person(1), person(2), person(3)];
    const sink = new SipSink({ ...TARGET, subscribeDialog: true }, undefined, h.core, {} as PresenceEngine, silentLogger, people);
    await h.clock.advance(0);
    const subscribes = h.transport.requests('SUBSCRIBE');
    expect(subscribes.map((r) => r.uri)).toEqual(['sip:11@example.test', 'sip:12@example.test', 'sip:13@example.test']);
    expect(sink.watchHealth()).toEqual({ pending: 3 });
    h.transport.respond(subscribes[0]!, 200, [['Expires', '600']]);
    h.transport.respond(subscribes[1]!, 404);
    await h.clock.advance(0);
    // 11: accepted, no NOTIFY yet (RFC 6665 pending); 12: no such extension, retried after backoff; 13: unanswered.
    expect(sink.watchHealth()).toEqual({ pending: 2, failing: 1 });
    await sink.close();
  });

  it('closed while the removal of an old presentity is on its way, publishes nothing of the new one (nobody would refresh, record or remove it)', async () => {
    const h = setup();
    const sink = new SipSink(TARGET, undefined, h.core, {} as PresenceEngine, silentLogger, []);
    await publishedAsE1(h, sink);
    const moved = sink.deliver({ tenantId: 'acme', personId: 'p1', person: { ...person(1), extension: '19' } as Person, presence: PRESENCE, version: 1, rerender: T0 + 1 });
    await h.clock.advance(0);
    expect(h.transport.lastRequest('PUBLISH').headers.get('expires')).toBe('0');
    await sink.close();
    await expect(moved).rejects.toThrow('the publisher closed');
    await h.clock.advance(60_000);
    expect(h.transport.requests('PUBLISH').map((r) => r.uri)).not.toContain('sip:19@example.test');
  });

  it("watches at start only the lines of those its scope covers, as it does for people added later", async () => {
    const h = setup();
    const inTeam = (i: number) => ({ ...person(i), teams: ['desk'] }) as Person;
    const scoped = { ...TARGET, subscribeDialog: true, people: ['p3'], teams: ['desk'] };
    const sink = new SipSink(scoped, undefined, h.core, {} as PresenceEngine, silentLogger, [inTeam(1), person(2), person(3), person(4)]);
    await h.clock.advance(0);
    expect(h.transport.requests('SUBSCRIBE').map((r) => r.uri)).toEqual(['sip:11@example.test', 'sip:13@example.test']);
    await sink.close();
  });

  it.each([0, 0.5])("draws its publications' and dialog watches' backoff jitter from the hub's random, as its SIP stack is given it (%s)", async (r) => {
    const random = () => r;
    const stack = new SipStack({ host: '127.0.0.1', port: 0 }, new ManualClock(T0), random);
    expect((await stack.get()).random).toBe(random);
    await stack.close();
    const h = setup(undefined, random);
    const sink = new SipSink({ ...TARGET, subscribeDialog: true }, undefined, h.core, {} as PresenceEngine, silentLogger, [person(1)]);
    /** Each request transaction once (UDP retransmissions left out), by method. */
    const sent = (method: string) => new Set(h.transport.requests(method).map((m) => m.headers.get('via'))).size;
    const failed = sink.deliver({ tenantId: 'acme', personId: 'p1', person: person(1), presence: PRESENCE, version: 1 }).catch((err: Error) => err);
    await h.clock.advance(0);
    h.transport.respond(h.transport.lastRequest('PUBLISH'), 503);
    h.transport.respond(h.transport.lastRequest('SUBSCRIBE'), 503);
    expect(await failed).toBeInstanceOf(DeliveryError);
    // 2 s, less up to a fifth of it drawn from `random`.
    const wait = 2000 * (1 - 0.2 * r);
    await h.clock.advance(wait - 1);
    expect([sent('PUBLISH'), sent('SUBSCRIBE')]).toEqual([1, 1]);
    await h.clock.advance(1);
    expect([sent('PUBLISH'), sent('SUBSCRIBE')]).toEqual([2, 2]);
    await sink.close();
  });

  it('reads each subscriber state as a health', () => {
    const at = (state: Parameters<typeof healthOf>[0]['state'], consecutiveFailures = 0) => healthOf({ state, consecutiveFailures });
    expect([at('active'), at('refreshing'), at('pending'), at('idle'), at('subscribing'), at('subscribing', 2), at('backoff', 1), at('terminated'), at('unsubscribing')]).toEqual([
      'watching',
      'watching',
      'pending',
      'pending',
      'pending',
      'failing',
      'failing',
      'refused',
      undefined,
    ]);
  });

  it('follows a new extension: the old presentity is unpublished, the new one published, the new line watched and the old one cleared', async () => {
    const h = setup();
    const applied: Array<[string, string, Array<{ id?: string; op?: string }>]> = [];
    const engine = { apply: async (tenantId: string, personId: string, changes: never[]) => void applied.push([tenantId, personId, changes]) } as unknown as PresenceEngine;
    const sink = new SipSink({ ...TARGET, subscribeDialog: true }, undefined, h.core, engine, silentLogger, []);
    const answer = async () => {
      for (const r of h.transport.requests('PUBLISH')) if (!answered.has(r)) {
        answered.add(r);
        h.transport.respond(r, 200, [['SIP-ETag', `e-${r.uri}`], ['Expires', r.headers.get('expires') ?? '600']]);
      }
      await h.clock.advance(0);
    };
    const answered = new Set<unknown>();
    const first = sink.deliver({ tenantId: 'acme', personId: 'p1', person: person(1), presence: PRESENCE, version: 1 });
    await h.clock.advance(0);
    await answer();
    await first;
    const moved = { ...person(1), extension: '19' } as Person;
    const again = sink.deliver({ tenantId: 'acme', personId: 'p1', person: moved, presence: PRESENCE, version: 1, rerender: T0 });
    for (let i = 0; i < 3; i++) await answer();
    await again;
    const publishes = h.transport.requests('PUBLISH').map((r) => [r.uri, r.headers.get('expires'), r.headers.get('sip-if-match') ?? null]);
    expect(publishes).toEqual([
      ['sip:11@example.test', '600', null],
      ['sip:11@example.test', '0', 'e-sip:11@example.test'],
      ['sip:19@example.test', '600', null],
    ]);
    expect(h.transport.requests('SUBSCRIBE').map((r) => r.uri)).toContain('sip:19@example.test');
    expect(sink.watchHealth()).toEqual({ pending: 1 });
    // Whatever the old line last said (a call on it) no longer counts for them.
    expect(applied).toHaveLength(1);
    expect(applied[0]!.slice(0, 2)).toEqual(['acme', 'p1']);
    expect(JSON.stringify(applied[0]![2])).toContain('sip-kam-11');
    await sink.close();
  });

  it.each([503, 'timeout'] as const)('a new extension whose old publication the server did not remove (%s) fails the delivery: its retry removes the old one by its etag, then publishes the new one', async (answer) => {
    const h = setup();
    const sink = new SipSink(TARGET, undefined, h.core, {} as PresenceEngine, silentLogger, []);
    /** Each PUBLISH transaction once (UDP retransmissions left out): presentity, Expires and SIP-If-Match. */
    const publishes = () => [...new Map(h.transport.requests('PUBLISH').map((r) => [r.headers.get('via'), [r.uri, r.headers.get('expires'), r.headers.get('sip-if-match') ?? null]])).values()];
    await publishedAsE1(h, sink);
    const moved = { tenantId: 'acme', personId: 'p1', person: { ...person(1), extension: '19' } as Person, presence: PRESENCE, version: 1, rerender: T0 + 1 };
    const failed = sink.deliver(moved).catch((err: Error) => err);
    await h.clock.advance(0);
    if (answer === 'timeout') await h.clock.advance(32_000);
    else h.transport.respond(h.transport.lastRequest('PUBLISH'), answer);
    await h.clock.advance(0);
    // Nothing of the new presentity yet: the server would show the old one's watchers the old state until it expires.
    expect(publishes()).toEqual([
      ['sip:11@example.test', '600', null],
      ['sip:11@example.test', '0', 'e1'],
    ]);
    expect(await failed).toBeInstanceOf(DeliveryError);
    // The runner's retry: the removal asked of the server again, by the old etag, then the new presentity afresh.
    const retried = sink.deliver(moved);
    await h.clock.advance(0);
    h.transport.respond(h.transport.lastRequest('PUBLISH'), 200, [['SIP-ETag', 'e1'], ['Expires', '0']]);
    await h.clock.advance(0);
    h.transport.respond(h.transport.lastRequest('PUBLISH'), 200, [['SIP-ETag', 'e19'], ['Expires', '600']]);
    expect(await retried).toBeUndefined();
    expect(publishes().slice(2)).toEqual([
      ['sip:11@example.test', '0', 'e1'],
      ['sip:19@example.test', '600', null],
    ]);
    expect((sink.details() as { publications: unknown }).publications).toEqual({ published: 1 });
    await sink.close();
  });

  it.each([412, 489, 403])('a new extension whose old publication the server refuses to remove for good (%s) is published at once: it holds none, or never will remove it', async (answer) => {
    const h = setup();
    const sink = new SipSink(TARGET, undefined, h.core, {} as PresenceEngine, silentLogger, []);
    await publishedAsE1(h, sink);
    const moved = sink.deliver({ tenantId: 'acme', personId: 'p1', person: { ...person(1), extension: '19' } as Person, presence: PRESENCE, version: 1, rerender: T0 + 1 });
    await h.clock.advance(0);
    h.transport.respond(h.transport.lastRequest('PUBLISH'), answer);
    await h.clock.advance(0);
    const fresh = h.transport.lastRequest('PUBLISH');
    expect([fresh.uri, fresh.headers.get('sip-if-match') ?? null]).toEqual(['sip:19@example.test', null]);
    h.transport.respond(fresh, 200, [['SIP-ETag', 'e19'], ['Expires', '600']]);
    expect(await moved).toBeUndefined();
    await sink.close();
  });

  it("clears the line of someone withdrawn from the target's scope (they stay), not of someone removed", async () => {
    const h = setup();
    const applied: Array<[string, string]> = [];
    const engine = { apply: async (_t: string, personId: string, changes: never[]) => void applied.push([personId, JSON.stringify(changes)]) } as unknown as PresenceEngine;
    const sink = new SipSink({ ...TARGET, subscribeDialog: true }, undefined, h.core, engine, silentLogger, [person(1), person(2)]);
    await h.clock.advance(0);
    expect(sink.watchHealth()).toEqual({ pending: 2 });
    await sink.deliver({ tenantId: 'acme', personId: 'p1', version: 1, rerender: T0, outOfScope: true });
    await sink.deliver({ tenantId: 'acme', personId: 'p2', version: 2 });
    expect(sink.watchHealth()).toEqual({});
    expect(applied.map(([p]) => p)).toEqual(['p1']);
    expect(applied[0]![1]).toContain('sip-kam-11');
    await sink.close();
  });

  it("clears the lines it watched when nobody will watch them any more, and keeps them when the target is handed over", async () => {
    const h = setup();
    const cleared: string[] = [];
    const engine = { apply: async (_t: string, personId: string, changes: Array<{ prefix?: string }>) => void cleared.push(`${personId}:${changes[0]?.prefix}`) } as unknown as PresenceEngine;
    const watching = { ...TARGET, subscribeDialog: true };
    const handedOver = new SipSink(watching, undefined, h.core, engine, silentLogger, [person(1), person(2)]);
    await handedOver.close(watching);
    expect(cleared).toEqual([]);
    for (const next of [undefined, { ...watching, enabled: false }, { ...watching, subscribeDialog: false }]) {
      cleared.length = 0;
      const sink = new SipSink(watching, undefined, h.core, engine, silentLogger, [person(1), person(2)]);
      await sink.close(next);
      expect(cleared).toEqual(['p1:pbx:call:sip-kam-11:', 'p2:pbx:call:sip-kam-12:']);
    }
  });

  describe("continues a previous owner's publications by their entity-tags", () => {
    const ADDRESS = (over: object = {}) => JSON.stringify({ presentity: 'sip:11@example.test', etag: 'a.7', expiresAt: T0 + 500_000, ...over });
    /** A sink on a fake transport; `answer` gives every unanswered PUBLISH a 200 with a new etag. */
    function sinkWith() {
      const h = setup();
      const readdressed: Array<[string, string | undefined]> = [];
      const sink = new SipSink(TARGET, undefined, h.core, {} as PresenceEngine, silentLogger, [], { readdressed: (personId, address) => void readdressed.push([personId, address]) });
      const answered = new Set<unknown>();
      let n = 0;
      const answer = async () => {
        for (const r of h.transport.requests('PUBLISH'))
          if (!answered.has(r)) {
            answered.add(r);
            h.transport.respond(r, 200, [['SIP-ETag', `b.${++n}`], ['Expires', r.headers.get('expires') ?? '600']]);
          }
        await h.clock.advance(0);
      };
      const publishes = () => h.transport.requests('PUBLISH').map((r) => [r.uri, r.headers.get('expires'), r.headers.get('sip-if-match') ?? null]);
      return { ...h, sink, readdressed, answer, publishes };
    }

    it('records each publication as the address of a delivery, and tells of an etag a refresh changed', async () => {
      const h = sinkWith();
      const d = { tenantId: 'acme', personId: 'p1', person: person(1), presence: PRESENCE, version: 1 };
      const done = h.sink.deliver(d);
      await h.clock.advance(0);
      await h.answer();
      await done;
      // With the server that issued the etag: the only one that knows it.
      expect(JSON.parse(h.sink.addressOf(d)!)).toEqual({ presentity: 'sip:11@example.test', etag: 'b.1', expiresAt: T0 + 600_000, host: '192.0.2.1', port: 5060 });
      // A delivery's own etag goes to the ledger with it.
      expect(h.readdressed).toEqual([]);
      await h.clock.advance(510_000);
      await h.answer();
      expect(h.publishes()).toEqual([
        ['sip:11@example.test', '600', null],
        ['sip:11@example.test', '600', 'b.1'],
      ]);
      expect(h.readdressed).toEqual([['p1', JSON.stringify({ presentity: 'sip:11@example.test', etag: 'b.2', expiresAt: T0 + 1_110_000, host: '192.0.2.1', port: 5060 })]]);
      expect(h.sink.addressOf({ ...d, personId: 'p2' })).toBeUndefined();
      await h.sink.close();
    });

    it('sends nothing for the state the target holds, refreshes it on time with the same document, and modifies it when it changes', async () => {
      const h = sinkWith();
      h.sink.adopt('p1', person(1), ADDRESS(), PRESENCE);
      await h.clock.advance(0);
      expect(h.publishes()).toEqual([]);
      // 15% of the target's 600 s before the expiry, as its previous owner would have.
      await h.clock.advance(409_999);
      expect(h.publishes()).toEqual([]);
      await h.clock.advance(1);
      expect(h.publishes()).toEqual([['sip:11@example.test', '600', 'a.7']]);
      const fresh = setup();
      const other = new SipSink(TARGET, undefined, fresh.core, {} as PresenceEngine, silentLogger, []);
      void other.deliver({ tenantId: 'acme', personId: 'p1', person: person(1), presence: PRESENCE, version: 1 });
      await fresh.clock.advance(0);
      expect(h.transport.lastRequest('PUBLISH').body).toBe(fresh.transport.lastRequest('PUBLISH').body);
      await other.close();
      await h.answer();
      expect(h.readdressed.map(([id, a]) => [id, JSON.parse(a!).etag])).toEqual([['p1', 'b.1']]);
      const busy = { ...PRESENCE, availability: 'busy', activity: 'in-meeting', routable: false, version: 2 } as Presence;
      const done = h.sink.deliver({ tenantId: 'acme', personId: 'p1', person: person(1), presence: busy, version: 2 });
      await h.clock.advance(0);
      await h.answer();
      await done;
      expect(h.publishes().at(-1)).toEqual(['sip:11@example.test', '600', 'b.1']);
      expect(h.transport.lastRequest('PUBLISH').body).toContain('<rpid:meeting/>');
      await h.sink.close();
    });

    it('modifies, not re-creates, a publication whose state it was not given (a newer one follows)', async () => {
      const h = sinkWith();
      h.sink.adopt('p1', person(1), ADDRESS());
      await h.clock.advance(499_000);
      expect(h.publishes()).toEqual([]);
      const done = h.sink.deliver({ tenantId: 'acme', personId: 'p1', person: person(1), presence: { ...PRESENCE, version: 2 }, version: 2 });
      await h.clock.advance(0);
      await h.answer();
      await done;
      expect(h.publishes()).toEqual([['sip:11@example.test', '600', 'a.7']]);
      await h.sink.close();
    });

    it('removes the old presentity by its etag after a new extension, and the publication of someone deleted', async () => {
      const h = sinkWith();
      h.sink.adopt('p1', { ...person(1), extension: '19' } as Person, ADDRESS());
      h.sink.adopt('p2', undefined, ADDRESS({ presentity: 'sip:12@example.test', etag: 'a.8' }));
      const moved = h.sink.deliver({ tenantId: 'acme', personId: 'p1', person: { ...person(1), extension: '19' } as Person, presence: PRESENCE, version: 1, rerender: T0 });
      const removed = h.sink.deliver({ tenantId: 'acme', personId: 'p2', version: 2 });
      for (let i = 0; i < 3; i++) await h.answer();
      await Promise.all([moved, removed]);
      expect(h.publishes()).toEqual([
        ['sip:11@example.test', '0', 'a.7'],
        ['sip:12@example.test', '0', 'a.8'],
        ['sip:19@example.test', '600', null],
      ]);
      await h.sink.close();
    });

    it.each([
      ['expired', ADDRESS({ expiresAt: T0 })],
      ['unreadable', '{"presentity":'],
      ['not a publication', 'Stasis:p-11'],
      ['absent', undefined],
    ])('without a live publication (%s) publishes afresh, as before', async (_, address) => {
      const h = sinkWith();
      h.sink.adopt('p1', person(1), address, PRESENCE);
      const done = h.sink.deliver({ tenantId: 'acme', personId: 'p1', person: person(1), presence: { ...PRESENCE, version: 2 }, version: 2 });
      await h.clock.advance(0);
      await h.answer();
      await done;
      expect(h.publishes()).toEqual([['sip:11@example.test', '600', null]]);
      await h.sink.close();
    });

    it('drains before a handover: waits for a refresh on its way and tells of the etag it got', async () => {
      const h = sinkWith();
      h.sink.adopt('p1', person(1), ADDRESS(), PRESENCE);
      await h.clock.advance(410_000);
      expect(h.publishes()).toEqual([['sip:11@example.test', '600', 'a.7']]);
      let drained = false;
      const draining = h.sink.drain().then(() => (drained = true));
      await h.clock.advance(0);
      expect(drained).toBe(false);
      await h.answer();
      await draining;
      expect(h.readdressed.map(([id, a]) => [id, JSON.parse(a!).etag])).toEqual([['p1', 'b.1']]);
      await h.sink.close(TARGET);
    });

    it('leaves its publications to the next owner when it hands the target over', async () => {
      const h = sinkWith();
      h.sink.adopt('p1', person(1), ADDRESS(), PRESENCE);
      const done = h.sink.deliver({ tenantId: 'acme', personId: 'p2', person: person(2), presence: PRESENCE, version: 1 });
      await h.clock.advance(0);
      await h.answer();
      await done;
      await h.sink.close(TARGET);
      await h.clock.advance(3_600_000);
      expect(h.publishes()).toEqual([['sip:12@example.test', '600', null]]);
    });
  });
});
