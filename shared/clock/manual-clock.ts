import type { Clock, TimerHandle } from './clock.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told. `advance` fires due timers in instant order, each seeing `now()`
 * equal to its own due instant, so code under test observes exact transition times.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private pending: Pending[] = [];
  /** Waits in progress (`sleep`): work that can go on only once the test moves time. */
  sleepers = 0;

  constructor(start: number | string) {
    this.current = typeof start === 'string' ? Date.parse(start) : start;
    if (Number.isNaN(this.current)) throw new Error(`bad start instant ${String(start)}`);
  }

  now(): number {
    return this.current;
  }

  at(at: number, fn: () => void): TimerHandle {
    const p: Pending = { at, seq: this.seq++, fn, cancelled: false };
    this.pending.push(p);
    return {
      cancel: () => {
        p.cancelled = true;
      },
    };
  }

  after(ms: number, fn: () => void): TimerHandle {
    return this.at(this.current + ms, fn);
  }

  sleep(ms: number): Promise<void> {
    this.sleepers++;
    return new Promise((resolve) =>
      this.after(ms, () => {
        this.sleepers--;
        resolve();
      }),
    );
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.current + ms);
  }

  async advanceTo(target: number | string): Promise<void> {
    const end = typeof target === 'string' ? Date.parse(target) : target;
    for (;;) {
      this.pending = this.pending.filter((p) => !p.cancelled);
      this.pending.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.pending[0];
      if (!next || next.at > end) break;
      this.pending.shift();
      if (next.at > this.current) this.current = next.at;
      next.fn();
      // Let promise chains started by the timer settle before the next one fires.
      await flush();
    }
    if (end > this.current) this.current = end;
    await flush();
  }

  /** Moves time to `target` without firing timers: as on a busy event loop that has not reached them yet. */
  jumpTo(target: number | string): void {
    const end = typeof target === 'string' ? Date.parse(target) : target;
    if (end > this.current) this.current = end;
  }

  /** Number of timers still waiting. */
  get timers(): number {
    return this.pending.filter((p) => !p.cancelled).length;
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
