import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../shared/clock/clock.js';
import type { TargetStatusStore } from '../../shared/store/target-status.js';
import type { TargetStatus } from './target-runner.js';

export interface OwnedStatus {
  tenantId: string;
  status: TargetStatus;
}

export interface StatusReporterDeps {
  store: TargetStatusStore;
  clock: Clock;
  log: Logger;
  replica: string;
  leaseMs: number;
  /** The status of every target this replica publishes right now. */
  owned: () => Iterable<OwnedStatus>;
}

/** How often a changed status is looked for between lease renewals (a failing target shows within this). */
const CHANGE_CHECK_MS = 1000;

/**
 * Writes the status of the targets this replica publishes into the shared store, so that any replica
 * answers `GET /v1/targets/{id}/status` as the owner would: each status when it changes, and all of them
 * at every lease renewal. A report outlives the lease by one renewal period, so a dead owner's goes stale
 * about when another replica takes its targets over; one that stops publishing a target withdraws its report.
 */
export class StatusReporter {
  /** What was last written per target (`tenantId\0targetId`). */
  private readonly written = new Map<string, { tenantId: string; targetId: string; json: string }>();
  private timer: TimerHandle | undefined;
  private running: Promise<void> = Promise.resolve();
  private closed = false;
  private failing = false;

  constructor(private readonly deps: StatusReporterDeps) {}

  start(): void {
    this.schedule();
  }

  /** Every status, changed or not (at a lease renewal). */
  renew(): Promise<void> {
    return this.run(true);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    await this.running;
    const { store, replica } = this.deps;
    await Promise.all([...this.written.values()].map((w) => store.withdraw(w.tenantId, w.targetId, replica).catch(() => undefined)));
    this.written.clear();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = this.deps.clock.after(Math.min(CHANGE_CHECK_MS, this.deps.leaseMs / 3), () => void this.run(false).then(() => this.schedule()));
  }

  /** One write pass at a time; never rejects (the next renewal tries again). */
  private run(all: boolean): Promise<void> {
    this.running = this.running.then(() => (this.closed ? undefined : this.publish(all)));
    return this.running;
  }

  private async publish(all: boolean): Promise<void> {
    const { store, clock, replica, leaseMs, log } = this.deps;
    const now = clock.now();
    const seen = new Set<string>();
    try {
      for (const { tenantId, status } of this.deps.owned()) {
        const k = `${tenantId}\u0000${status.targetId}`;
        seen.add(k);
        const json = JSON.stringify(status);
        if (!all && this.written.get(k)?.json === json) continue;
        await store.report(tenantId, status.targetId, { replica, reportedAt: now, status }, leaseMs + leaseMs / 3);
        this.written.set(k, { tenantId, targetId: status.targetId, json });
      }
      for (const [k, w] of this.written) {
        if (seen.has(k)) continue;
        this.written.delete(k);
        await store.withdraw(w.tenantId, w.targetId, replica);
      }
      this.failing = false;
    } catch (err) {
      // Said once per outage, not every second: the store's own alerts cover the outage itself.
      if (!this.failing) log.warn({ err: (err as Error).message }, 'cannot report push target status');
      this.failing = true;
    }
  }
}
