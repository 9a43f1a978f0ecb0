import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import { WATCHES_RESUMED_PER_SECOND, WatchPacer } from '../../services/publishers/sip/watch-pacer.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const GAP = 1000 / WATCHES_RESUMED_PER_SECOND;

/** The servers the pacer still keeps a queue for. */
const lanes = (pacer: WatchPacer) => (pacer as unknown as { lanes: Map<string, unknown> }).lanes.size;

describe('watch pacer', () => {
  it('keeps no queue for a server once its turns have gone and the pace no longer holds the next one back', async () => {
    const clock = new ManualClock(T0);
    const pacer = new WatchPacer(clock);
    const started: string[] = [];
    for (const server of ['udp:a:5060', 'udp:b:5060']) for (const n of [1, 2, 3]) pacer.schedule(server, () => started.push(`${server}#${n}`));
    await clock.advance(2 * GAP);
    expect(started).toHaveLength(6);
    await clock.advance(GAP);
    // A later resumption at one of them paces afresh.
    expect(lanes(pacer)).toBe(0);
    pacer.schedule('udp:a:5060', () => started.push('later#1'));
    pacer.schedule('udp:a:5060', () => started.push('later#2'));
    expect(started.slice(6)).toEqual(['later#1']);
    await clock.advance(GAP);
    expect(started.slice(6)).toEqual(['later#1', 'later#2']);
    await clock.advance(GAP);
    expect(lanes(pacer)).toBe(0);
  });

  it('a turn cancelled takes no slot, and one left alone after the last ran still waits the gap', async () => {
    const clock = new ManualClock(T0);
    const pacer = new WatchPacer(clock);
    const started: number[] = [];
    pacer.schedule('s', () => started.push(1));
    const cancelled = pacer.schedule('s', () => started.push(2));
    pacer.schedule('s', () => started.push(3));
    cancelled.cancel();
    await clock.advance(GAP);
    expect(started).toEqual([1, 3]);
    // Within the gap of the last one: held back to its slot.
    await clock.advance(GAP / 2);
    pacer.schedule('s', () => started.push(4));
    expect(started).toEqual([1, 3]);
    await clock.advance(GAP / 2);
    expect(started).toEqual([1, 3, 4]);
  });
});
