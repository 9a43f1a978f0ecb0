import { byPosition, type RingStrategy } from './strategy.js';

/** One after another in the configured order, every call (Teams "serial", Asterisk `linear`). */
export const sequential: RingStrategy = {
  name: 'sequential',
  ringsTogether: false,
  stateful: false,
  order: (candidates) => [...candidates].sort(byPosition),
};
