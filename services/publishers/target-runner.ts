import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../shared/clock/clock.js';
import type { Person } from '../../shared/domain/directory.js';
import type { Presence } from '../../shared/domain/presence.js';
import type { Target } from '../../shared/domain/target.js';
import type { Metrics } from '../observability/metrics.js';
import { jitteredBackoffMs } from './backoff.js';
import { DeliveryError } from './http-client.js';
import { redactUrls } from './redact-url.js';
import type { Delivery, Sink, WatchHealth } from './sink.js';

/** A target still failing is said again in the log this often, not at every failed delivery. */
export const FAILING_REMINDER_MS = 3_600_000;

/**
 * The longest retry delay after a `410 Gone`: the receiver says the resource is gone, likely for good
 * (RFC 9110 §15.5.11), unlike a 404, which may be a route not deployed yet. Still retried, slowly, so an
 * edit on the other side is picked up without one here.
 */
export const GONE_RETRY_CAP_MS = 3_600_000;

interface Slot {
  /** The newest state not yet delivered. */
  pending?: Delivery;
  inFlight: boolean;
  /** The version on its way: an older state offered meanwhile (a late read, a retried dispatch) must not follow it. */
  sending?: number;
  /** The delivery on its way withdraws the person (they left the target's scope). */
  withdrawing?: boolean;
  lastSentAt?: number;
  /** When a delivery of theirs last went out: a failing target's probe is whoever waited longest since. */
  triedAt?: number;
  lastVersion?: number;
  timer?: TimerHandle;
  attempt: number;
}

export interface RunnerOptions {
  coalesceMs: number;
  retryBaseMs: number;
  retryCapMs: number;
  /** Consecutive failures after which the target shows as failing. */
  failingAfter: number;
  random: () => number;
  /** Told of every acknowledged delivery (replicas record it, so a takeover sends only what is missing). */
  onDelivered?: (d: Delivery) => void;
}

export interface TargetStatus {
  targetId: string;
  kind: Target['kind'];
  state: 'healthy' | 'failing' | 'idle';
  consecutiveFailures: number;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  lastError: string | null;
  delivered: number;
  failed: number;
  superseded: number;
  waiting: number;
  /** While failing: when the next probe goes out; null while one is on its way or nobody waits (the next change is the probe). */
  nextProbeAt?: string | null;
  details?: unknown;
}

/**
 * A failing target since `since` (with the failures counted before then and when the log last said so), and
 * its probe: one delivery at a time, on the target's own backoff (`step`), lets through whoever waited longest.
 */
interface Failing {
  since: number;
  failedBefore: number;
  toldAt: number;
  step: number;
  nextProbeAt: number;
  probing: boolean;
  timer?: TimerHandle;
}

/**
 * Delivers each person's states to one target: the first change goes out at once; changes within the
 * coalescing window after a delivery collapse into the final state, which is never lost; one delivery
 * in flight per person, so states arrive in order; failures are retried with capped, jittered
 * exponential backoff, always with the newest state (a superseded one is dropped, not retried). Once the
 * target is failing, nobody's retry goes out on its own: one probe at a time does, on the target's backoff,
 * each time with the newest state of whoever waited longest, and everyone's newest state waits; when the
 * target answers again, everything waiting is sent at once.
 */
export class TargetRunner {
  private readonly slots = new Map<string, Slot>();
  private consecutiveFailures = 0;
  private lastSuccessAt: number | undefined;
  private lastFailureAt: number | undefined;
  private lastError: string | undefined;
  private failing: Failing | undefined;
  private counts = { delivered: 0, failed: 0, superseded: 0 };
  private closed = false;
  /** Handing over: nothing new starts, what is under way ends normally (`drain`). */
  private draining = false;
  private readonly underWay = new Set<Promise<unknown>>();

  constructor(
    readonly target: Target,
    private readonly sink: Sink,
    private readonly clock: Clock,
    private readonly opts: RunnerOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** What the target is known to have already (a previous owner's deliveries): older states are not sent. */
  seed(personId: string, version: number): void {
    if (!this.slots.has(personId)) this.slots.set(personId, { inFlight: false, attempt: 0, lastVersion: version });
  }

  /** The target holds what `seed` says, at `address` or rendered from `person`: the sink learns what that left on the target. */
  adopt(personId: string, person: Person | undefined, address?: string, presence?: Presence): void {
    this.sink.adopt?.(personId, person, address, presence);
  }

  /** Whether the target has, or is about to get, a state of this person. */
  holds(personId: string): boolean {
    const slot = this.slots.get(personId);
    return slot !== undefined && (slot.lastVersion !== undefined || slot.sending !== undefined || slot.pending?.presence !== undefined);
  }

  offer(d: Delivery): void {
    if (this.closed) return;
    let slot = this.slots.get(d.personId);
    if (!slot) {
      slot = { inFlight: false, attempt: 0 };
      this.slots.set(d.personId, slot);
    }
    const newest = Math.max(slot.lastVersion ?? 0, slot.sending ?? 0);
    if (!d.presence) {
      // A removal is always the final word; it must outrank whatever was sent, is on its way or is waiting.
      // A withdrawal from the target's scope keeps the newest version instead: should the person come back,
      // their state at that version is taken again by a receiver that drops only older versions.
      const bump = d.outOfScope ? 0 : 1;
      d = { ...d, version: Math.max(d.version, newest + bump, (slot.pending?.version ?? 0) + bump) };
    } else if (!slot.pending?.outOfScope && !slot.withdrawing) {
      // A re-rendering of the newest state replaces it; an older state never goes out after a newer one.
      if (d.version < newest || (d.version === newest && d.rerender === undefined)) return;
      if (slot.pending && slot.pending.version > d.version) return;
    }
    // Otherwise the person is back in scope before their withdrawal went out (it is dropped) or while it is
    // on its way (their state follows it), whatever the withdrawal's version.
    if (slot.pending) {
      this.counts.superseded++;
      this.metrics.publishDeliveries.inc({ kind: this.target.kind, outcome: 'superseded' });
    }
    slot.pending = d;
    this.schedule(d.personId, slot);
  }

  private schedule(personId: string, slot: Slot): void {
    if (slot.inFlight || slot.timer || !slot.pending) return;
    if (this.failing) return this.planProbe(this.failing);
    const now = this.clock.now();
    const due = slot.attempt > 0 ? undefined : slot.lastSentAt === undefined ? now : slot.lastSentAt + this.opts.coalesceMs;
    if (due === undefined) return; // waiting for a retry timer
    if (due <= now) void this.send(personId, slot);
    else slot.timer = this.clock.at(due, () => this.fire(personId, slot));
  }

  private fire(personId: string, slot: Slot): void {
    slot.timer = undefined;
    if (!slot.inFlight && slot.pending) void this.send(personId, slot);
  }

  /** `probe`: the failing target's probe, this delivery. */
  private async send(personId: string, slot: Slot, probe?: Failing): Promise<void> {
    const d = slot.pending;
    if (!d || this.closed || this.draining) {
      if (probe) probe.probing = false;
      return;
    }
    slot.pending = undefined;
    slot.inFlight = true;
    slot.sending = d.version;
    slot.withdrawing = d.outOfScope === true;
    // The coalescing window runs from when the delivery went out, however long the target took to answer.
    const sentAt = this.clock.now();
    slot.triedAt = sentAt;
    try {
      const delivering = this.sink.deliver(d);
      this.underWay.add(delivering);
      const outcome = await delivering.finally(() => this.underWay.delete(delivering));
      // Closed meanwhile: the sink may have given up on it (a SIP publisher disposed before its answer), so
      // it is not recorded as delivered; whoever publishes the target next sends it.
      if (this.closed) return;
      slot.lastVersion = d.version;
      slot.lastSentAt = sentAt;
      slot.attempt = 0;
      this.counts.delivered++;
      // Out of the target's scope: it holds nothing of them now, and gets their state afresh if they come back.
      if (d.outOfScope) {
        slot.lastVersion = undefined;
        if (!slot.pending) this.slots.delete(personId);
      }
      this.opts.onDelivered?.(d);
      this.metrics.publishDeliveries.inc({ kind: this.target.kind, outcome: 'delivered' });
      // Nothing was asked of the target (it holds what this state reads as): that says nothing of its health.
      if (outcome !== 'unchanged') this.answered();
    } catch (err) {
      if (this.closed) return;
      const e = err instanceof DeliveryError ? err : new DeliveryError((err as Error).message, true);
      // Target URLs in it (a webhook's, or one a library's message embeds) may carry a token.
      const message = redactUrls(e.message);
      this.counts.failed++;
      this.consecutiveFailures++;
      this.lastFailureAt = this.clock.now();
      this.lastError = message;
      this.metrics.publishDeliveries.inc({ kind: this.target.kind, outcome: 'failed' });
      if (this.consecutiveFailures >= this.opts.failingAfter) this.metrics.targetUp.set({ tenant: this.target.tenantId, target: this.target.id }, 0);
      this.tellFailure(personId, slot, e, message);
      // Retried with the newest state: a newer one that arrived meanwhile wins.
      if (e.retryable && !slot.pending) slot.pending = d;
      if (e.retryable) slot.attempt++;
      if (probe && probe === this.failing) {
        // An answer never retried (a redirect) shows the target reachable: the next probe goes out at once.
        const reachable = !e.retryable && e.status !== undefined;
        if (!reachable) probe.step++;
        probe.nextProbeAt = this.clock.now() + (reachable ? 0 : this.retryDelay(probe.step, e.status));
      } else if (!this.failing && e.retryable) {
        slot.timer?.cancel();
        slot.timer = this.clock.after(this.retryDelay(slot.attempt, e.status), () => this.fire(personId, slot));
      }
    } finally {
      slot.inFlight = false;
      slot.sending = undefined;
      slot.withdrawing = undefined;
      if (probe) probe.probing = false;
    }
    this.schedule(personId, slot);
    if (this.failing) this.planProbe(this.failing);
  }

  /** A capped, jittered exponential backoff: the wait before attempt `attempt` + 1. */
  private retryDelay(attempt: number, status: number | undefined): number {
    const cap = status === 410 ? Math.max(this.opts.retryCapMs, GONE_RETRY_CAP_MS) : this.opts.retryCapMs;
    return jitteredBackoffMs(attempt, this.opts.retryBaseMs, cap, this.opts.random);
  }

  /** The target answered a delivery: healthy again, and what waited while it was failing goes out. */
  private answered(): void {
    const f = this.failing;
    this.consecutiveFailures = 0;
    this.lastSuccessAt = this.clock.now();
    this.metrics.targetUp.set({ tenant: this.target.tenantId, target: this.target.id }, 1);
    if (!f) return;
    this.log.info({ target: this.target.id, kind: this.target.kind, failingForMs: this.clock.now() - f.since, failures: this.counts.failed - f.failedBefore }, 'push target answers again');
    f.timer?.cancel();
    this.failing = undefined;
    this.sink.hold?.(false);
    this.flushWaiting();
  }

  /** The target turned failing: nobody's own retry or coalescing timer sends any more, nor the sink of its own accord; only the probe. */
  private turnFailing(now: number): void {
    const step = this.opts.failingAfter;
    this.failing = { since: now, failedBefore: this.counts.failed - this.consecutiveFailures, toldAt: now, step, nextProbeAt: now + this.retryDelay(step, undefined), probing: false };
    for (const s of this.slots.values()) {
      s.timer?.cancel();
      s.timer = undefined;
    }
    this.sink.hold?.(true);
  }

  /** Sends the probe when it is due, unless one is on its way or planned. */
  private planProbe(f: Failing): void {
    if (f.probing || f.timer || this.closed || this.draining) return;
    if (f.nextProbeAt <= this.clock.now()) return this.probe(f);
    f.timer = this.clock.at(f.nextProbeAt, () => {
      f.timer = undefined;
      this.probe(f);
    });
  }

  /** The newest state of whoever waited longest since their last delivery went out, so no one person's refused state holds the others back. */
  private probe(f: Failing): void {
    if (f !== this.failing || f.probing || this.closed || this.draining) return;
    let next: [string, Slot] | undefined;
    for (const entry of this.slots) {
      const s = entry[1];
      if (s.pending && !s.inFlight && (!next || (s.triedAt ?? -Infinity) < (next[1].triedAt ?? -Infinity))) next = entry;
    }
    if (!next) return;
    f.probing = true;
    void this.send(next[0], next[1], f);
  }

  /**
   * A target that keeps failing is said once when it turns failing, then at most every
   * `FAILING_REMINDER_MS`, and once when it answers again (the status and `presence_publish_target_up`
   * say it all along); before that, one person's delivery is said at its first failure only, not at each retry.
   */
  private tellFailure(personId: string, slot: Slot, e: DeliveryError, message: string): void {
    const now = this.clock.now();
    const fields = { target: this.target.id, kind: this.target.kind, status: e.status, err: message, retryable: e.retryable };
    if (this.consecutiveFailures < this.opts.failingAfter) {
      if (slot.attempt === 0) this.log.warn({ ...fields, person: personId }, 'delivery failed');
    } else if (!this.failing) {
      this.turnFailing(now);
      this.log.warn({ ...fields, failures: this.consecutiveFailures }, 'push target failing');
    } else if (now - this.failing.toldAt >= FAILING_REMINDER_MS) {
      this.failing.toldAt = now;
      this.log.warn({ ...fields, failingForMs: now - this.failing.since, failures: this.counts.failed - this.failing.failedBefore }, 'push target still failing');
    }
  }

  /** The target answers again: send everything that waits now. */
  private flushWaiting(): void {
    for (const [personId, slot] of this.slots) {
      if (slot.inFlight || !slot.pending) continue;
      slot.timer?.cancel();
      slot.timer = undefined;
      slot.attempt = 0;
      slot.lastSentAt = undefined;
      this.schedule(personId, slot);
    }
  }

  /** The sink's read-back subscriptions by health (SIP dialog watches), if it holds any. */
  watchHealth(): Partial<Record<WatchHealth, number>> | undefined {
    return this.sink.watchHealth?.();
  }

  status(): TargetStatus {
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
    let waiting = 0;
    for (const s of this.slots.values()) if (s.pending) waiting++;
    const s: TargetStatus = {
      targetId: this.target.id,
      kind: this.target.kind,
      state: this.consecutiveFailures >= this.opts.failingAfter ? 'failing' : this.lastSuccessAt === undefined ? 'idle' : 'healthy',
      consecutiveFailures: this.consecutiveFailures,
      lastSuccessAt: iso(this.lastSuccessAt),
      lastFailureAt: iso(this.lastFailureAt),
      lastError: this.lastError ?? null,
      ...this.counts,
      waiting,
    };
    const f = this.failing;
    if (f) s.nextProbeAt = f.timer ? iso(f.nextProbeAt) : null;
    const details = this.sink.details?.();
    if (details !== undefined) s.details = details;
    return s;
  }

  /** `next`: the target as it stands from now on (undefined: deleted; `this.target` when handed over as it is). */
  /**
   * Before a graceful handover: starts nothing new and waits, at most `ms`, for the deliveries under way
   * and then the publisher's own requests, so what they got through is recorded for the next owner. A SIP publisher closed before its answer
   * would leave the ledger with an entity-tag the server has replaced, and the next owner with a second
   * publication beside it.
   */
  async drain(ms: number): Promise<void> {
    this.draining = true;
    for (const s of this.slots.values()) s.timer?.cancel();
    this.failing?.timer?.cancel();
    const done = Promise.allSettled([...this.underWay]).then(() => this.sink.drain?.());
    let bound: TimerHandle | undefined;
    await Promise.race([done, new Promise<void>((r) => (bound = this.clock.after(ms, r)))]);
    bound?.cancel();
  }

  async close(next: Target | undefined, withdraw = false): Promise<void> {
    this.closed = true;
    for (const s of this.slots.values()) s.timer?.cancel();
    this.failing?.timer?.cancel();
    this.metrics.targetUp.remove({ tenant: this.target.tenantId, target: this.target.id });
    await this.sink.close(next, withdraw);
  }
}
