import type { Logger } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterRestart } from '../after-restart.js';
import type { RedisKeys } from '../keys.js';
import type { PersonState } from '../port.js';
import type { Connection, RunOptions } from './connection.js';
import { COPIES_ONLY } from './feed-entry.js';
import { orderOf, type RedisState } from './redis-state.js';
import { BOUND_APPLIED, REPLICA_BEAT } from './scripts.js';

/** People bounded at once (pipelined): a full outage with 20,000 people takes seconds, not minutes. */
const PEOPLE_AT_ONCE = 100;
/** A start waiting for a pending bound looks again this many times per `aliveMs` (every 0.5 s by default). */
const LOOKS_PER_ALIVE = 30;
/**
 * And gives up after this many `aliveMs` of waiting (30 s by default: a dead applier's lock lapses in 15 s),
 * counted in elapsed time, its own apply under way included, answering anyway: a bound that cannot be
 * applied (Redis refusing writes, or slow to) never keeps every replica from starting, nor from passing
 * its start-up probe (k8s/deployment.yaml: 60 s).
 */
const WAIT_ALIVES = 2;
/**
 * How long a replica that reached Redis all along takes to be back after Redis restarted: its reconnect
 * (retried every 2 s at most, `connection.ts`), then its check's first command renews `alive`.
 */
const RECONNECT_MS = 3000;
/**
 * How long a stopping replica waits for its apply of a bound under way (a third of `aliveMs`, 5 s by
 * default): k8s/deployment.yaml's 30 s grace holds the 5 s preStop pause, `SHUTDOWN_GRACE_MS` (10 s) and
 * this, so a Redis slow to take the bounding writes never gets the pod killed mid-stop.
 */
const STOP_WAIT_PER_ALIVE = 1 / 3;

/**
 * The embedded store's restart (`after-restart.ts`), on Redis. Redis keeps every signal, so after a full
 * outage (no replica renewing `alive` for `aliveMs`: a cluster restart, a maintenance window, a Redis
 * unreachable that long) a registration a PBX sent without `expiresSec` stayed routable for ever, and a
 * call whose hang-up nobody heard held its person busy for hours, although the PBX may have reported both
 * while no replica could take it (answering 503, or not at all). A replica that restarts while others run
 * (a rolling restart) missed nothing: the others heard the PBX.
 *
 * Every replica renews a short-lived `alive` key. One that finds none (starting, or back from losing Redis)
 * in a dataset where replicas renewed it before (`aliveEver`: not a new or emptied one, which tells nothing
 * of what ran before it) sets the bound (now and now plus `PBX_REGISTRATION_AFTER_RESTART_MS`, as the embedded store counts it
 * from its start) in one script, so replicas that find it together set it once. The replica holding the
 * bound's lock (renewed with its heartbeat) applies `afterRestart` to every person, then clears the bound;
 * the replicas starting with it, and those back from the outage (`lapsed`, `redis-store.ts`), wait for
 * that before they answer (`start`, `untilBounded`): a call a PBX reported to one meanwhile would be dropped. If it dies meanwhile, its
 * lock lapses and the next heartbeat of another replica takes the work over (one that already answers may
 * then bound a registration received since, which is then believed for the rest of the bound, as any
 * registration a restart finds). Each person's next transition is brought forward: to the bound for a
 * bounded registration, to the outage's end for a dropped call or wrap-up (whatever was due during the
 * outage: when the call ended is not known), so whichever replica sweeps due transitions merges the person
 * again then (a starting replica re-evaluates everyone at once anyway, as do replicas that put back what
 * they held).
 *
 * Each bounding write raises the state's order (its order floor, `orderOf`, which no view shows) and goes
 * on the change feed as an entry only the replicas' copies follow (`COPIES_ONLY`: the state shown does not
 * change until the person is merged again): every copy taken before it orders below it, so no replica
 * keeps, nor puts back after Redis lost its data (`RedisState.restore` keeps the highest order), the state
 * from before; the person's next change has a version above it.
 *
 * A Redis that lost its data while replicas reached it (a FLUSHALL, a failover within `aliveMs`) is not an
 * outage: `alive` went with the data, and the replicas put back what they hold and renew `alive` before
 * they answer again (`redis-store.ts`). One that comes back without its data after none reached it for
 * `aliveMs` is: the replicas put back what they hold, and the first of them (`lapsed`) sets the bound,
 * which then applies to what was put back (and each lapsed replica's to what it put back itself,
 * `boundRestored`, as one may be back after the bound was applied).
 */
export class OutageBound {
  private readonly beat;
  private readonly applied;
  private timer: NodeJS.Timeout | undefined;
  private applying: Promise<void> | undefined;
  /** Stopping: no apply starts. */
  private stopping = false;
  /** Stopped before its apply ended: that apply writes no more (`stop`). */
  private abandoned = false;
  /**
   * Whether this replica reached Redis all along since before the dataset it renews `alive` in was named
   * (`lostData`): only then do its renewals tell a lapsed replica that no full outage preceded the new
   * dataset (`fullOutage`). A replica that started in it, or came back to it from lapsing, cannot tell.
   */
  private vouches = false;
  /** When this replica last renewed `alive` (monotonic real time, as the key's expiry is). */
  private renewedAt: number | undefined;

  constructor(
    private readonly conn: Connection,
    private readonly k: RedisKeys,
    private readonly state: RedisState,
    private readonly log: Logger,
    private readonly opts: {
      replica: string;
      aliveMs: number;
      /** The dataset's name as this replica knows it. */
      epoch: () => string | null;
      /** Now, and until when registrations kept without an expiry are believed after a full outage found now; without it, no bound. */
      bound?: (() => { at: number; registrationsUntil: number }) | undefined;
    },
  ) {
    this.beat = conn.script(REPLICA_BEAT);
    this.applied = conn.script(BOUND_APPLIED);
  }

  /**
   * The first heartbeat, and the bound if this start found no replica running; then, while a bound is
   * pending (this replica's, or that of one starting with it), no answer: what a PBX reported to this
   * replica meanwhile would be bounded too, and a phone registered since dropped at the bound.
   */
  async start(): Promise<void> {
    // Real time, not the service's clock: liveness is judged by Redis's key expiry.
    this.timer = setInterval(() => void this.heartbeat().catch(() => undefined), this.opts.aliveMs / 3);
    this.timer.unref();
    await this.untilBounded(await this.heartbeat());
  }

  /**
   * While a bound is `pending` (as a heartbeat answered), waits for it to be applied, by whichever replica;
   * `evenPaused`: by a replica back from a full outage, which answers only once it is (`redis-store.ts`).
   */
  async untilBounded(pending: boolean, { evenPaused = false } = {}): Promise<void> {
    // Real time, as `alive`'s expiry and `lapsed` count it.
    const deadline = performance.now() + WAIT_ALIVES * this.opts.aliveMs;
    for (; pending; pending = await this.heartbeat({ evenPaused })) {
      const left = deadline - performance.now();
      if (this.applying && left > 0) await Promise.race([this.applying, sleep(left, undefined, { ref: false })]);
      if (performance.now() >= deadline) {
        this.log.warn('kept registrations are still being bounded after a full outage; answering meanwhile');
        return;
      }
      await sleep(this.opts.aliveMs / LOOKS_PER_ALIVE);
    }
  }

  /**
   * Renews `alive` (setting the bound if it had lapsed in a dataset a replica renewed it in before, or in
   * any when this replica `found` a full outage itself, `fullOutage`; never when `renewOnly`); applies a
   * pending bound nobody else is applying. Answers whether one is pending (no once stopping).
   */
  async heartbeat({ renewOnly = false, found = false, evenPaused = false } = {}): Promise<boolean> {
    // A stopping replica (still waiting for a bound, say) takes no lock it would not apply.
    if (this.stopping) return false;
    const { replica, aliveMs } = this.opts;
    const b = renewOnly ? undefined : this.opts.bound?.();
    const keys = [this.k.alive(), this.k.registrationBound(), this.k.registrationBoundLock(), this.k.epoch(), this.k.lastBound(), this.k.aliveEver()];
    const args = [replica, aliveMs, b ? `${b.at}:${b.registrationsUntil}` : '', this.opts.epoch() ?? '', this.vouches ? '1' : '', found ? '1' : ''];
    const bound = await this.beat(keys, args, { evenPaused });
    this.renewedAt = performance.now();
    if (bound === null) return false;
    if (bound !== '' && !this.applying && !this.stopping) this.applying = this.apply(String(bound), { evenPaused }).finally(() => (this.applying = undefined));
    return true;
  }

  /** This replica found the dataset lost (or gone back), `lapsed` or not: whether its renewals vouch in the next one. */
  lostData({ lapsed }: { lapsed: boolean }): void {
    this.vouches = !lapsed;
  }

  /**
   * Whether this replica's own `alive` has surely lapsed (it renewed none for `aliveMs`: cut off from
   * Redis, or Redis away, that long). If no other replica renewed one meanwhile, that was a full outage.
   */
  lapsed(): boolean {
    return this.renewedAt !== undefined && performance.now() - this.renewedAt >= this.opts.aliveMs;
  }

  /**
   * Asked by a replica that had lapsed and found Redis without its data: whether that was a full outage.
   * `alive` went with the data, so its absence tells nothing, and a replica cut off alone (the others
   * reaching Redis all along) back just after a `FLUSHALL` would drop every call. Yes if the first replica
   * back set a bound in this dataset under its present name (it found a full outage; not one an earlier
   * name's copy kept, failed over to); no if a replica that reached Redis all along renews `alive` first
   * (one that vouches, `lostData`, or continued the renewals of one that did: a replica that started in
   * the new dataset knows nothing of the gap before it, and its renewals are marked `?`, `REPLICA_BEAT`):
   * such a replica does within a heartbeat (a third of `aliveMs`; half of it is waited),
   * or, after Redis itself restarted since this replica last reached it, as soon as it has reconnected
   * (`RECONNECT_MS`); yes if none does. One that had lapsed renews none meanwhile (it is paused,
   * `redis-store.ts`).
   */
  async fullOutage(opts: RunOptions = {}): Promise<boolean> {
    const away = this.renewedAt === undefined ? Infinity : performance.now() - this.renewedAt;
    const uptime = await this.conn
      .run((r) => r.info('server'), opts)
      // Whole seconds, rounded down: a restart is taken as since this replica left only with a second to spare.
      .then((info) => 1000 * Number(/uptime_in_seconds:(\d+)/.exec(info)?.[1] ?? Infinity))
      .catch(() => Infinity);
    const until = performance.now() + Math.min(this.opts.aliveMs / 2, uptime + 1000 < away ? RECONNECT_MS : Infinity);
    for (;;) {
      const [bound, alive] = await this.conn.run((r) => Promise.all([r.get(this.k.lastBound()), r.get(this.k.alive())]), opts);
      if (bound !== null && bound === this.opts.epoch()) return true;
      if (alive !== null && !alive.startsWith('?')) return false;
      if (performance.now() >= until) return true;
      await sleep(this.opts.aliveMs / LOOKS_PER_ALIVE);
    }
  }

  /**
   * After a full outage whose data went with Redis, what this replica `put` back (`RedisState.restore`),
   * bounded as by the bound it would set now: one back after the replica that set the bound listed
   * everyone would leave calls it alone held unbounded otherwise. Only a state still at the order put back
   * (not one another replica wrote since, nor one bounded already). None without a bound.
   */
  async boundRestored(put: ReadonlyArray<{ tenantId: string; personId: string; order: number }>, opts: RunOptions = {}): Promise<void> {
    const b = this.opts.bound?.();
    if (b) await this.boundEach(put, (s, { order }) => (orderOf(s.presence) === order ? bounded(s, b.at, b.registrationsUntil) : s), opts);
  }

  private async apply(bound: string, opts: RunOptions): Promise<void> {
    // `<outage end>:<registrations until>` (a bare instant, from replicas of earlier versions: both).
    const [at, until = at] = bound.split(':').map(Number) as [number, number?];
    try {
      const people = await this.state.keys(opts);
      await this.boundEach(people, (s) => bounded(s, at, until), opts);
      await this.applied([this.k.registrationBound(), this.k.registrationBoundLock()], [bound, this.opts.replica], opts);
      this.log.info({ people: people.length, registrationsUntil: new Date(until).toISOString() }, 'no replica was running: calls dropped, registrations kept without an expiry believed until the bound');
    } catch (err) {
      // Redis went away: the bound stays pending, and the next heartbeat goes on with it.
      this.log.warn({ err: (err as Error).message }, 'bounding kept registrations after a full outage failed; trying again');
    }
  }

  /** Each person's state as `bound` makes it, written for the replicas' copies only. */
  private async boundEach<P extends { tenantId: string; personId: string }>(people: readonly P[], bound: (s: PersonState, person: P) => PersonState, opts: RunOptions): Promise<void> {
    for (let i = 0; i < people.length; i += PEOPLE_AT_ONCE) {
      if (this.abandoned) throw new Error('the replica stopped');
      await Promise.all(
        people.slice(i, i + PEOPLE_AT_ONCE).map((person) =>
          this.state.update(
            person.tenantId,
            person.personId,
            (s) => {
              const next = bound(s, person);
              // A state without presence (never merged) has no order to raise, nor anyone who shows it.
              return next === s || !next.presence ? { next, result: undefined } : { next, result: undefined, emit: true, cause: COPIES_ONLY };
            },
            opts,
          ),
        ),
      );
    }
  }

  /**
   * Stops the heartbeat and lets go of the bound's lock (`alive` lapses by itself), once its apply under
   * way ended, which it waits for a heartbeat at most. Past that, the apply writes no more, and the bound
   * stays pending with the lock held until it lapses (`aliveMs` from its last renewal): a write of it still
   * on its way to Redis could otherwise land after another replica took the work over and cleared the
   * bound, dropping a call taken since; the replicas waiting for the bound wait on, and whichever beats
   * first once the lock lapsed applies it from the start.
   */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.stopping = true;
    const applying = this.applying;
    const ended = !applying || (await Promise.race([applying.then(() => true), sleep(STOP_WAIT_PER_ALIVE * this.opts.aliveMs, false, { ref: false })]));
    if (!ended) {
      this.abandoned = true;
      this.log.warn('stopping while bounding kept registrations after a full outage: another replica takes it over once the lock lapses');
      return;
    }
    await this.applied([this.k.registrationBound(), this.k.registrationBoundLock()], ['', this.opts.replica]).catch(() => undefined);
  }
}

/**
 * `afterRestart`, the person's next transition brought forward (to `at` when a signal was dropped, else to
 * the bound if earlier), and the state's order raised above every copy of it from before: through its
 * order floor, which no view shows (the presence is unchanged until the person is merged again, and a
 * version moved without an event would leave a webhook receiver or a stream below what a snapshot shows).
 * The same state when nothing changes.
 */
function bounded(state: PersonState, at: number, until: number): PersonState {
  const signals = afterRestart(state.signals, until);
  const p = state.presence;
  if (signals.length === state.signals.length && signals.every((s, i) => s === state.signals[i])) return state;
  if (!p) return { signals };
  // A dropped call ends at the outage's end, not at a transition due during it (`beganAt` walks from here).
  const wakeAt = signals.length < state.signals.length ? at : Math.min(p.wakeAt ?? until, until);
  return { signals, presence: { ...p, wakeAt, orderFloor: orderOf(p) + 1 } };
}
