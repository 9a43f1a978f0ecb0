import { describe, expect, it } from 'vitest';
import type { Person } from '../../shared/domain/directory.js';
import type { Presence } from '../../shared/domain/presence.js';
import type { SipTarget } from '../../shared/domain/target.js';
import { silentLogger } from '../../shared/log/logger.js';
import type { PresenceEngine } from '../../services/merger/engine.js';
import { healthOf, MAX_PUBLISHES_IN_FLIGHT, SipSink } from '../../services/publishers/sip/sip-sink.js';
import { setup, T0 } from '../sip/helpers.js';

const TARGET: SipTarget = {
  id: 'kam',
  tenantId: 'acme',
  kind: 'sip',
  name: 'Kamailio',
  enabled: true,
  server: 'sip:192.0.2.1:5060',
  transport: 'udp',
  domain: 'example.test',
  expiresSec: 600,
  subscribeDialog: false,
};
const PRESENCE = { availability: 'available', activity: 'available', routable: true, since: T0, version: 1 } as Presence;
const person = (i: number) => ({ id: `p${i}`, tenantId: 'acme', name: `P ${i}`, extension: `1${i}`, teams: [] }) as unknown as Person;

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
});
