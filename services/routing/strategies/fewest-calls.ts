import { activeOffers, callsOn, type RingStrategy } from './strategy.js';
import { own } from '../../../shared/domain/own.js';

/**
 * The member with the fewest calls from this group today first (Asterisk `fewestcalls`), counting offers
 * that may still be ringing, so that concurrent calls spread out; ties go to whoever was offered a call
 * least recently, then the configured order. "Today" is the group's local date.
 */
export const fewestCalls: RingStrategy = {
  name: 'fewest-calls',
  ringsTogether: false,
  stateful: true,
  order(candidates, { state, now, day }) {
    const load = (id: string) => callsOn(own(state.members, id), day) + activeOffers(own(state.members, id), now);
    const lastOffer = (id: string) => own(state.members, id)?.lastOfferSeq ?? -1;
    return [...candidates].sort(
      (a, b) => load(a.personId) - load(b.personId) || lastOffer(a.personId) - lastOffer(b.personId) || a.position - b.position,
    );
  },
};
