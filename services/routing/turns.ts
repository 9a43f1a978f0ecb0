import { randomUUID } from 'node:crypto';
import type { Clock } from '../../shared/clock/clock.js';
import { sleep } from '../../shared/clock/sleep.js';
import { unavailable } from '../../shared/errors/errors.js';
import { KeyLock } from '../../shared/store/key-lock.js';
import type { LeaseStore } from '../../shared/store/leases.js';

/** How long one turn may last (a replica that dies holding it), and how long others wait for it. */
const LEASE_MS = 5_000;
const WAIT_STEP_MS = 25;
const WAIT_STEPS = 200;

/**
 * One read-modify-write of a record at a time, on every replica: in turn within this process, and
 * through a store lease across replicas (directory writes cannot be made conditional). A turn that
 * cannot start within the wait answers `503 <busyCode>`.
 */
export class Turns {
  private readonly local = new KeyLock();

  constructor(
    private readonly leases: LeaseStore,
    private readonly clock: Clock,
    private readonly busyCode: string,
  ) {}

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.local.run(key, async () => {
      const owner = randomUUID();
      for (let step = 0; !(await this.leases.acquire(key, owner, LEASE_MS, this.clock.now())); step++) {
        if (step >= WAIT_STEPS) throw unavailable(this.busyCode, 'another change of this record is under way; try again');
        await sleep(this.clock, WAIT_STEP_MS);
      }
      try {
        return await fn();
      } finally {
        await this.leases.release(key, owner).catch(() => false);
      }
    });
  }

  /** One turn on several records: taken in sorted order, so two such turns never each hold one the other waits for. */
  runAll<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const from = (i: number): Promise<T> => (i === sorted.length ? fn() : this.run(sorted[i]!, () => from(i + 1)));
    return from(0);
  }
}
