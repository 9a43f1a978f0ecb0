import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import { DelayQueue } from '../../shared/sip/delay-queue.js';

describe('DelayQueue (Timer K for many transactions)', () => {
  it('calls each entry its delay after it was added, in order, with one clock timer at a time', async () => {
    const clock = new ManualClock('2026-03-02T09:00:00Z');
    const queue = new DelayQueue(clock, 5_000);
    const fired: string[] = [];
    queue.add(() => fired.push('a'));
    await clock.advance(1_000);
    queue.add(() => fired.push('b'));
    queue.add(() => fired.push('c'));
    expect(clock.timers).toBe(1);
    await clock.advance(3_999);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired).toEqual(['a']);
    expect(clock.timers).toBe(1);
    await clock.advance(999);
    expect(fired).toEqual(['a']);
    await clock.advance(1);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(clock.timers).toBe(0);
    queue.add(() => fired.push('d'));
    await clock.advance(5_000);
    expect(fired).toEqual(['a', 'b', 'c', 'd']);
  });

  it('keeps order across thousands of entries', async () => {
    const clock = new ManualClock('2026-03-02T09:00:00Z');
    const queue = new DelayQueue(clock, 5_000);
    const fired: number[] = [];
    for (let i = 0; i < 5_000; i++) {
      queue.add(() => fired.push(i));
      if (i % 100 === 99) await clock.advance(10);
    }
    await clock.advance(5_000);
    expect(fired).toEqual(Array.from({ length: 5_000 }, (_, i) => i));
    expect(clock.timers).toBe(0);
  });

  it('hands items to its own expire function, in order', async () => {
    const clock = new ManualClock('2026-03-02T09:00:00Z');
    const expired: string[] = [];
    const queue = new DelayQueue<string>(clock, 5_000, (item) => expired.push(item));
    queue.add('a');
    await clock.advance(2_000);
    queue.add('b');
    await clock.advance(3_000);
    expect(expired).toEqual(['a']);
    await clock.advance(2_000);
    expect(expired).toEqual(['a', 'b']);
    expect(clock.timers).toBe(0);
  });
});
