import type { Clock } from './clock.js';

/** Waits on the injected clock, so a test's ManualClock decides when the wait is over. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return clock.sleep?.(ms) ?? new Promise((resolve) => clock.after(ms, resolve));
}
