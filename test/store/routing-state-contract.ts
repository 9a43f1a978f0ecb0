import { describe, expect, it } from 'vitest';
import {
  emptyAgentState,
  emptyGroupState,
  emptyMemberState,
  type GroupRoutingState,
  type RoutingStateStore,
} from '../../shared/store/routing-state.js';

/** The member with the fewest offers so far, lowest id first: a choice that is only fair if atomic. */
function offerToFewest(ids: readonly string[]) {
  return (s: GroupRoutingState) => {
    const count = (id: string) => s.members[id]?.offers.length ?? 0;
    const chosen = [...ids].sort((a, b) => count(a) - count(b) || (a < b ? -1 : 1))[0]!;
    const m = s.members[chosen] ?? emptyMemberState();
    const next: GroupRoutingState = {
      ...s,
      seq: s.seq + 1,
      pointer: chosen,
      members: { ...s.members, [chosen]: { ...m, offers: [...m.offers, 1_000 + s.seq], lastOfferSeq: s.seq + 1 } },
    };
    return { next, result: chosen };
  };
}

/**
 * The routing-state port's contract. Every adapter (in-process, Redis) runs this same suite; `make`
 * returns a store on fresh storage.
 */
export function routingStateContract(name: string, make: () => Promise<{ store: RoutingStateStore; cleanup: () => Promise<void> }>): void {
  describe(`routing state contract: ${name}`, () => {
    it('answers the empty state for what it has never seen, per tenant', async () => {
      const { store, cleanup } = await make();
      expect(await store.readGroup('a', 'support')).toEqual(emptyGroupState());
      const agents = await store.readAgents('a', ['alice', 'bob']);
      expect([...agents.keys()]).toEqual(['alice', 'bob']);
      expect(agents.get('alice')).toEqual(emptyAgentState());
      await store.updateGroup('a', 'support', (s) => ({ next: { ...s, seq: 7, pointer: 'alice' }, result: undefined }));
      expect(await store.readGroup('a', 'support')).toEqual({ seq: 7, pointer: 'alice', members: {} });
      expect(await store.readGroup('b', 'support')).toEqual(emptyGroupState());
      await cleanup();
    });

    it('stores what an update returns as a whole and hands back its result', async () => {
      const { store, cleanup } = await make();
      const state: GroupRoutingState = {
        seq: 3,
        pointer: 'bob',
        tierPointers: { '0': 'bob', '1': 'carol' },
        members: {
          alice: { day: '2026-03-02', callsToday: 2, lastCallEndAt: 1_700_000_000_000, wrapUpSeconds: 5, offers: [1_700_000_020_000], lastOfferSeq: 3 },
          bob: { callsToday: 0, offers: [] },
        },
      };
      const r = await store.updateGroup('a', 'support', () => ({ next: state, result: 'done' }));
      expect(r).toBe('done');
      expect(await store.readGroup('a', 'support')).toEqual(state);
      await store.updateGroup('a', 'support', (s) => ({ next: { ...s, pointer: undefined, members: {} }, result: 0 }));
      const after = await store.readGroup('a', 'support');
      expect(after.pointer).toBeUndefined();
      expect(after.members).toEqual({});

      await store.updateAgent('a', 'alice', (s) => ({ next: { ...s, callStartedAt: 5, callId: 'c1', talkMs: 60_000, talkCalls: 1 }, result: undefined }));
      expect((await store.readAgents('a', ['alice'])).get('alice')).toEqual({ callStartedAt: 5, callId: 'c1', talkMs: 60_000, talkCalls: 1 });
      await cleanup();
    });

    it('runs 100 concurrent updates of one group one after another: none is lost', async () => {
      const { store, cleanup } = await make();
      await Promise.all(Array.from({ length: 100 }, () => store.updateGroup('a', 'q', (s) => ({ next: { ...s, seq: s.seq + 1 }, result: undefined }))));
      expect((await store.readGroup('a', 'q')).seq).toBe(100);
      await Promise.all(
        Array.from({ length: 100 }, () => store.updateAgent('a', 'alice', (s) => ({ next: { ...s, talkCalls: s.talkCalls + 1 }, result: undefined }))),
      );
      expect((await store.readAgents('a', ['alice'])).get('alice')!.talkCalls).toBe(100);
      await cleanup();
    });

    it('makes a choice and its record one atomic step, so concurrent choices spread evenly', async () => {
      const { store, cleanup } = await make();
      const ids = ['alice', 'bob', 'carol', 'dave'];
      const chosen = await Promise.all(Array.from({ length: 100 }, () => store.updateGroup('a', 'q', offerToFewest(ids))));
      const counts = Object.fromEntries(ids.map((id) => [id, chosen.filter((c) => c === id).length]));
      expect(counts).toEqual({ alice: 25, bob: 25, carol: 25, dave: 25 });
      expect((await store.readGroup('a', 'q')).seq).toBe(100);
      await cleanup();
    });

    it('forgets a group or a person on remove', async () => {
      const { store, cleanup } = await make();
      await store.updateGroup('a', 'q', (s) => ({ next: { ...s, seq: 1 }, result: undefined }));
      await store.updateAgent('a', 'alice', (s) => ({ next: { ...s, talkCalls: 1 }, result: undefined }));
      await store.removeGroup('a', 'q');
      await store.removeAgent('a', 'alice');
      expect(await store.readGroup('a', 'q')).toEqual(emptyGroupState());
      expect((await store.readAgents('a', ['alice'])).get('alice')).toEqual(emptyAgentState());
      await cleanup();
    });
  });
}
