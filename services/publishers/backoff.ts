/**
 * A capped, jittered exponential backoff: the wait before attempt `attempt` + 1, between half and all of
 * `baseMs` doubled per attempt (at most `capMs`), so targets failing together do not retry together.
 */
export function jitteredBackoffMs(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const backoff = Math.min(capMs, baseMs * 2 ** (attempt - 1));
  return backoff / 2 + random() * (backoff / 2);
}
