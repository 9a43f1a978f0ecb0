import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../shared/clock/clock.js';
import type { LeaseStore } from '../../shared/store/leases.js';

export interface Job {
  /** One pending timer per key: scheduling the same key again replaces it (or keeps the earlier one). */
  key: string;
  /** Jobs of one queue (one connection) run one at a time, here and across replicas. */
  queue: string;
  run: () => Promise<void>;
  /**
   * Work that must not stop (a renewal: a lapsed subscription silences the calendar's pushes for good;
   * the reconciliation) runs again this long after its retries ran out, until it works or its connection goes.
   */
  afterRetriesMs?: number;
  /**
   * The instant after which the work has lost its point (a renewal: the subscription lapses at its
   * expiry). Retries land before it while there is time.
   */
  deadline?: number;
}

/** How long to wait before running a failed job again (`now` is the failure's instant); undefined gives up. */
export type RetryPolicy = (err: unknown, job: Job, attempt: number, now: number) => number | undefined;

export interface JobRunnerDeps {
  clock: Clock;
  log: Logger;
  leases: LeaseStore;
  owner: string;
  retry: RetryPolicy;
}

/** A replica that dies mid-job frees the connection after this. */
const LEASE_MS = 2 * 60_000;
/** Another replica works on this connection: look again shortly. */
const BUSY_RETRY_MS = 5_000;

/**
 * Background calendar work on the injected clock: renewals before expiry, channel replacement,
 * reconciliation, debounced syncs after notifications, and retries after `Retry-After` or backoff. No
 * polling loop: each job is one timer, and a test's ManualClock decides when it fires.
 */
export class JobRunner {
  private readonly timers = new Map<string, { at: number; handle: TimerHandle; job: Job }>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly attempts = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly deps: JobRunnerDeps) {}

  /** Runs `job` at `at`. With `keepEarlier`, an already pending earlier run of the same key stays (debounce). */
  schedule(job: Job, at: number, opts: { keepEarlier?: boolean } = {}): void {
    if (this.stopped) return;
    const old = this.timers.get(job.key);
    if (old && opts.keepEarlier && old.at <= at) return;
    old?.handle.cancel();
    const handle = this.deps.clock.at(at, () => {
      this.timers.delete(job.key);
      void this.enqueue(job);
    });
    this.timers.set(job.key, { at, handle, job });
  }

  /** When the job of `key` is due, if one is pending. */
  dueAt(key: string): number | undefined {
    return this.timers.get(key)?.at;
  }

  cancel(key: string): void {
    this.timers.get(key)?.handle.cancel();
    this.timers.delete(key);
    this.attempts.delete(key);
  }

  /** Cancels every pending job of a queue (a connection going away). */
  cancelQueue(queue: string): void {
    for (const [key, t] of this.timers) if (t.job.queue === queue) this.cancel(key);
  }

  /** Runs `job` now, after what its queue is already doing; resolves when it ran (errors are handled). */
  runNow(job: Job): Promise<void> {
    this.timers.get(job.key)?.handle.cancel();
    this.timers.delete(job.key);
    return this.enqueue(job);
  }

  private enqueue(job: Job): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const prev = this.chains.get(job.queue) ?? Promise.resolve();
    const next = prev.then(() => this.execute(job));
    this.chains.set(job.queue, next);
    this.running.add(next);
    void next.finally(() => {
      this.running.delete(next);
      if (this.chains.get(job.queue) === next) this.chains.delete(job.queue);
    });
    return next;
  }

  private async execute(job: Job): Promise<void> {
    const { clock, leases, owner, log } = this.deps;
    const lease = `calendar-job:${job.queue}`;
    if (!(await leases.acquire(lease, owner, LEASE_MS, clock.now()))) {
      this.schedule(job, clock.now() + BUSY_RETRY_MS, { keepEarlier: true });
      return;
    }
    try {
      await job.run();
      this.attempts.delete(job.key);
    } catch (err) {
      const attempt = (this.attempts.get(job.key) ?? 0) + 1;
      const wait = this.deps.retry(err, job, attempt, clock.now());
      if (wait === undefined) {
        this.attempts.delete(job.key);
        log.warn({ job: job.key, err: describe(err) }, 'calendar job failed; not retried');
      } else {
        this.attempts.set(job.key, attempt);
        log.warn({ job: job.key, attempt, retryInMs: wait, err: describe(err) }, 'calendar job failed; retrying');
        this.schedule(job, clock.now() + wait, { keepEarlier: true });
      }
    } finally {
      await leases.release(lease, owner);
    }
  }

  /** Resolves once no job is running (pending timers do not count). For tests and shutdown. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  get pending(): number {
    return this.timers.size;
  }

  /** Connections with a job running now (each runs one at a time). */
  get busy(): number {
    return this.chains.size;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) t.handle.cancel();
    this.timers.clear();
  }
}

/** Errors logged without stack noise or anything secret (our errors never carry tokens). */
function describe(err: unknown): { name: string; message: string } {
  return err instanceof Error ? { name: err.name, message: err.message } : { name: 'Error', message: String(err) };
}
