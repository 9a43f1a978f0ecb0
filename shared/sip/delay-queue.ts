import type { Clock, TimerHandle } from '../clock/clock.js';

const call = (fn: () => void): void => fn();

/**
 * Items that expire after one fixed delay, kept in arrival order under a single clock timer. Timer K
 * holds every completed UDP transaction for 5 s: at thousands of PUBLISHes a second, a timer object per
 * transaction was a visible share of the CPU and of the garbage collector's work, so entries are two
 * array slots, not objects. Items are callbacks unless the queue is given its own `expire`.
 */
export class DelayQueue<T = () => void> {
  private readonly due: number[] = [];
  private readonly items: Array<T | undefined> = [];
  private head = 0;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly delayMs: number,
    private readonly expire: (item: T) => void = call as (item: T) => void,
  ) {}

  add(item: T): void {
    this.due.push(this.clock.now() + this.delayMs);
    this.items.push(item);
    if (!this.timer) this.arm();
  }

  private arm(): void {
    if (this.head >= this.due.length) return;
    let fired = false;
    // The system clock calls back at once for an instant already due; then `run` has re-armed.
    const handle = this.clock.at(this.due[this.head]!, () => {
      fired = true;
      this.run();
    });
    if (!fired) this.timer = handle;
  }

  private run(): void {
    this.timer = undefined;
    const now = this.clock.now();
    while (this.head < this.due.length && this.due[this.head]! <= now) {
      const item = this.items[this.head] as T;
      this.items[this.head++] = undefined;
      this.expire(item);
    }
    if (this.head === this.due.length) {
      this.due.length = 0;
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.due.length) {
      this.due.splice(0, this.head);
      this.items.splice(0, this.head);
      this.head = 0;
    }
    if (!this.timer) this.arm();
  }
}
