/**
 * At most `max` concurrent operations per key. Outlook allows 4 concurrent requests per app and mailbox
 * (protocols §1.6); a fifth would be throttled, so it waits here instead.
 */
export class KeyedLimiter {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(private readonly max: number) {}

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const n = this.active.get(key) ?? 0;
    if (n < this.max) {
      // A free slot starts `fn` at once: the SIP sink passes every PUBLISH through here.
      this.active.set(key, n + 1);
      return this.holding(key, fn);
    }
    return new Promise<void>((resolve) => {
      const q = this.waiting.get(key) ?? [];
      q.push(resolve);
      this.waiting.set(key, q);
    }).then(() => this.holding(key, fn));
  }

  /** `fn`'s own promise, the slot released before anyone awaiting it resumes (no async wrapper: one promise fewer per run). */
  private holding<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let result: Promise<T>;
    try {
      result = fn();
    } catch (error) {
      this.leave(key);
      return Promise.reject(error as Error);
    }
    result.then(
      () => this.leave(key),
      () => this.leave(key),
    );
    return result;
  }

  inFlight(key: string): number {
    return this.active.get(key) ?? 0;
  }

  private leave(key: string): void {
    const q = this.waiting.get(key);
    const next = q?.shift();
    if (q && q.length === 0) this.waiting.delete(key);
    // Hand the slot straight to the next waiter: the count stays the same.
    if (next) next();
    else {
      const n = (this.active.get(key) ?? 1) - 1;
      if (n <= 0) this.active.delete(key);
      else this.active.set(key, n);
    }
  }
}
