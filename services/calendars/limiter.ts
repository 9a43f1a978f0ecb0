/**
 * At most `max` concurrent operations per key. Outlook allows 4 concurrent requests per app and mailbox
 * (protocols §1.6); a fifth would be throttled, so it waits here instead.
 */
export class KeyedLimiter {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(private readonly max: number) {}

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    await this.enter(key);
    try {
      return await fn();
    } finally {
      this.leave(key);
    }
  }

  inFlight(key: string): number {
    return this.active.get(key) ?? 0;
  }

  private enter(key: string): Promise<void> {
    const n = this.active.get(key) ?? 0;
    if (n < this.max) {
      this.active.set(key, n + 1);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const q = this.waiting.get(key) ?? [];
      q.push(resolve);
      this.waiting.set(key, q);
    });
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
