import type { Clock, TimerHandle } from '../clock/clock.js';

/**
 * Calls after one fixed delay, kept in arrival order under a single clock timer. Timer K holds every
 * completed UDP transaction for 5 s: at thousands of PUBLISHes a second, a timer object per transaction
 * was a visible share of the CPU and of the garbage collector's work.
 */
export class DelayQueue {
  private readonly due: Array<{ at: number; fn: () => void } | undefined> = [];
  private head = 0;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly delayMs: number,
  ) {}

  add(fn: () => void): void {
    this.due.push({ at: this.clock.now() + this.delayMs, fn });
    if (!this.timer) this.arm();
  }

  private arm(): void {
    const next = this.due[this.head];
    if (!next) return;
    let fired = false;
    // The system clock calls back at once for an instant already due; then `run` has re-armed.
    const handle = this.clock.at(next.at, () => {
      fired = true;
      this.run();
    });
    if (!fired) this.timer = handle;
  }

  private run(): void {
    this.timer = undefined;
    const now = this.clock.now();
    for (let next = this.due[this.head]; next && next.at <= now; next = this.due[this.head]) {
      this.due[this.head++] = undefined;
      next.fn();
    }
    if (this.head === this.due.length) {
      this.due.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.due.length) {
      this.due.splice(0, this.head);
      this.head = 0;
    }
    if (!this.timer) this.arm();
  }
}
