import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../shared/clock/clock.js';
import type { Target } from '../../shared/domain/target.js';
import type { ChangeFeed, FeedEvent } from '../../shared/store/feed.js';
import type { LeaseStore } from '../../shared/store/leases.js';
import type { Store } from '../../shared/store/port.js';
import type { DeliveryLedger, DeliveryRecord } from '../../shared/store/shared-work.js';
import type { Metrics } from '../observability/metrics.js';
import { KeyLock } from '../../shared/store/key-lock.js';
import { jitteredBackoffMs } from './backoff.js';
import { redactUrls } from './redact-url.js';
import { renderingOf } from './rendering.js';
import { inScope } from './scope.js';
import { StatusReporter, type OwnedStatus } from './status-reporter.js';
import type { Delivery, Sink, SinkHooks, WatchHealth } from './sink.js';
import { TargetRunner, type RunnerOptions, type TargetStatus } from './target-runner.js';

/** A target whose publisher could not start: why, since when, how often, and when it is tried again. */
interface Unstarted {
  kind: Target['kind'];
  /** The target as it was tried (`JSON.stringify`): an edit is tried at once. */
  target: string;
  at: number;
  error: string;
  attempts: number;
  nextAt: number;
  timer?: TimerHandle;
}

/** `hooks`: given with a ledger to keep. */
export type SinkFactory = (target: Target, hooks?: SinkHooks) => Promise<Sink>;

/** Several replicas: each target is published by the replica holding its lease. */
export interface Ownership {
  leases: LeaseStore;
  /** This replica's name in the leases. */
  replica: string;
  /** A dead owner's targets are taken over this long after its last renewal. */
  leaseMs: number;
}

interface PipelineBase {
  store: Store;
  feed: ChangeFeed;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  makeSink: SinkFactory;
  runner: Omit<RunnerOptions, 'coalesceMs'> & { defaultCoalesceMs: number };
}

/**
 * `ledger`: what each target acknowledged, kept beyond a runner and this process, so whoever publishes
 * the target next continues it; without one, what a runner published is withdrawn when it closes.
 * `ownership` absent: this process publishes every target.
 */
export type PipelineDeps = PipelineBase & ({ ledger?: DeliveryLedger; ownership?: undefined } | { ledger: DeliveryLedger; ownership: Ownership });

/** How long a target's runner handed over without leases (an edit, a stop) waits for what is under way. */
const HANDOVER_MS = 2000;

/** About ten minutes of retries (1 s doubling to 30 s) for a change whose person cannot be looked up. */
const DISPATCH_ATTEMPTS = 25;

export const leaseKey = (t: Pick<Target, 'tenantId' | 'id'>) => `publish:${t.tenantId}:${t.id}`;

/**
 * A removed person is no longer in the directory, so scopes cannot be matched: a target is told if it has, or
 * is about to get, a state of theirs (one limited to some people or teams learns nothing of anyone else, not
 * even an id), or if it may watch their line: a SIP target's dialog watches follow the lines of those it covers,
 * with or without a state, and a removal is what ends a deleted person's watch.
 */
function toldOfRemoval(r: TargetRunner, personId: string): boolean {
  return r.holds(personId) || (r.target.kind === 'sip' && r.target.subscribeDialog === true);
}

/**
 * Fans every state change out to each enabled target of its tenant through one `TargetRunner` per
 * target, and re-sends everyone's current state when the pipeline starts or a target is (re)configured.
 * With several replicas, a target's runner lives on the replica that holds the target's lease; it
 * renews the lease. A runner that takes a target over (its owner died, Redis lost its data, this process
 * restarted after a crash, or the target was edited) sends what the ledger says the target does not
 * have yet: newer states, states rendered from an older directory record, withdrawals and removals.
 */
export class PublishPipeline {
  private readonly runners = new Map<string, TargetRunner>();
  private unsubscribe: (() => void) | undefined;
  private renewTimer: TimerHandle | undefined;
  /**
   * With several replicas: until when this replica holds the lease of each target it publishes, as last
   * renewed. Past it another replica may own the target: its runner stops then, whatever a renewal in flight does.
   */
  private readonly ownedUntil = new Map<string, number>();
  /** The earliest of `ownedUntil`, and its timer. */
  private expiryAt = Infinity;
  private expiryTimer: TimerHandle | undefined;
  /** The targets are listed for claims one at a time (the renewal tick, reloads, recovery). */
  private claiming: Promise<void> = Promise.resolve();
  /** Each target's claim under way (`claimTarget`), and the one to make after it. */
  private readonly targetClaims = new Map<string, Promise<void>>();
  private readonly claimsAfter = new Map<string, { target: Target; done: Promise<void> }>();
  private closed = false;
  /** The last re-rendering's mark (`nextMark`). */
  private lastRerender = 0;
  /** Why a target's publisher could not start (a SIP server the SSRF rules now refuse), and when it is tried again: its status says so. */
  private readonly unstarted = new Map<string, Unstarted>();
  /**
   * The (re)opening or closing under way of each target, one turn at a time: a start tried again on its backoff
   * and an edit, or two edits, would otherwise each open a publisher for it, one of them never closed; with
   * several replicas, a lease running out would close a runner a claim is opening (then left open, past any
   * expiry), or one the claim just renewed.
   */
  private readonly turns = new KeyLock();

  /** With several replicas: what this one publishes, told to the others. */
  private readonly reporter: StatusReporter | undefined;

  constructor(private readonly deps: PipelineDeps) {
    const own = deps.ownership;
    this.reporter = own && new StatusReporter({ store: deps.store.targetStatus, clock: deps.clock, log: deps.log, replica: own.replica, leaseMs: own.leaseMs, owned: () => this.ownedStatuses() });
  }

  private key(tenantId: string, targetId: string): string {
    return `${tenantId}\u0000${targetId}`;
  }

  async start(): Promise<void> {
    this.unsubscribe = this.deps.feed.subscribeAll((e) => this.dispatchRetrying(e, 0));
    if (this.deps.ownership) {
      await this.claim();
      this.reporter!.start();
      return;
    }
    for (const tenant of await this.deps.store.directory.list('tenants', '*')) {
      for (const target of await this.deps.store.directory.list('targets', tenant.id)) await this.reload(tenant.id, target.id);
    }
  }

  /** (Re)creates the runner of one target from what is stored and re-sends the current states. */
  reload(tenantId: string, targetId: string): Promise<void> {
    // With several replicas, ownership changes one claim at a time.
    if (this.deps.ownership) return this.claim();
    const k = this.key(tenantId, targetId);
    // Each turn reads the target as stored when it begins, so the latest edit is what stays open.
    return this.turns.run(k, () => this.reloadNow(k, tenantId, targetId));
  }

  private async reloadNow(k: string, tenantId: string, targetId: string): Promise<void> {
    // Closing: what it has open is closed with the rest.
    if (this.closed) return;
    const target = await this.deps.store.directory.get('targets', tenantId, targetId);
    const runner = this.runners.get(k);
    this.runners.delete(k);
    // Edited: the next runner continues from the ledger what this one published. Nobody will continue
    // the publications of a target disabled or deleted, nor, without a ledger, of any: they are withdrawn.
    const handover = this.deps.ledger !== undefined && target?.enabled === true;
    if (handover) await runner?.drain(HANDOVER_MS);
    await runner?.close(target, !handover);
    // Edited (the edit may be the fix), disabled or deleted: its start attempts begin anew, if at all.
    this.forgetUnstarted(k);
    if (target?.enabled) await this.open(target);
  }

  /** Everyone's current state again to every target this replica owns (after storage lost its data). */
  async resendAll(): Promise<void> {
    await this.closeRunners();
    await this.claim();
  }

  private async open(target: Target): Promise<void> {
    const ledger = this.deps.ledger;
    const hooks: SinkHooks | undefined = ledger && {
      readdressed: (personId, address) => void ledger.readdress(target.tenantId, target.id, personId, address).catch(() => undefined),
    };
    let sink: Sink;
    const k = this.key(target.tenantId, target.id);
    try {
      sink = await this.deps.makeSink(target, hooks);
      this.forgetUnstarted(k);
    } catch (err) {
      this.startFailed(k, target, redactUrls((err as Error).message));
      return;
    }
    const { defaultCoalesceMs, ...rest } = this.deps.runner;
    const onDelivered = ledger
      ? (d: Delivery) => {
          const address = sink.addressOf?.(d);
          // A removal still under way (a SIP publication's, its server the target moved away from) keeps the entry,
          // rendered from nobody, so whoever publishes the target next finishes it.
          const rendering = d.presence ? renderingOf(d.person, target) : address !== undefined ? renderingOf(undefined, target) : null;
          const r: DeliveryRecord = { version: d.version, mark: d.rerender ?? 0, rendering };
          if (address !== undefined) r.address = address;
          ledger.record(target.tenantId, target.id, d.personId, r).catch(() => undefined);
        }
      : undefined;
    const runner = new TargetRunner(
      target,
      sink,
      this.deps.clock,
      { ...rest, coalesceMs: target.coalesceMs ?? defaultCoalesceMs, ...(onDelivered ? { onDelivered } : {}) },
      this.deps.metrics,
      this.deps.log,
    );
    try {
      const recorded = ledger ? await ledger.delivered(target.tenantId, target.id) : undefined;
      // What can no longer be kept up on the target (a SIP publication nobody refreshed in time, or whose
      // SIP-ETag was not recorded) is held no more: it is sent afresh.
      const held = recorded && new Map([...recorded].map(([id, r]) => [id, r.rendering !== null && sink.lapsed?.(r.address) ? { ...r, rendering: null } : r]));
      for (const [personId, r] of held ?? []) if (r.rendering !== null) runner.seed(personId, r.version);
      this.runners.set(k, runner);
      await this.republish(target.tenantId, runner, held);
    } catch (err) {
      // A runner that did not get everyone's current state must not stay: the next claim or reload opens it again.
      if (this.runners.get(k) === runner) this.runners.delete(k);
      await runner.close(runner.target);
      throw err;
    }
  }

  /**
   * Tried again on the backoff of a failing target's probes (`nextProbeAt` in its status), for as long as the
   * cause lasts (a SIP server the SSRF rules refuse until its DNS or the rules change); said once per cause.
   */
  private startFailed(k: string, target: Target, error: string): void {
    const { clock, log, runner } = this.deps;
    const before = this.unstarted.get(k);
    before?.timer?.cancel();
    if (before?.error !== error) log.error({ err: error, target: target.id }, 'cannot start the publisher for this target');
    const now = clock.now();
    const tried = JSON.stringify(target);
    // An edit starts the attempts anew, as a reload does without several replicas.
    const attempts = (before?.target === tried ? before.attempts : 0) + 1;
    const nextAt = now + jitteredBackoffMs(runner.failingAfter + attempts - 1, runner.retryBaseMs, runner.retryCapMs, runner.random);
    const entry: Unstarted = { kind: target.kind, target: tried, at: now, error, attempts, nextAt };
    if (!this.closed) entry.timer = clock.at(nextAt, () => void this.startAgain(k, entry, target));
    this.unstarted.set(k, entry);
  }

  /** A target that could not start, when its next attempt is due: opened from what is stored now (its lease's owner decides with several replicas). */
  private async startAgain(k: string, entry: Unstarted, target: Target): Promise<void> {
    entry.timer = undefined;
    if (this.closed || this.unstarted.get(k) !== entry) return;
    try {
      if (this.deps.ownership) return await this.claim();
      await this.turns.run(k, async () => {
        // An edit, a deletion or another attempt came first.
        if (this.closed || this.unstarted.get(k) !== entry) return;
        const stored = await this.deps.store.directory.get('targets', target.tenantId, target.id);
        if (this.unstarted.get(k) !== entry || this.runners.has(k)) return;
        if (stored?.enabled) await this.open(stored);
        else this.forgetUnstarted(k);
      });
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, target: target.id }, 'cannot start the publisher for this target');
    }
  }

  private forgetUnstarted(k: string): void {
    this.unstarted.get(k)?.timer?.cancel();
    this.unstarted.delete(k);
  }

  /** Not yet due to be tried again: it could not start as it stands (an edit is tried at once). */
  private waitsToStart(k: string, target: Target, now: number): boolean {
    const entry = this.unstarted.get(k);
    return entry !== undefined && entry.target === JSON.stringify(target) && entry.nextAt > now;
  }

  /**
   * Takes or renews the lease of every target; opens runners for targets gained, closes those lost. Resolves once
   * each target's claim ended; the next renewal does not wait for them (`claimTarget`).
   */
  private claim(): Promise<void> {
    const listed = this.claiming.then(() => this.claimOnce());
    this.claiming = listed.then(
      () => undefined,
      () => undefined,
    );
    return listed.then((c) => c.done);
  }

  /** Lists the targets and starts each one's claim; `done` settles once they ended and what this replica publishes was told. */
  private async claimOnce(): Promise<{ done: Promise<void> }> {
    const own = this.deps.ownership!;
    if (this.closed) return { done: Promise.resolve() };
    this.renewTimer?.cancel();
    const claims: Array<Promise<void>> = [];
    /** Claims queued behind a target's claim still under way: the report does not wait for those. */
    const queued: Array<Promise<void>> = [];
    try {
      const seen = new Set<string>();
      for (const tenant of await this.deps.store.directory.list('tenants', '*')) {
        for (const target of await this.deps.store.directory.list('targets', tenant.id)) {
          const k = this.key(tenant.id, target.id);
          seen.add(k);
          (this.targetClaims.has(k) ? queued : claims).push(this.claimTarget(k, target));
        }
      }
      for (const k of this.unstarted.keys()) if (!seen.has(k)) this.forgetUnstarted(k);
      for (const k of new Set([...this.runners.keys(), ...this.ownedUntil.keys()])) {
        if (seen.has(k)) continue;
        claims.push(
          this.turns.run(k, async () => {
            this.owns(k, undefined);
            const runner = this.runners.get(k);
            this.runners.delete(k);
            await runner?.close(undefined);
          }),
        );
      }
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'cannot renew publish leases');
    } finally {
      if (!this.closed) this.renewTimer = this.deps.clock.after(own.leaseMs / 3, () => void this.claim());
    }
    const report = Promise.all(claims)
      .then(() => this.reporter!.renew())
      .catch((err: unknown) => this.deps.log.warn({ err: (err as Error).message }, 'cannot renew publish leases'));
    return { done: Promise.all([report, ...queued]).then(() => undefined) };
  }

  /**
   * One target's claim, independent of the others': a slow start (DNS, a server that does not answer, a slow
   * ledger) holds no other target's renewal. One at a time per target: one listed again while its claim is under
   * way is claimed once that ends, as it stands then.
   */
  private claimTarget(k: string, target: Target): Promise<void> {
    const under = this.targetClaims.get(k);
    if (!under) return this.startClaim(k, target);
    const waiting = this.claimsAfter.get(k);
    if (waiting) {
      waiting.target = target;
      return waiting.done;
    }
    const next: { target: Target; done: Promise<void> } = {
      target,
      done: under.then(() => {
        this.claimsAfter.delete(k);
        return this.closed ? undefined : this.startClaim(k, next.target);
      }),
    };
    this.claimsAfter.set(k, next);
    return next.done;
  }

  private startClaim(k: string, target: Target): Promise<void> {
    const claim = this.claimNow(k, target)
      .catch((err: unknown) => this.deps.log.warn({ err: (err as Error).message, target: target.id }, 'cannot renew publish leases'))
      .finally(() => this.targetClaims.delete(k));
    this.targetClaims.set(k, claim);
    return claim;
  }

  private async claimNow(k: string, target: Target): Promise<void> {
    const own = this.deps.ownership!;
    // Acquired at `now`, whenever Redis confirms it: a confirmation later than the lease itself is no lease.
    const now = this.deps.clock.now();
    const until = now + own.leaseMs;
    const owned = target.enabled && (await own.leases.acquire(leaseKey(target), own.replica, own.leaseMs, now)) && until > this.deps.clock.now();
    // Closed meanwhile: it publishes nothing, and hands the target over at once rather than when the lease runs out.
    const release = () => own.leases.release(leaseKey(target), own.replica).catch(() => false);
    if (this.closed) return void (owned && (await release()));
    // The renewal waits outside the target's turn, which a lease running out meanwhile takes (it may hang).
    await this.turns.run(k, async () => {
      // Closed while it waited for the turn: a lease gained with no publisher to hand over is released as above.
      if (this.closed) return void (owned && !this.runners.has(k) && (await release()));
      this.owns(k, owned ? until : undefined);
      if (!owned) this.forgetUnstarted(k);
      const runner = this.runners.get(k);
      if (runner && (!owned || JSON.stringify(runner.target) !== JSON.stringify(target))) {
        this.runners.delete(k);
        await runner.close(target);
      }
      if (owned && !this.runners.has(k) && !this.waitsToStart(k, target, now)) await this.open(target);
    });
  }

  /** With several replicas, whether this one's lease of the target ran out: its runner may publish no more. */
  private outlived(k: string): boolean {
    return this.deps.ownership !== undefined && !((this.ownedUntil.get(k) ?? -Infinity) > this.deps.clock.now());
  }

  /** Records until when this replica holds the target's lease (`undefined`: it does not), and when the first it holds runs out. */
  private owns(k: string, until: number | undefined): void {
    if (until === undefined) this.ownedUntil.delete(k);
    else this.ownedUntil.set(k, until);
    this.armExpiry();
  }

  private armExpiry(): void {
    const next = Math.min(...this.ownedUntil.values());
    if (next === this.expiryAt) return;
    this.expiryTimer?.cancel();
    this.expiryAt = next;
    this.expiryTimer = next === Infinity || this.closed ? undefined : this.deps.clock.at(next, () => void this.expire());
  }

  /**
   * Past its lease another replica may own a target: its runner stops rather than publish twice, in the target's
   * turn, so not in the middle of a claim opening it (left open after), nor when that claim renewed the lease.
   */
  private async expire(): Promise<void> {
    this.expiryAt = Infinity;
    this.expiryTimer = undefined;
    const now = this.deps.clock.now();
    const lapsed = [...this.ownedUntil].filter(([, until]) => until <= now).map(([k]) => k);
    for (const k of lapsed) this.ownedUntil.delete(k);
    this.armExpiry();
    await Promise.all(
      lapsed.map((k) =>
        this.turns.run(k, async () => {
          const runner = this.runners.get(k);
          if (this.ownedUntil.has(k) || !runner) return;
          this.runners.delete(k);
          await runner.close(runner.target);
        }),
      ),
    ).catch((err: unknown) => this.deps.log.warn({ err: (err as Error).message }, 'cannot stop publishers'));
  }

  private async closeRunners(): Promise<void> {
    const runners = [...this.runners.values()];
    this.runners.clear();
    // Handed over as they are: another replica (or this process, restarted) publishes them next, from the
    // ledger; without one, nobody could continue them, so they are withdrawn.
    const withdraw = this.deps.ledger === undefined;
    await Promise.all(runners.map((r) => r.close(r.target, withdraw)));
  }

  /**
   * Offers everyone's current state; the runner drops what the target already has. With the ledger of a
   * previous owner (`held`), it also re-renders states acknowledged with an older directory record, and
   * withdraws or removes whom the target still holds but no longer covers, or who were deleted; the sink
   * first learns where the target holds each of them, so it can undo that.
   */
  private async republish(tenantId: string, runner: TargetRunner, held?: Map<string, DeliveryRecord>): Promise<void> {
    const k = this.key(tenantId, runner.target.id);
    const people = await this.deps.store.directory.list('people', tenantId);
    for (const person of people) {
      // Its lease ran out while the ledger or the states were read (a slow Redis): another replica may publish the
      // target now; nothing more is offered (nor continued), and the lease's expiry closes the runner.
      if (this.outlived(k)) return;
      const had = held?.get(person.id);
      const holds = had !== undefined && had.rendering !== null;
      const rendered = holds && had.rendering !== undefined ? had.rendering === renderingOf(person, runner.target) : undefined;
      // Where the previous owner left them, even if edited since (the old device is reset), or what it left under
      // way there though what it kept up lapsed (a SIP removal); an entry without an address only tells where,
      // when it was rendered from the record as it stands.
      const address = had?.address;
      const adopts = address !== undefined || (holds && rendered === true);
      if (!inScope(runner.target, person, person.id)) {
        if (adopts) runner.adopt(person.id, person, address);
        if (holds) runner.offer({ tenantId, personId: person.id, version: had.version, rerender: this.nextMark(), outOfScope: true });
        continue;
      }
      const { presence } = await this.deps.store.state.read(tenantId, person.id);
      if (this.outlived(k)) return;
      // The current state, when it is exactly what the target holds: a publication kept up re-sends it (a SIP refresh).
      if (adopts) runner.adopt(person.id, person, address, rendered && presence?.version === had?.version ? presence : undefined);
      if (!presence) continue;
      const d: Delivery = { tenantId, personId: person.id, person, presence, version: presence.version };
      // Sent afresh over an entry of this same version (a lapsed publication, `open`): a mark of its own lets
      // its record (where the target holds it now) replace that entry.
      if (rendered === false || had?.rendering === null) d.rerender = this.nextMark();
      runner.offer(d);
    }
    if (!held || this.outlived(k)) return;
    const present = new Set(people.map((p) => p.id));
    for (const [personId, r] of held) {
      if (present.has(personId)) continue;
      // What lapsed leaves nothing to undo on the target but what was left under way, and its entry still goes with the removal.
      if (r.rendering !== null || r.address !== undefined) runner.adopt(personId, undefined, r.address);
      runner.offer({ tenantId, personId, version: this.deps.clock.now() });
    }
  }

  /** Each re-rendering gets its own mark, so a receiver deduplicating by message id never drops one. */
  private nextMark(): number {
    return (this.lastRerender = Math.max(this.deps.clock.now(), this.lastRerender + 1));
  }

  /**
   * A change whose person cannot be looked up (the store failed for a moment) is tried again, or the
   * targets would keep an older state until the person changes again; runners drop it if a newer one
   * got there first.
   */
  private dispatchRetrying(e: FeedEvent, attempt: number): void {
    // Every replica sees every change, and most publish to no target of its tenant: not even a promise then.
    if (!this.publishes(e.tenantId)) return;
    this.dispatch(e).catch((err: unknown) => {
      this.deps.log.warn({ err: (err as Error).message, person: e.personId, attempt }, 'cannot publish a change; trying again');
      if (!this.closed && attempt < DISPATCH_ATTEMPTS) this.deps.clock.after(Math.min(1000 * 2 ** attempt, 30_000), () => this.dispatchRetrying(e, attempt + 1));
    });
  }

  private publishes(tenantId: string): boolean {
    for (const r of this.runners.values()) if (r.target.tenantId === tenantId) return true;
    return false;
  }

  private async dispatch(e: FeedEvent): Promise<void> {
    const runners = [...this.runners.values()].filter((r) => r.target.tenantId === e.tenantId);
    if (runners.length === 0) return;
    const person = await this.deps.store.directory.get('people', e.tenantId, e.personId);
    const d: Delivery = e.presence
      ? { tenantId: e.tenantId, personId: e.personId, presence: e.presence, version: e.presence.version }
      : { tenantId: e.tenantId, personId: e.personId, version: this.deps.clock.now() };
    if (person && e.presence) d.person = person;
    // A directory change re-renders the current state for every target that covers the person (a newly
    // sensitive person shows less at once); a team's target the person just joined gets it for the first time.
    if (e.cause) d.rerender = this.nextMark();
    for (const r of runners) {
      if (e.presence ? inScope(r.target, person, e.personId) : toldOfRemoval(r, e.personId)) r.offer(d);
      // Someone who left a team's target's teams: what it published for them is withdrawn, not left to go stale.
      else if (e.cause && r.holds(e.personId)) r.offer({ tenantId: e.tenantId, personId: e.personId, version: d.version, rerender: d.rerender!, outOfScope: true });
    }
  }

  /** Read-back subscriptions of the targets this replica publishes, by health (for `presence_dialog_watches`). */
  *watchHealth(): Iterable<{ tenantId: string; targetId: string; health: WatchHealth; count: number }> {
    for (const r of this.runners.values()) {
      for (const [health, count] of Object.entries(r.watchHealth() ?? {})) yield { tenantId: r.target.tenantId, targetId: r.target.id, health: health as WatchHealth, count };
    }
  }

  status(tenantId: string, targetId: string): TargetStatus | undefined {
    const k = this.key(tenantId, targetId);
    const running = this.runners.get(k)?.status();
    const failed = this.unstarted.get(k);
    if (running || !failed) return running;
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      targetId,
      kind: failed.kind,
      state: 'failing',
      consecutiveFailures: failed.attempts,
      lastSuccessAt: null,
      lastFailureAt: iso(failed.at),
      lastError: failed.error,
      delivered: 0,
      failed: 0,
      superseded: 0,
      waiting: 0,
      nextProbeAt: failed.timer ? iso(failed.nextAt) : null,
    };
  }

  private *ownedStatuses(): Iterable<OwnedStatus> {
    for (const k of new Set([...this.runners.keys(), ...this.unstarted.keys()])) {
      const [tenantId, targetId] = k.split('\u0000') as [string, string];
      yield { tenantId, status: this.status(tenantId, targetId)! };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.renewTimer?.cancel();
    for (const k of [...this.unstarted.keys()]) this.forgetUnstarted(k);
    this.expiryTimer?.cancel();
    this.unsubscribe?.();
    // A claim whose lease Redis has yet to confirm is not waited for: it releases what it gets (`claimNow`).
    await this.claiming;
    await this.turns.idle();
    const owned = [...this.runners.values()].map((r) => r.target);
    // What is under way still lands in the ledger: within the lease (renewed at most a third of it ago),
    // or for a moment when this process is the next to publish.
    const own = this.deps.ownership;
    if (this.deps.ledger) await Promise.all([...this.runners.values()].map((r) => r.drain(own ? own.leaseMs / 3 : HANDOVER_MS)));
    await this.closeRunners();
    // A graceful stop hands its targets over at once instead of when their leases run out.
    if (own) await Promise.all(owned.map((t) => own.leases.release(leaseKey(t), own.replica).catch(() => false)));
    await this.reporter?.close();
  }
}
