import { emptyMemberState, type GroupRoutingState } from '../../shared/store/routing-state.js';
import type { Candidate } from './strategies/strategy.js';
import { own } from '../../shared/domain/own.js';

/** More calls than this ringing one person at once is a storm, not information; older offers drop off. */
export const MAX_OFFERS_PER_MEMBER = 16;

/**
 * Remembers that `first` was offered this call: the round-robin pointer moves to them, and the offer
 * counts as in flight until it has rung out, so the next concurrent decision picks someone else.
 */
export function withOffer(state: GroupRoutingState, first: Candidate, now: number): GroupRoutingState {
  const seq = state.seq + 1;
  const m = own(state.members, first.personId) ?? emptyMemberState();
  const offers = [...m.offers.filter((until) => until > now), now + first.ringTimeoutSeconds * 1000].slice(-MAX_OFFERS_PER_MEMBER);
  return { ...state, seq, pointer: first.personId, members: { ...state.members, [first.personId]: { ...m, offers, lastOfferSeq: seq } } };
}
