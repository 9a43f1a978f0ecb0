import { randomUUID } from 'node:crypto';
import type { Clock, TimerHandle } from '../../shared/clock/clock.js';
import { sleep } from '../../shared/clock/sleep.js';
import { unavailable, type AppError } from '../../shared/errors/errors.js';
import { KeyLock } from '../../shared/store/key-lock.js';
import type { LeaseStore } from '../../shared/store/leases.js';

/** How long a turn's leases last past their last renewal (a replica that dies holding them), and how long others wait for them. */
const LEASE_MS = 5_000;
/** Renewed every third of that, as the publish leases are: a renewal may fail or stall once before they are at risk. */
const RENEW_MS = LEASE_MS / 3;
const WAIT_STEP_MS = 25;
const WAIT_STEPS = 200;

/** What the work done in a turn sees of it. */
export interface Turn {
  /**
   * Throws `503 <busyCode>` once the turn's leases may be someone else's (a renewal was refused, or none
   * got through before they ran out). Called right before each write: a directory write checks only that
   * records exist, not that nobody changed them since they were read, so this is the last point at which a
   * turn that lost its leases can still write nothing.
   */
  hold(): void;
}

const noLeases: Turn = { hold: () => undefined };

/**
 * One read-modify-write of a record at a time, on every replica: in turn within this process, and
 * through a store lease across replicas (a directory write cannot be conditional on what was read). A turn that
 * cannot start within the wait answers `503 <busyCode>`; so does one that lost its leases while it ran
 * (whatever it wrote by then stands).
 */
export class Turns {
  private readonly local = new KeyLock();

  constructor(
    private readonly leases: LeaseStore,
    private readonly clock: Clock,
    private readonly busyCode: string,
  ) {}

  run<T>(key: string, fn: (turn: Turn) => Promise<T>): Promise<T> {
    return this.runAll([key], fn);
  }

  /**
   * One turn on several records. Their leases are taken all at once or not at all (`acquireAll`): a turn
   * waiting for some holds none, so two such turns never each hold one the other waits for, and a turn
   * on thousands of records costs one store call per attempt, not one each.
   */
  runAll<T>(keys: readonly string[], fn: (turn: Turn) => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return fn(noLeases);
    return this.local.runAll(unique, async () => {
      const owner = randomUUID();
      let at = this.clock.now();
      for (let step = 0; !(await this.leases.acquireAll(unique, owner, LEASE_MS, at)); step++) {
        if (step >= WAIT_STEPS) throw this.busy('another change of this record is under way; try again');
        await sleep(this.clock, WAIT_STEP_MS);
        at = this.clock.now();
      }
      const held = new HeldLeases(this.leases, this.clock, unique, owner, at, () => this.busy('this change lost its turn to another; try again'));
      try {
        const result = await fn(held);
        held.hold();
        return result;
      } finally {
        await held.end();
      }
    });
  }

  private busy(message: string): AppError {
    return unavailable(this.busyCode, message);
  }
}

/** A turn's leases while it lasts: renewed every `RENEW_MS` until it ends, lost for good once a renewal fails to keep them. */
class HeldLeases implements Turn {
  private until: number;
  private lost = false;
  private ended = false;
  private timer: TimerHandle;
  private renewal: Promise<void> = Promise.resolve();

  constructor(
    private readonly leases: LeaseStore,
    private readonly clock: Clock,
    private readonly keys: readonly string[],
    private readonly owner: string,
    takenAt: number,
    private readonly busy: () => AppError,
  ) {
    this.until = takenAt + LEASE_MS;
    this.timer = clock.after(RENEW_MS, () => this.renew());
  }

  hold(): void {
    if (this.lost || this.clock.now() >= this.until) throw this.busy();
  }

  private renew(): void {
    const at = this.clock.now();
    this.renewal = this.leases
      .acquireAll(this.keys, this.owner, LEASE_MS, at)
      .then(
        // Taken again only after they ran out, they may have been someone else's in between.
        (kept) => (kept && this.clock.now() < this.until ? void (this.until = at + LEASE_MS) : void (this.lost = true)),
        // The store failing: they hold until `until`, and the next renewal tries again.
        () => undefined,
      )
      .then(() => {
        if (!this.ended && !this.lost) this.timer = this.clock.after(RENEW_MS, () => this.renew());
      });
  }

  async end(): Promise<void> {
    this.ended = true;
    this.timer.cancel();
    // A renewal still in flight would take the leases again after they are freed.
    await this.renewal;
    await this.leases.releaseAll(this.keys, this.owner).catch(() => 0);
  }
}
