import { describe, expect, it } from 'vitest';
import { emptyAgentState, type AgentCallState, type GroupRoutingState } from '../../shared/store/routing-state.js';
import { withOffer } from '../../services/routing/offers.js';
import { byTier, ringList, totalRingSeconds } from '../../services/routing/ring-list.js';
import { STRATEGY_IMPLEMENTATIONS } from '../../services/routing/strategies/index.js';
import type { Candidate, StrategyContext } from '../../services/routing/strategies/strategy.js';

const NOW = Date.parse('2026-03-02T10:00:00Z');
const MEMBERS = ['ann', 'ben', 'cat', 'dan'];
const cand = (ids = MEMBERS, priority: Record<string, number> = {}): Candidate[] =>
  ids.map((personId) => ({ personId, position: MEMBERS.indexOf(personId), priority: priority[personId] ?? 0, ringTimeoutSeconds: 15 }));

function ctx(state: Partial<GroupRoutingState> = {}, agents: Record<string, Partial<AgentCallState>> = {}): StrategyContext {
  return {
    state: { seq: 0, members: {}, ...state },
    agents: new Map(MEMBERS.map((id) => [id, { ...emptyAgentState(), ...agents[id] }])),
    now: NOW,
    day: '2026-03-02',
    members: MEMBERS,
  };
}

const order = (name: keyof typeof STRATEGY_IMPLEMENTATIONS, c: Candidate[], x: StrategyContext) =>
  byTier(STRATEGY_IMPLEMENTATIONS[name].order(c, x)).map((m) => m.personId);

describe('ring strategies (pure orderings of eligible members)', () => {
  it.each<[string, keyof typeof STRATEGY_IMPLEMENTATIONS, Candidate[], StrategyContext, string[]]>([
    ['simultaneous keeps the configured order', 'simultaneous', cand(['dan', 'ann', 'cat']), ctx(), ['ann', 'cat', 'dan']],
    ['sequential: configured order every time', 'sequential', cand(), ctx({ pointer: 'ann' }), ['ann', 'ben', 'cat', 'dan']],
    ['round robin starts with the first member when new', 'round-robin', cand(), ctx(), ['ann', 'ben', 'cat', 'dan']],
    ['round robin starts after the last member offered first', 'round-robin', cand(), ctx({ pointer: 'ben' }), ['cat', 'dan', 'ann', 'ben']],
    ['round robin skips a member who is not eligible, keeping the cycle', 'round-robin', cand(['ann', 'ben', 'dan']), ctx({ pointer: 'ben' }), ['dan', 'ann', 'ben']],
    ['round robin with a pointer no longer in the group starts at the top', 'round-robin', cand(), ctx({ pointer: 'zoe' }), ['ann', 'ben', 'cat', 'dan']],
    [
      'longest idle: never called first, then the oldest call end',
      'longest-idle',
      cand(),
      ctx({ members: { ann: { callsToday: 1, offers: [], lastCallEndAt: NOW - 60_000 }, ben: { callsToday: 1, offers: [], lastCallEndAt: NOW - 600_000 } } }, { cat: { lastCallEndAt: NOW - 5_000 } }),
      ['dan', 'ben', 'ann', 'cat'],
    ],
    [
      'longest idle counts any call, not only the group ones',
      'longest-idle',
      cand(['ann', 'ben']),
      ctx({ members: { ann: { callsToday: 1, offers: [], lastCallEndAt: NOW - 600_000 }, ben: { callsToday: 1, offers: [], lastCallEndAt: NOW - 300_000 } } }, { ann: { lastCallEndAt: NOW - 1_000 } }),
      ['ben', 'ann'],
    ],
    [
      'longest idle puts members with a call still ringing last, oldest offer first',
      'longest-idle',
      cand(),
      ctx({ seq: 9, members: { ann: { callsToday: 0, offers: [NOW + 10_000], lastOfferSeq: 8 }, ben: { callsToday: 0, offers: [NOW + 10_000], lastOfferSeq: 7 } } }),
      ['cat', 'dan', 'ben', 'ann'],
    ],
    [
      'longest idle forgets an offer that has rung out',
      'longest-idle',
      cand(['ann', 'ben']),
      ctx({ members: { ann: { callsToday: 0, offers: [NOW - 1], lastOfferSeq: 3 }, ben: { callsToday: 0, offers: [], lastCallEndAt: NOW - 1_000 } } }),
      ['ann', 'ben'],
    ],
    [
      'fewest calls today first',
      'fewest-calls',
      cand(),
      ctx({ members: { ann: { day: '2026-03-02', callsToday: 3, offers: [] }, ben: { day: '2026-03-02', callsToday: 1, offers: [] }, cat: { day: '2026-03-02', callsToday: 2, offers: [] } } }),
      ['dan', 'ben', 'cat', 'ann'],
    ],
    [
      'fewest calls: yesterday does not count',
      'fewest-calls',
      cand(['ann', 'ben']),
      ctx({ members: { ann: { day: '2026-03-01', callsToday: 9, offers: [] }, ben: { day: '2026-03-02', callsToday: 1, offers: [] } } }),
      ['ann', 'ben'],
    ],
    [
      'fewest calls counts calls still ringing, and ties go to the least recently offered',
      'fewest-calls',
      cand(['ann', 'ben', 'cat']),
      ctx({ members: { ann: { day: '2026-03-02', callsToday: 1, offers: [], lastOfferSeq: 5 }, ben: { callsToday: 0, offers: [NOW + 5_000], lastOfferSeq: 6 }, cat: { day: '2026-03-02', callsToday: 1, offers: [], lastOfferSeq: 2 } } }),
      ['cat', 'ann', 'ben'],
    ],
  ])('%s', (_name, strategy, candidates, context, expected) => {
    expect(order(strategy, candidates, context)).toEqual(expected);
  });

  it('priority tiers go first whatever the strategy; the strategy orders within a tier', () => {
    const c = cand(MEMBERS, { ann: 1, ben: 0, cat: 1, dan: 0 });
    expect(order('sequential', c, ctx())).toEqual(['ben', 'dan', 'ann', 'cat']);
    expect(order('round-robin', c, ctx({ pointer: 'ben' }))).toEqual(['dan', 'ben', 'cat', 'ann']);
  });

  it('round robin cycles each tier on its own: a later tier does not always start after the first tier', () => {
    const c = cand(MEMBERS, { ann: 0, ben: 1, cat: 1, dan: 1 });
    let state: GroupRoutingState = { seq: 0, members: {} };
    const firstOfTier1: string[] = [];
    for (let call = 0; call < 4; call++) {
      const ordered = byTier(STRATEGY_IMPLEMENTATIONS['round-robin'].order(c, ctx(state)));
      expect(ordered[0]!.personId).toBe('ann');
      firstOfTier1.push(ordered[1]!.personId);
      state = withOffer(state, ordered, NOW + call * 60_000);
    }
    expect(firstOfTier1).toEqual(['ben', 'cat', 'dan', 'ben']);
    expect(state).toMatchObject({ pointer: 'ann', tierPointers: { '0': 'ann', '1': 'ben' } });
    // With the first tier busy, the second starts where its own turn is, and the first keeps its place.
    expect(order('round-robin', cand(['ben', 'cat', 'dan'], { ben: 1, cat: 1, dan: 1 }), ctx(state))).toEqual(['cat', 'dan', 'ben']);
  });

  it('groups the ring list into steps: a tier per step when simultaneous, a member per step otherwise', () => {
    const c = byTier(cand(MEMBERS, { cat: 1, dan: 1 }));
    const people = new Map(MEMBERS.map((id) => [id, { name: id, contacts: [{ endpointId: `${id}-desk`, kind: 'desk' as const, uri: `sip:${id}@example.test` }] }]));
    const together = ringList(c, STRATEGY_IMPLEMENTATIONS.simultaneous, people);
    expect(together.map((r) => [r.personId, r.step])).toEqual([['ann', 0], ['ben', 0], ['cat', 1], ['dan', 1]]);
    expect(totalRingSeconds(together)).toBe(30);
    const serial = ringList(c, STRATEGY_IMPLEMENTATIONS.sequential, people);
    expect(serial.map((r) => r.step)).toEqual([0, 1, 2, 3]);
    expect(totalRingSeconds(serial)).toBe(60);
  });

  it('an offer moves the pointer and counts as ringing for the ring timeout', () => {
    const s = withOffer({ seq: 4, members: { ben: { callsToday: 2, offers: [NOW - 1], lastOfferSeq: 1 } } }, cand(['ben']), NOW);
    expect(s).toEqual({ seq: 5, pointer: 'ben', tierPointers: { '0': 'ben' }, members: { ben: { callsToday: 2, offers: [NOW + 15_000], lastOfferSeq: 5 } } });
  });
});
