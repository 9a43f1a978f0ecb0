import type { Clock, TimerHandle } from '../../shared/clock/clock.js';
import { MinHeap, type HeapSlot } from './min-heap.js';

interface Entry extends HeapSlot {
  at: number;
  tenantId: string;
  personId: string;
}

export type DueHandler = (tenantId: string, personId: string, dueAt: number) => void;

/**
 * Wakes each person at their next transition. One pending instant per person, all in one heap, and one
 * clock timer for the earliest: no polling, and any distance ahead (the clock re-arms past 24.8 days).
 */
export class Timeline {
  private readonly heap = new MinHeap<Entry>((a, b) => a.at < b.at);
  /** tenant → person → pending entry; nested rather than one joined key, so no key string per person. */
  private readonly byPerson = new Map<string, Map<string, Entry>>();
  private timer: TimerHandle | undefined;
  private armedAt: number | undefined;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: DueHandler,
  ) {}

  /** Replaces the person's pending wake-up; `undefined` cancels it. */
  schedule(tenantId: string, personId: string, at: number | undefined): void {
    let people = this.byPerson.get(tenantId);
    const old = people?.get(personId);
    if (old && old.at === at) return;
    if (at === undefined) {
      if (!old) return;
      this.heap.remove(old);
      this.forget(old);
    } else if (old) {
      old.at = at;
      this.heap.update(old);
    } else {
      if (!people) this.byPerson.set(tenantId, (people = new Map()));
      const entry: Entry = { at, tenantId, personId, heapIndex: -1 };
      people.set(personId, entry);
      this.heap.push(entry);
    }
    this.arm();
  }

  get pending(): number {
    return this.heap.size;
  }

  private forget(e: Entry): void {
    const people = this.byPerson.get(e.tenantId)!;
    people.delete(e.personId);
    if (people.size === 0) this.byPerson.delete(e.tenantId);
  }

  private arm(): void {
    if (this.stopped) return;
    const top = this.heap.peek();
    if (!top) {
      this.timer?.cancel();
      this.timer = undefined;
      this.armedAt = undefined;
      return;
    }
    if (this.armedAt === top.at && this.timer) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.armedAt = top.at;
    const timer = this.clock.at(top.at, () => this.fire());
    // The system clock runs an instant already past inside `at` (an overdue top under load): `fire` has
    // then armed the next one, which this spent handle must not replace (it could not be cancelled).
    if (!this.timer && this.armedAt === top.at) this.timer = timer;
  }

  /**
   * Runs what is already due, without waiting for the timer. Called at safe points of long work (between
   * a PBX batch's chunks, as a request starts): a busy event loop reaches its timers only after all the
   * I/O and immediates queued in one turn, which under load held due transitions for tens of ms.
   */
  runDue(): void {
    const top = this.heap.peek();
    if (top && !this.stopped && top.at <= this.clock.now()) this.fire();
  }

  private fire(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.armedAt = undefined;
    const now = this.clock.now();
    const due: Entry[] = [];
    for (let top = this.heap.peek(); top && top.at <= now; top = this.heap.peek()) {
      this.heap.pop();
      this.forget(top);
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
