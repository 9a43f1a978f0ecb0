import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock/clock.js';
import type { Policy } from '../../shared/domain/policy.js';
import type { Presence } from '../../shared/domain/presence.js';
import { explainLater, mergeUnexplained, sameState, withoutExplanation } from '../../shared/merge/merge.js';
import type { ChangeFeed } from '../../shared/store/feed.js';
import type { PersonState, Store } from '../../shared/store/port.js';
import type { Metrics } from '../observability/metrics.js';
import { applyChanges, collectGarbage, type SignalChange } from './apply-changes.js';
import { Timeline } from './timeline.js';

export interface EngineDeps {
  store: Store;
  feed: ChangeFeed;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  policyFor: (tenantId: string) => Promise<Policy>;
}

export interface ApplyResult {
  presence: Presence;
  changed: boolean;
  applied: number;
  ignored: number;
}

/** Ended signals are kept this long so late, out-of-order events for them are still recognised. */
const GARBAGE_GRACE_MS = 15 * 60_000;

/**
 * Runs the pure merge around the store: applies signal changes atomically per person, stores the new
 * canonical state with a version that only grows, publishes real changes, and wakes each person at their
 * next transition through the timeline.
 */
export class PresenceEngine {
  readonly timeline: Timeline;

  constructor(private readonly deps: EngineDeps) {
    this.timeline = new Timeline(deps.clock, (tenantId, personId, dueAt) => {
      deps.metrics.schedulerLag.observe(Math.max(0, deps.clock.now() - dueAt) / 1000);
      this.apply(tenantId, personId, []).catch((err: unknown) =>
        deps.log.error({ err, tenantId, personId }, 'scheduled re-evaluation failed'),
      );
    });
  }

  /** Applies `changes` (possibly none: a re-evaluation) to one person and merges. */
  async apply(tenantId: string, personId: string, changes: readonly SignalChange[]): Promise<ApplyResult> {
    const { store, clock, metrics, feed } = this.deps;
    const policy = await this.deps.policyFor(tenantId);
    const now = clock.now();
    const result = await store.state.update(tenantId, personId, (state) => step(state, changes, policy, now, personId));
    metrics.merges.inc();
    for (const c of changes) {
      if (c.op === 'put') metrics.signalsIn.inc({ source: c.signal.source, outcome: result.applied > 0 ? 'applied' : 'ignored' });
    }
    if (result.changed) {
      metrics.stateChanges.inc({ availability: result.presence.availability });
      await feed.publish(tenantId, personId, result.presence);
    }
    this.timeline.schedule(tenantId, personId, result.presence.wakeAt);
    metrics.scheduledTransitions.set(this.timeline.pending);
    return result;
  }

  async read(tenantId: string, personId: string): Promise<PersonState> {
    return this.deps.store.state.read(tenantId, personId);
  }

  /** Forgets a person entirely and tells consumers (publishers remove what they published). */
  async remove(tenantId: string, personId: string): Promise<void> {
    await this.deps.store.state.remove(tenantId, personId);
    this.timeline.schedule(tenantId, personId, undefined);
    await this.deps.feed.publish(tenantId, personId, undefined);
  }

  /** Re-evaluates everyone with state, so transitions missed while stopped happen now and timers are set. */
  async start(): Promise<void> {
    for (const { tenantId, personId } of await this.deps.store.state.keys()) await this.apply(tenantId, personId, []);
  }

  stop(): void {
    this.timeline.stop();
  }
}

function step(state: PersonState, changes: readonly SignalChange[], policy: Policy, now: number, personId: string) {
  const { signals: changed, applied, ignored } = applyChanges(state.signals, changes);
  const signals = collectGarbage(changed, now, GARBAGE_GRACE_MS);
  const decision = mergeUnexplained(signals, policy, now);
  const prev = state.presence;
  const isChange = !prev || !sameState(prev, decision);
  // Seeded from the clock so a restarted process (which lost hot state) still issues larger versions.
  const version = isChange ? Math.max((prev?.version ?? 0) + 1, now) : prev.version;
  const presence: Presence = explainLater(withoutExplanation(decision, { personId, since: isChange ? now : prev.since, version }), signals, policy, now);
  return { next: { signals, presence }, result: { presence, changed: isChange, applied, ignored } };
}
