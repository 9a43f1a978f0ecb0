/** At most `max` concurrent operations; more wait in arrival order. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly max: number,
    /** Called when the last operation ends and nobody waits (the keyed limiter forgets the key). */
    private readonly onIdle?: () => void,
  ) {}

  get inFlight(): number {
    return this.active;
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.max) {
      // A free slot starts `fn` at once: the SIP sink passes every PUBLISH through here.
      this.active++;
      return this.holding(fn);
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve)).then(() => this.holding(fn));
  }

  /** `fn`'s own promise, the slot released before anyone awaiting it resumes (no async wrapper: one promise fewer per run). */
  private holding<T>(fn: () => Promise<T>): Promise<T> {
    let result: Promise<T>;
    try {
      result = fn();
    } catch (error) {
      this.leave();
      return Promise.reject(error as Error);
    }
    result.then(
      () => this.leave(),
      () => this.leave(),
    );
    return result;
  }

  private leave(): void {
    const next = this.waiting.shift();
    // Hand the slot straight to the next waiter: the count stays the same.
    if (next) next();
    else if (--this.active === 0) this.onIdle?.();
  }
}

/**
 * At most `max` concurrent operations per key. Outlook allows 4 concurrent requests per app and mailbox
 * (protocols §1.6); a fifth would be throttled, so it waits here instead.
 */
export class KeyedLimiter {
  private readonly limiters = new Map<string, Limiter>();

  constructor(private readonly max: number) {}

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let limiter = this.limiters.get(key);
    if (!limiter) {
      limiter = new Limiter(this.max, () => this.limiters.delete(key));
      this.limiters.set(key, limiter);
    }
    return limiter.run(fn);
  }

  inFlight(key: string): number {
    return this.limiters.get(key)?.inFlight ?? 0;
  }
}
