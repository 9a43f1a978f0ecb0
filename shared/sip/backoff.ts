export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Fraction (0–1) of each delay removed at random, so many clients do not retry in step. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 2_000, maxMs: 300_000, jitter: 0.2 };

/** The wait after `failures` consecutive failures (1 = the first): doubling, capped, then jittered down. */
export function backoffDelay(policy: BackoffPolicy, failures: number, random: () => number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (1 - policy.jitter * random()));
}
