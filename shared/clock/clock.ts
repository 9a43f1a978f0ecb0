/** Node clamps delays above 2^31-1 ms (about 24.8 days) to 1 ms; longer waits are re-armed in steps. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export interface TimerHandle {
  cancel(): void;
}

/** Time and timers, injected everywhere so tests can pin instants and drive timers by hand. */
export interface Clock {
  now(): number;
  /** Calls `fn` once at or after the instant `at` (epoch ms). Any distance in the future is allowed. */
  at(at: number, fn: () => void): TimerHandle;
  /** Calls `fn` once after `ms` milliseconds. */
  after(ms: number, fn: () => void): TimerHandle;
  /** Resolves after `ms` (`sleep.ts`); a clock may provide it to know who waits on it (ManualClock). */
  sleep?(ms: number): Promise<void>;
}

/**
 * One pending system timer. `setTimeout(fire, delay, this)` instead of a closure per timer: the SIP
 * stack arms a few per transaction, thousands a second.
 */
class SystemTimer implements TimerHandle {
  private timer: NodeJS.Timeout | undefined;
  private cancelled = false;

  constructor(
    private readonly instant: number,
    private readonly fn: () => void,
  ) {}

  arm(): void {
    if (this.cancelled) return;
    const delay = this.instant - Date.now();
    if (delay <= 0) {
      this.fn();
      return;
    }
    this.timer = setTimeout(fire, Math.min(delay, MAX_TIMER_DELAY_MS), this);
    this.timer.unref?.();
  }

  cancel(): void {
    this.cancelled = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

const fire = (timer: SystemTimer): void => timer.arm();

export const systemClock: Clock = {
  now: () => Date.now(),
  at(at, fn) {
    const timer = new SystemTimer(at, fn);
    timer.arm();
    return timer;
  },
  after(ms, fn) {
    return systemClock.at(Date.now() + ms, fn);
  },
};
