import type { Availability } from '../domain/activity.js';
import type { Source } from '../domain/signal.js';

/** What decides someone's presence: its source, what it gives, and since when it holds. */
export interface Decider {
  source?: Source | undefined;
  availability: Availability;
  since?: number | undefined;
}

/** When the person said they are ready: "available" set by hand (the softphone's "ready" button). */
export function readySince(d: Decider): number | undefined {
  return d.source === 'manual' && d.availability === 'available' ? d.since : undefined;
}

/**
 * Whether `d` ends a wrap-up that began at `wrapUpFrom`: "ready" at or after it, as an agent leaves
 * wrap-up early by going back to Available (Twilio TaskRouter) or unpausing (Asterisk queues). "Available"
 * set before the call is what they were when the call came, so the call's wrap-up still follows it. The
 * merge (presence) and routing (the group's wrap-up) both ask this, so they never disagree.
 */
export function endsWrapUp(d: Decider, wrapUpFrom: number): boolean {
  const ready = readySince(d);
  return ready !== undefined && ready >= wrapUpFrom;
}
