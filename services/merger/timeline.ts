import type { Clock, TimerHandle } from '../../shared/clock/clock.js';
import { MinHeap } from './min-heap.js';

interface Entry {
  at: number;
  tenantId: string;
  personId: string;
  live: boolean;
}

export type DueHandler = (tenantId: string, personId: string, dueAt: number) => void;

/**
 * Wakes each person at their next transition. One pending instant per person, all in one heap, and one
 * clock timer for the earliest: no polling, and any distance ahead (the clock re-arms past 24.8 days).
 */
export class Timeline {
  private readonly heap = new MinHeap<Entry>((a, b) => a.at < b.at);
  private readonly byPerson = new Map<string, Entry>();
  private timer: TimerHandle | undefined;
  private armedAt: number | undefined;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: DueHandler,
  ) {}

  /** Replaces the person's pending wake-up; `undefined` cancels it. */
  schedule(tenantId: string, personId: string, at: number | undefined): void {
    const key = `${tenantId}\u0000${personId}`;
    const old = this.byPerson.get(key);
    if (old && old.at === at) return;
    if (old) old.live = false;
    if (at === undefined) {
      this.byPerson.delete(key);
      return;
    }
    const entry: Entry = { at, tenantId, personId, live: true };
    this.byPerson.set(key, entry);
    this.heap.push(entry);
    this.arm();
  }

  get pending(): number {
    return this.byPerson.size;
  }

  private arm(): void {
    if (this.stopped) return;
    let top = this.heap.peek();
    while (top && !top.live) {
      this.heap.pop();
      top = this.heap.peek();
    }
    if (!top) {
      this.timer?.cancel();
      this.timer = undefined;
      this.armedAt = undefined;
      return;
    }
    if (this.armedAt === top.at && this.timer) return;
    this.timer?.cancel();
    this.armedAt = top.at;
    this.timer = this.clock.at(top.at, () => this.fire());
  }

  private fire(): void {
    this.timer = undefined;
    this.armedAt = undefined;
    const now = this.clock.now();
    const due: Entry[] = [];
    for (let top = this.heap.peek(); top && top.at <= now; top = this.heap.peek()) {
      this.heap.pop();
      if (!top.live) continue;
      top.live = false;
      this.byPerson.delete(`${top.tenantId}\u0000${top.personId}`);
      due.push(top);
    }
    this.arm();
    for (const e of due) this.onDue(e.tenantId, e.personId, e.at);
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }
}
