import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import { silentLogger } from '../../shared/log/logger.js';
import { MemoryLeases } from '../../shared/store/embedded/memory-leases.js';
import { ConnectionUnavailableError, ProviderError, RateLimitedError } from '../../services/calendars/errors.js';
import { JobRunner } from '../../services/calendars/jobs.js';
import { calendarRetry } from '../../services/calendars/retry.js';

describe('calendar job runner', () => {
  const make = (clock: ManualClock, leases = new MemoryLeases(), owner = 'a') =>
    new JobRunner({ clock, log: silentLogger, leases, owner, retry: (err) => (err instanceof RateLimitedError ? err.retryAfterMs : 1000) });

  it('runs at the instant, once per key; keepEarlier debounces', async () => {
    const clock = new ManualClock('2026-03-02T09:30:00Z');
    const jobs = make(clock);
    const runs: number[] = [];
    const job = { key: 'sync:x', queue: 'x', run: async () => void runs.push(clock.now()) };
    jobs.schedule(job, clock.now() + 1000);
    jobs.schedule(job, clock.now() + 5000, { keepEarlier: true });
    jobs.schedule(job, clock.now() + 800, { keepEarlier: true });
    await clock.advance(10_000);
    expect(runs).toEqual([Date.parse('2026-03-02T09:30:00.800Z')]);
  });

  it('runs one job of a connection at a time, and waits a throttled job for the provider’s Retry-After', async () => {
    const clock = new ManualClock('2026-03-02T09:30:00Z');
    const jobs = make(clock);
    const log: string[] = [];
    let fail = true;
    jobs.schedule({ key: 'k1', queue: 'q', run: async () => {
      log.push(`k1@${clock.now()}`);
      if (fail) {
        fail = false;
        throw new RateLimitedError('microsoft', 429, 'throttled', 120_000, true);
      }
    } }, clock.now());
    await clock.advance(0);
    await jobs.idle();
    await clock.advance(119_999);
    expect(log).toHaveLength(1);
    await clock.advance(1);
    await jobs.idle();
    expect(log).toEqual([`k1@${Date.parse('2026-03-02T09:30:00Z')}`, `k1@${Date.parse('2026-03-02T09:32:00Z')}`]);
  });

  it('across replicas, a connection busy elsewhere is tried again shortly instead of twice at once', async () => {
    const clock = new ManualClock('2026-03-02T09:30:00Z');
    const leases = new MemoryLeases();
    const a = make(clock, leases, 'replica-a');
    const b = make(clock, leases, 'replica-b');
    let release!: () => void;
    const ran: string[] = [];
    a.schedule({ key: 'sync:x', queue: 'x', run: () => new Promise<void>((r) => ((release = r), ran.push('a'))) }, clock.now());
    b.schedule({ key: 'sync:x', queue: 'x', run: async () => void ran.push('b') }, clock.now());
    await clock.advance(0);
    expect(ran).toEqual(['a']);
    expect(b.dueAt('sync:x')).toBe(clock.now() + 5000);
    release();
    await a.idle();
    await clock.advance(5000);
    await b.idle();
    expect(ran).toEqual(['a', 'b']);
  });

  it('gives up on a failing job after its retries, except work that must not stop, which goes on at its own pace until its connection goes', () => {
    const retry = calendarRetry(() => 0);
    const failed = new ProviderError('microsoft', 500, 'InternalServerError', 'busy', true);
    const sync = { key: 'sync:x', queue: 'x', run: async () => {} };
    const renew = { ...sync, key: 'renew:x', afterRetriesMs: 3600_000 };
    expect(retry(failed, sync, 12, 0)).toBe(30 * 60_000);
    expect(retry(failed, sync, 13, 0)).toBeUndefined();
    expect(retry(failed, renew, 12, 0)).toBe(30 * 60_000);
    expect(retry(failed, renew, 13, 0)).toBe(3600_000);
    expect(retry(failed, renew, 40, 0)).toBe(3600_000);
    expect(retry(new ConnectionUnavailableError('x', 'broken'), renew, 1, 0)).toBeUndefined();
  });

  it('retries work with a deadline before it while there is time: half the time left, at least a minute; Retry-After is obeyed', () => {
    const retry = calendarRetry(() => 0);
    const failed = new ProviderError('microsoft', 500, 'InternalServerError', 'busy', true);
    const now = Date.parse('2026-03-05T07:00:00Z');
    const renew = { key: 'renew:x', queue: 'x', run: async () => {}, afterRetriesMs: 3600_000, deadline: Date.parse('2026-03-05T08:00:00Z') };
    // An hour later would be past the expiry: half the hour left instead.
    expect(retry(failed, renew, 13, now)).toBe(30 * 60_000);
    expect(retry(failed, renew, 14, Date.parse('2026-03-05T07:50:00Z'))).toBe(5 * 60_000);
    expect(retry(failed, renew, 15, Date.parse('2026-03-05T07:59:30Z'))).toBe(60_000);
    // A short backoff stays as it is.
    expect(retry(failed, renew, 1, now)).toBe(8000);
    // Past the deadline, the usual pace (the next run creates the subscription anew).
    expect(retry(failed, renew, 16, Date.parse('2026-03-05T08:00:30Z'))).toBe(3600_000);
    expect(retry(new RateLimitedError('microsoft', 429, 'TooManyRequests', 2 * 3600_000, true), renew, 1, now)).toBe(2 * 3600_000);
    expect(retry(new RateLimitedError('microsoft', 503, 'ServiceUnavailable', 2 * 3600_000, false), renew, 1, now)).toBe(30 * 60_000);
  });
});
