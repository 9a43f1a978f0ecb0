import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../shared/clock/clock.js';
import type { Policy } from '../../shared/domain/policy.js';
import type { Presence } from '../../shared/domain/presence.js';
import type { Source } from '../../shared/domain/signal.js';
import { explainLater, mergeUnexplained, sameEndpoints, sameRouting, sameState, withDecided, withFields } from '../../shared/merge/merge.js';
import type { PersonState, Store } from '../../shared/store/port.js';
import type { FeedCause } from '../../shared/store/feed.js';
import type { Metrics } from '../observability/metrics.js';
import { beganAt } from '../../shared/merge/began-at.js';
import { applyChanges, collectGarbage, type SignalChange } from './apply-changes.js';
import { Timeline } from './timeline.js';

export interface EngineDeps {
  store: Store;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  /** A cached policy comes back as it is, so a merge waits for no promise it does not need. */
  policyFor: (tenantId: string) => Policy | Promise<Policy>;
}

export interface ApplyResult {
  presence: Presence;
  /** The state this change replaced, if there was one. */
  before?: Presence;
  changed: boolean;
  applied: number;
  ignored: number;
}

/** Ended signals are kept this long so late, out-of-order events for them are still recognised. */
const GARBAGE_GRACE_MS = 15 * 60_000;

/**
 * Several replicas: a claimed transition is another replica's for this long (if it dies before writing
 * the re-evaluation, the person is due again after it). Transitions overdue by more than the grace
 * (the replica whose timer should have fired is gone) are swept up every sweep interval.
 */
const CLAIM_MS = 30_000;
const SWEEP_MS = 1000;
const SWEEP_GRACE_MS = 2000;

/**
 * Runs the pure merge around the store: applies signal changes atomically per person, stores the new
 * canonical state with a version that only grows, publishes real changes, and wakes each person at their
 * next transition through the timeline.
 */
export class PresenceEngine {
  readonly timeline: Timeline;
  private sweepTimer: TimerHandle | undefined;
  private stopped = false;
  /** While the store is away the sweep fails every second: say so once, and once when it works again. */
  private sweepFailing = false;

  constructor(private readonly deps: EngineDeps) {
    this.timeline = new Timeline(deps.clock, (tenantId, personId, dueAt) => {
      this.due(tenantId, personId, dueAt).catch((err: unknown) =>
        deps.log.error({ err: (err as Error).message, tenantId, personId }, 'scheduled re-evaluation failed'),
      );
    });
    deps.metrics.pendingTransitions = () => this.timeline.pending;
  }

  /** A transition is due: re-evaluate, once across replicas. */
  private async due(tenantId: string, personId: string, dueAt: number): Promise<void> {
    const { clock, metrics, store } = this.deps;
    if (store.shared && !(await store.shared.due.claim(tenantId, personId, clock.now(), CLAIM_MS))) return;
    metrics.schedulerLag.observe(Math.max(0, clock.now() - dueAt) / 1000);
    await this.apply(tenantId, personId, []);
  }

  /** Takes over transitions whose replica is gone (or whose claim ran out), then looks again later. */
  private async sweep(): Promise<void> {
    const { clock, store, log } = this.deps;
    try {
      const now = clock.now();
      const overdue = await store.shared!.due.claimOverdue(now - SWEEP_GRACE_MS, now, CLAIM_MS, 500);
      if (this.sweepFailing) log.info('sweeping overdue transitions again');
      this.sweepFailing = false;
      for (const d of overdue) {
        await this.apply(d.tenantId, d.personId, []).catch((err: unknown) =>
          log.error({ err: (err as Error).message, tenantId: d.tenantId, personId: d.personId }, 'overdue re-evaluation failed'),
        );
      }
    } catch (err) {
      if (!this.sweepFailing) log.warn({ err: (err as Error).message }, 'cannot sweep overdue transitions');
      this.sweepFailing = true;
    } finally {
      if (!this.stopped) this.sweepTimer = clock.after(SWEEP_MS, () => void this.sweep());
    }
  }

  /**
   * Applies `changes` (possibly none: a re-evaluation) to one person and merges. `outcomes`, if given
   * (as long as `changes`), receives what became of each change (see Outcome) in the write that counted:
   * a store may run the update again, and each run overwrites every entry. `removed`: endpoints an admin
   * took away with these changes (a device deleted, a token revoked), which no outage metric counts as lost.
   */
  async apply(tenantId: string, personId: string, changes: readonly SignalChange[], outcomes?: Uint8Array, removed?: ReadonlySet<string>): Promise<ApplyResult> {
    const { store, clock, metrics } = this.deps;
    const cached = this.deps.policyFor(tenantId);
    const policy = cached instanceof Promise ? await cached : cached;
    const now = clock.now();
    const result = await store.state.update(tenantId, personId, (state) => step(state, changes, policy, now, personId, outcomes));
    metrics.countMerge(result.changed ? result.presence.availability : undefined);
    for (const c of changes) {
      if (c.op !== 'put') continue;
      metrics.countSignal(c.signal.source, result.applied > 0);
      metrics.sourceSeen(tenantId, c.signal.source, now);
    }
    if (result.changed) metrics.stateChanged(tenantId, result.before, result.presence, removed);
    this.timeline.schedule(tenantId, personId, result.presence.wakeAt);
    return result;
  }

  /**
   * `source` was heard from for the tenant with nothing to merge (a NOTIFY with no state, RFC 6665 §4.2.2):
   * the silent-source alert counts it as a signal.
   */
  heard(tenantId: string, source: Source): void {
    this.deps.metrics.sourceSeen(tenantId, source, this.deps.clock.now());
  }

  /**
   * The person's directory record changed in a way consumers show: their current state goes on the feed
   * again, version unchanged and marked with `cause`, in order with their state changes. Someone with
   * no state yet is merged for the first time instead (as a new person is), which shows them as a
   * snapshot does: unknown, unless their signals say more.
   *
   * An edit streams show raises the state's view floor to now: a viewer who now sees less of the person
   * (marked sensitive) would otherwise be shown the lower version at which what they still see began,
   * and one who sees the same gets the edit's instant, which tells nothing of the state behind it.
   */
  async directoryChanged(tenantId: string, personId: string, cause: FeedCause = 'directory'): Promise<void> {
    const now = this.deps.clock.now();
    const shown = await this.deps.store.state.update(tenantId, personId, (state) => {
      const p = state.presence;
      if (!p) return { next: state, result: false };
      // Above the order floor too, whatever this replica's clock says: other replicas' copies follow, and a
      // restore keeps, only a state ordered above the one they hold (`orderOf` in `redis-state.ts`).
      const viewFloor = Math.max(now, p.version, p.viewFloor ?? 0, p.orderFloor === undefined ? 0 : p.orderFloor + 1);
      const presence = cause === 'directory' ? withFields(p, { viewFloor }) : p;
      return { next: { signals: state.signals, presence }, result: true, emit: true, cause };
    });
    if (!shown) await this.apply(tenantId, personId, []);
  }

  async read(tenantId: string, personId: string): Promise<PersonState> {
    return this.deps.store.state.read(tenantId, personId);
  }

  /** Forgets a person entirely and tells consumers (publishers remove what they published). */
  async remove(tenantId: string, personId: string): Promise<void> {
    await this.deps.store.state.remove(tenantId, personId);
    this.timeline.schedule(tenantId, personId, undefined);
  }

  /** Re-evaluates everyone with state, so transitions missed while stopped happen now and timers are set. */
  async start(): Promise<void> {
    for (const { tenantId, personId } of await this.deps.store.state.keys()) await this.apply(tenantId, personId, []);
    if (this.deps.store.shared && !this.sweepTimer && !this.stopped) this.sweepTimer = this.deps.clock.after(SWEEP_MS, () => void this.sweep());
  }

  stop(): void {
    this.stopped = true;
    this.sweepTimer?.cancel();
    this.timeline.stop();
  }
}

function step(state: PersonState, changes: readonly SignalChange[], policy: Policy, now: number, personId: string, outcomes: Uint8Array | undefined) {
  const { signals: changed, applied, ignored } = applyChanges(state.signals, changes, outcomes);
  const signals = collectGarbage(changed, now, GARBAGE_GRACE_MS);
  const decision = mergeUnexplained(signals, policy, now);
  const prev = state.presence;
  const isChange = !prev || !sameState(prev, decision);
  const viewFloor = prev?.viewFloor;
  const orderFloor = prev?.orderFloor;
  // Seeded from the clock so a restarted process (which lost hot state) still issues larger versions;
  // above both floors, so a change orders after every copy of the state before it.
  const version = isChange ? Math.max(Math.max(prev?.version ?? 0, viewFloor ?? 0, orderFloor ?? 0) + 1, now) : prev.version;
  // A re-evaluation that changed no signal and ran late (a survivor sweeping a dead replica's transition)
  // dates the state at the transition that made it, not at the sweep.
  const began = isChange && prev && applied === 0 ? beganAt(changed, policy, prev, decision, now) : now;
  // A state never begins before the one it follows, nor before the view floor, whatever this replica's
  // clock says (another replica's may be ahead): views that show less than the activity give these
  // instants as their version (views.ts).
  const since = isChange ? Math.max(began, (prev?.since ?? 0) + 1, (viewFloor ?? 0) + 1) : prev.since;
  const sameAvailability = prev !== undefined && prev.availability === decision.availability;
  const availabilitySince = sameAvailability ? (prev.availabilitySince ?? prev.since) : since;
  const sameSide = prev !== undefined && (prev.availability === 'available') === (decision.availability === 'available');
  const binarySince = sameSide ? (prev.binarySince ?? prev.availabilitySince ?? prev.since) : since;
  const routingSince = sameAvailability && sameRouting(prev, decision) ? (prev.routingSince ?? prev.since) : since;
  // One literal holding every field a state always has, rather than a spread of them over the decision's:
  // this runs for every signal, and the state lives on in the feed's history.
  const fields: Omit<Presence, 'explanation'> = {
    availability: decision.availability,
    activity: decision.activity,
    routable: decision.routable,
    // The state before's list when equal (endpoints are id, kind and contact), so the new one dies young.
    endpoints: prev && sameEndpoints(prev, decision) ? prev.endpoints : decision.endpoints,
    personId,
    since,
    availabilitySince,
    binarySince,
    routingSince,
    version,
  };
  // Kept: those who do not see this change are still shown the floor.
  if (viewFloor !== undefined) fields.viewFloor = viewFloor;
  // Kept while it still orders this state above its version (a re-evaluation that changed nothing).
  if (orderFloor !== undefined && orderFloor > version) fields.orderFloor = orderFloor;
  const presence: Presence = explainLater(withDecided(fields, decision), signals, policy, now);
  return { next: { signals, presence }, result: { presence, before: prev, changed: isChange, applied, ignored }, emit: isChange, at: now };
}
