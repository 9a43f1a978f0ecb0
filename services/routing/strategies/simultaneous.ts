import { byPosition, type RingStrategy } from './strategy.js';

/** Ring everyone eligible at once (Teams "attendant", Asterisk `ringall`); tiers still go in turn. */
export const simultaneous: RingStrategy = {
  name: 'simultaneous',
  ringsTogether: true,
  stateful: false,
  order: (candidates) => [...candidates].sort(byPosition),
};
