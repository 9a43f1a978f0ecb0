import type { Strategy } from '../../../shared/domain/group.js';
import { fewestCalls } from './fewest-calls.js';
import { longestIdle } from './longest-idle.js';
import { roundRobin } from './round-robin.js';
import { sequential } from './sequential.js';
import { simultaneous } from './simultaneous.js';
import type { RingStrategy } from './strategy.js';

export const STRATEGY_IMPLEMENTATIONS: Readonly<Record<Strategy, RingStrategy>> = {
  simultaneous,
  sequential,
  'longest-idle': longestIdle,
  'round-robin': roundRobin,
  'fewest-calls': fewestCalls,
};
