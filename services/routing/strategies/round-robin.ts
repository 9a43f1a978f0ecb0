import type { Candidate, RingStrategy } from './strategy.js';
import { own } from '../../../shared/domain/own.js';

/**
 * Start with the member after the one who was offered the last call first, cycling through the configured
 * list (Asterisk `rrmemory`). Members not eligible now keep their place in the cycle. Each priority tier
 * cycles on its own: a later tier starts after the member it started with last time, so its members
 * share the calls that reach them (a state from before tiers were remembered falls back on `pointer`).
 */
export const roundRobin: RingStrategy = {
  name: 'round-robin',
  ringsTogether: false,
  stateful: true,
  order(candidates, { state, members }) {
    const n = members.length;
    const distance = (c: Candidate) => {
      const pointer = own(state.tierPointers ?? {}, String(c.priority)) ?? state.pointer;
      const last = pointer === undefined ? -1 : members.indexOf(pointer);
      return (((c.position - last - 1) % n) + n) % n;
    };
    return [...candidates].sort((a, b) => distance(a) - distance(b));
  },
};
