import { activeOffers, type RingStrategy } from './strategy.js';
import { own } from '../../../shared/domain/own.js';

/**
 * The member whose last call ended longest ago first (Amazon Connect, Teams "longest idle", Asterisk
 * `leastrecent`); someone who never had a call counts as idle forever. Any call counts, not only this
 * group's: a person just off a direct call is not idle. A member already offered a call that may still
 * be ringing goes after everyone idle, in the order of their offers, so concurrent calls spread out.
 */
export const longestIdle: RingStrategy = {
  name: 'longest-idle',
  ringsTogether: false,
  stateful: true,
  order(candidates, { state, agents, now }) {
    const key = (personId: string): [number, number] => {
      const m = own(state.members, personId);
      if (activeOffers(m, now) > 0) return [1, m!.lastOfferSeq ?? 0];
      const ends = [m?.lastCallEndAt, agents.get(personId)?.lastCallEndAt].filter((t): t is number => t !== undefined);
      return [0, ends.length > 0 ? Math.max(...ends) : -Infinity];
    };
    const keys = new Map(candidates.map((c) => [c.personId, key(c.personId)]));
    return [...candidates].sort((a, b) => {
      const [ka, va] = keys.get(a.personId)!;
      const [kb, vb] = keys.get(b.personId)!;
      return ka - kb || (va === vb ? 0 : va < vb ? -1 : 1) || a.position - b.position;
    });
  },
};
