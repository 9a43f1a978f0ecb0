import type { Policy } from '../domain/policy.js';
import type { Signal } from '../domain/signal.js';
import type { Decision } from '../domain/presence.js';
import { mergeUnexplained, sameState } from './merge.js';

/** Transitions a late re-evaluation walks through at most; more than this many missed is a long outage. */
const MAX_STEPS = 64;

/**
 * When `decision`, merged at `now` from the same signals that gave `prev`, began: a re-evaluation
 * runs late (a timer behind, a survivor sweeping up what a dead replica left, a restart), but the
 * state it finds began at the transition `prev` was waiting for (`prev.wakeAt`), or at a later one
 * that one led to, found by merging at each instant in turn. `now` when nothing was missed, or when
 * the walk does not end in `decision`.
 */
export function beganAt(signals: readonly Signal[], policy: Policy, prev: Decision, decision: Decision, now: number): number {
  let at = prev.wakeAt;
  let last = prev;
  let began: number | undefined;
  for (let step = 0; at !== undefined && at < now && step < MAX_STEPS; step++) {
    const d = mergeUnexplained(signals, policy, at);
    if (!sameState(last, d)) {
      began = at;
      last = d;
    }
    if (d.wakeAt === undefined || d.wakeAt <= at) break;
    at = d.wakeAt;
  }
  return began !== undefined && sameState(last, decision) ? began : now;
}
