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
}

export const systemClock: Clock = {
  now: () => Date.now(),
  at(at, fn) {
    let timer: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = () => {
      if (cancelled) return;
      const delay = at - Date.now();
      if (delay <= 0) {
        fn();
        return;
      }
      timer = setTimeout(arm, Math.min(delay, MAX_TIMER_DELAY_MS));
      timer.unref?.();
    };
    arm();
    return {
      cancel() {
        cancelled = true;
        if (timer) clearTimeout(timer);
      },
    };
  },
  after(ms, fn) {
    return systemClock.at(Date.now() + ms, fn);
  },
};
