import type { RingStrategy } from './strategy.js';

/**
 * Start with the member after the one who was offered the last call first, cycling through the configured
 * list (Asterisk `rrmemory`). Members not eligible now keep their place in the cycle.
 */
export const roundRobin: RingStrategy = {
  name: 'round-robin',
  ringsTogether: false,
  stateful: true,
  order(candidates, { state, members }) {
    const n = members.length;
    const last = state.pointer === undefined ? -1 : members.indexOf(state.pointer);
    const distance = (position: number) => (((position - last - 1) % n) + n) % n;
    return [...candidates].sort((a, b) => distance(a.position) - distance(b.position));
  },
};
