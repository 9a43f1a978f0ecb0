import { describe, expect, it } from 'vitest';
import type { Person } from '../../shared/domain/directory.js';
import type { Presence } from '../../shared/domain/presence.js';
import type { SipTarget } from '../../shared/domain/target.js';
import { silentLogger } from '../../shared/log/logger.js';
import type { PresenceEngine } from '../../services/merger/engine.js';
import { MAX_PUBLISHES_IN_FLIGHT, SipSink } from '../../services/publishers/sip/sip-sink.js';
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
});
