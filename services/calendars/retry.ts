import { ConnectionUnavailableError, ProviderError, RateLimitedError } from './errors.js';
import type { Job } from './jobs.js';

const MIN = 60_000;
/** Before a job's deadline, a retry waits at most half the time left, but not less than this. */
const BEFORE_DEADLINE_MIN_MS = MIN;

/**
 * `Retry-After` as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). Undefined when absent
 * or unreadable, so the caller falls back to its own backoff.
 */
export function retryAfterMs(header: string | null | undefined, now: number): number | undefined {
  if (header === null || header === undefined || header.trim() === '') return undefined;
  const v = header.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Truncated exponential backoff with jitter, as Google asks for rate limits (2^n s + random ms, capped;
 * protocols §2.5) and Graph for 429s without `Retry-After`. `random` is injected so tests pin it.
 */
export function backoffMs(attempt: number, random: () => number, capMs = 64_000): number {
  const base = Math.min(capMs, 1000 * 2 ** Math.max(0, attempt));
  return Math.min(capMs, base + Math.floor(random() * 1000));
}

/**
 * Retry policy for calendar jobs: throttling waits what the provider asked, the rest backs off. A job
 * with a deadline (a renewal) is retried before it while there is time: an hourly retry would let a
 * subscription with less than an hour left lapse, and the pushes of the gap are lost. The provider's
 * own `Retry-After` is still obeyed.
 */
export function calendarRetry(random: () => number) {
  const backoff = (err: unknown, attempt: number): number | undefined => {
    if (err instanceof RateLimitedError) return err.retryAfterMs;
    if (err instanceof ProviderError && !err.transient) return attempt <= 3 ? backoffMs(attempt + 4, random, 30 * MIN) : undefined;
    return attempt <= 12 ? backoffMs(attempt + 2, random, 30 * MIN) : undefined;
  };
  return (err: unknown, job: Job, attempt: number, now: number): number | undefined => {
    if (err instanceof ConnectionUnavailableError) return undefined;
    const wait = backoff(err, attempt) ?? job.afterRetriesMs;
    if (wait === undefined || job.deadline === undefined || job.deadline <= now || (err instanceof RateLimitedError && err.fromHeader)) return wait;
    return Math.min(wait, Math.max(BEFORE_DEADLINE_MIN_MS, Math.floor((job.deadline - now) / 2)));
  };
}
