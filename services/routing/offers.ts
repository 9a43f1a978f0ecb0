import { emptyMemberState, type GroupRoutingState } from '../../shared/store/routing-state.js';
import type { Candidate } from './strategies/strategy.js';
import { own } from '../../shared/domain/own.js';

/** More calls than this ringing one person at once is a storm, not information; older offers drop off. */
export const MAX_OFFERS_PER_MEMBER = 16;

/**
 * Remembers that this call was offered along `order` (the ring list, tier by tier): the round-robin
 * pointer moves to the member offered it first, each tier's pointer to the member that tier started
 * with, and the first offer counts as in flight until it has rung out, so the next concurrent decision
 * picks someone else.
 */
export function withOffer(state: GroupRoutingState, order: readonly Candidate[], now: number): GroupRoutingState {
  const first = order[0]!;
  const seq = state.seq + 1;
  const m = own(state.members, first.personId) ?? emptyMemberState();
  const offers = [...m.offers.filter((until) => until > now), now + first.ringTimeoutSeconds * 1000].slice(-MAX_OFFERS_PER_MEMBER);
  const tierPointers = { ...state.tierPointers };
  for (let i = 0; i < order.length; i++) {
    if (i === 0 || order[i]!.priority !== order[i - 1]!.priority) tierPointers[String(order[i]!.priority)] = order[i]!.personId;
  }
  return { ...state, seq, pointer: first.personId, tierPointers, members: { ...state.members, [first.personId]: { ...m, offers, lastOfferSeq: seq } } };
}
