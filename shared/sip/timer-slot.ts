import type { Clock, TimerHandle } from '../clock/clock.js';

/**
 * At most one pending timer. Arming replaces the previous one. Safe when the clock calls back
 * synchronously for an instant already due (the system clock does).
 */
export class TimerSlot {
  private handle: TimerHandle | undefined;
  private generation = 0;
  private pending = false;
  private due = 0;

  constructor(private readonly clock: Clock) {}

  get armed(): boolean {
    return this.pending;
  }

  /** The instant the pending timer is due; undefined when none is. */
  get dueAt(): number | undefined {
    return this.pending ? this.due : undefined;
  }

  at(instant: number, fn: () => void): void {
    this.cancel();
    const generation = this.generation;
    this.pending = true;
    this.due = instant;
    const handle = this.clock.at(instant, () => {
      if (generation !== this.generation) return;
      this.pending = false;
      this.handle = undefined;
      fn();
    });
    if (generation === this.generation && this.pending) this.handle = handle;
  }

  cancel(): void {
    this.generation++;
    this.pending = false;
    this.handle?.cancel();
    this.handle = undefined;
  }
}
