import type { Logger } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterRestart } from '../after-restart.js';
import type { RedisKeys } from '../keys.js';
import type { PersonState } from '../port.js';
import type { Connection } from './connection.js';
import type { RedisState } from './redis-state.js';
import { BOUND_APPLIED, REPLICA_BEAT } from './scripts.js';

/** People bounded at once (pipelined): a full outage with 20,000 people takes seconds, not minutes. */
const PEOPLE_AT_ONCE = 100;
/** A start waiting for a pending bound looks again this many times per `aliveMs` (0.5 s by default). */
const WAITS_PER_ALIVE = 30;
/**
 * And gives up after this many looks (about 30 s by default: a dead applier's lock lapses in 15 s), answering
 * anyway, so that a bound that cannot be applied (Redis refusing writes) never keeps every replica from
 * starting, nor from passing its start-up probe (k8s/deployment.yaml: 60 s).
 */
const WAITS = 2 * WAITS_PER_ALIVE;

/**
 * The embedded store's bound on kept registrations after a restart (`after-restart.ts`), on Redis. Redis
 * keeps every signal, so after a full outage (no replica running for `aliveMs`: a cluster restart, a
 * maintenance window) a registration a PBX sent without `expiresSec` stayed routable for ever, although
 * the PBX may have reported the phone gone while nobody listened. A replica that restarts while others
 * run (a rolling restart) missed nothing: the others heard the PBX.
 *
 * Every replica renews a short-lived `alive` key. One that starts and finds none sets the bound (its start
 * instant plus `PBX_REGISTRATION_AFTER_RESTART_MS`, as the embedded store counts it from its start) in one
 * script, so replicas starting together set it once. The replica holding the bound's lock (renewed with
 * its heartbeat) bounds every person's registrations kept without an expiry, then clears the bound; the
 * replicas starting with it wait for that before they answer (`start`). If it dies meanwhile, its lock
 * lapses and the next heartbeat of another replica takes the work over (one that already answers may then
 * bound a registration received since, which is then believed for the rest of the bound, as any
 * registration a restart finds). Each person's next transition is brought forward to the bound, so
 * whichever replica sweeps due transitions drops the registration then.
 *
 * A Redis that lost its data while replicas ran is not an outage: the replicas put back what they hold,
 * unbounded, and renew `alive` at once (`redis-store.ts`).
 */
export class OutageBound {
  private readonly beat;
  private readonly applied;
  private timer: NodeJS.Timeout | undefined;
  private applying: Promise<void> | undefined;

  constructor(
    private readonly conn: Connection,
    private readonly k: RedisKeys,
    private readonly state: RedisState,
    private readonly log: Logger,
    private readonly opts: { replica: string; aliveMs: number; registrationsUntil?: number | undefined },
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
    let waits = 0;
    for (let pending = await this.heartbeat(this.opts.registrationsUntil); pending; pending = await this.heartbeat()) {
      await this.applying;
      if (++waits > WAITS) {
        this.log.warn('kept registrations are still being bounded after a full outage; answering meanwhile');
        return;
      }
      await sleep(this.opts.aliveMs / WAITS_PER_ALIVE);
    }
  }

  /** Renews `alive`; applies a pending bound nobody else is applying. Answers whether one is pending. */
  async heartbeat(startingWith?: number): Promise<boolean> {
    const { replica, aliveMs } = this.opts;
    const bound = await this.beat([this.k.alive(), this.k.registrationBound(), this.k.registrationBoundLock()], [replica, aliveMs, startingWith ?? '']);
    if (bound === null) return false;
    if (bound !== '' && !this.applying) this.applying = this.apply(Number(bound)).finally(() => (this.applying = undefined));
    return true;
  }

  private async apply(until: number): Promise<void> {
    try {
      const people = await this.state.keys();
      for (let i = 0; i < people.length; i += PEOPLE_AT_ONCE) {
        await Promise.all(people.slice(i, i + PEOPLE_AT_ONCE).map(({ tenantId, personId }) => this.state.update(tenantId, personId, (s) => ({ next: bounded(s, until), result: undefined }))));
      }
      await this.applied([this.k.registrationBound(), this.k.registrationBoundLock()], [until, this.opts.replica]);
      this.log.info({ people: people.length, registrationsUntil: new Date(until).toISOString() }, 'no replica was running: registrations kept without an expiry are believed until the bound');
    } catch (err) {
      // Redis went away: the bound stays pending, and the next heartbeat goes on with it.
      this.log.warn({ err: (err as Error).message }, 'bounding kept registrations after a full outage failed; trying again');
    }
  }

  /** Stops the heartbeat and lets go of the bound's lock (`alive` lapses by itself). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.applying;
    await this.applied([this.k.registrationBound(), this.k.registrationBoundLock()], ['', this.opts.replica]).catch(() => undefined);
  }
}

/** `afterRestart`, and the person's next transition no later than the bound. */
function bounded(state: PersonState, until: number): PersonState {
  const signals = afterRestart(state.signals, until);
  const p = state.presence;
  if (signals.every((s, i) => s === state.signals[i])) return state;
  return p ? { signals, presence: { ...p, wakeAt: Math.min(p.wakeAt ?? until, until) } } : { signals };
}
