import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../shared/clock/clock.js';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import { Timeline } from '../../services/merger/timeline.js';
import { seedAlice, startTestHub } from '../support/hub.js';

const DAY = 24 * 3600_000;

describe('timeline scheduler', () => {
  afterEach(() => vi.useRealTimers());

  it('wakes each person at their instant, in order, with one pending instant per person', async () => {
    const clock = new ManualClock('2026-01-01T00:00:00Z');
    const fired: Array<[string, number]> = [];
    const t = new Timeline(clock, (_tenant, person) => fired.push([person, clock.now()]));
    const t0 = clock.now();
    t.schedule('a', 'p1', t0 + 3000);
    t.schedule('a', 'p2', t0 + 1000);
    t.schedule('a', 'p3', t0 + 2000);
    t.schedule('a', 'p1', t0 + 500); // replaces p1's 3000
    t.schedule('a', 'p3', undefined); // cancels p3
    expect(t.pending).toBe(2);
    await clock.advance(5000);
    expect(fired).toEqual([
      ['p1', t0 + 500],
      ['p2', t0 + 1000],
    ]);
    expect(clock.timers).toBe(0);
  });

  it('a person whose next instant changes on every event keeps one pending entry and fires once, at the last instant', async () => {
    const clock = new ManualClock('2026-01-01T00:00:00Z');
    const fired: Array<[string, number]> = [];
    const t = new Timeline(clock, (_tenant, person) => fired.push([person, clock.now()]));
    const t0 = clock.now();
    t.schedule('a', 'steady', t0 + 30_000);
    for (let k = 0; k < 10_000; k++) t.schedule('a', 'busy', t0 + 60_000 + (k % 2 ? k : -k));
    t.schedule('a', 'busy', t0 + 20_000);
    expect(t.pending).toBe(2);
    await clock.advance(120_000);
    expect(fired).toEqual([
      ['busy', t0 + 20_000],
      ['steady', t0 + 30_000],
    ]);
    expect(t.pending).toBe(0);
  });

  it('runDue runs what is due at a safe point, before its timer, and the timer then fires nothing twice', () => {
    // A clock whose timers only fire when told: the event loop has not reached its timers yet.
    let now = Date.parse('2026-01-01T00:00:00Z');
    const timers: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];
    const clock = {
      now: () => now,
      at(at: number, fn: () => void) {
        const t = { at, fn, cancelled: false };
        timers.push(t);
        return { cancel: () => void (t.cancelled = true) };
      },
      after(ms: number, fn: () => void) {
        return this.at(now + ms, fn);
      },
    };
    const fired: Array<[string, number]> = [];
    const t = new Timeline(clock, (_tenant, person, dueAt) => fired.push([person, dueAt]));
    const t0 = now;
    t.schedule('a', 'p1', t0 + 100);
    t.schedule('a', 'p2', t0 + 200);
    t.runDue();
    expect(fired).toEqual([]);
    now = t0 + 150;
    t.runDue();
    expect(fired).toEqual([['p1', t0 + 100]]);
    expect(t.pending).toBe(1);
    // The timer armed for p1 was cancelled; the live one is p2's.
    expect(timers.filter((x) => !x.cancelled).map((x) => x.at)).toEqual([t0 + 200]);
    now = t0 + 250;
    for (const x of timers.filter((x) => !x.cancelled)) x.fn();
    t.runDue();
    expect(fired).toEqual([
      ['p1', t0 + 100],
      ['p2', t0 + 200],
    ]);
  });

  it('arming for an instant already past (the system clock runs it inside `at`) leaves one live timer, and none after stop', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: Date.parse('2026-01-01T00:00:00Z') });
    const fired: string[] = [];
    const t = new Timeline(systemClock, (_tenant, person) => fired.push(person));
    const t0 = Date.now();
    t.schedule('a', 'p1', t0 + 100);
    t.schedule('a', 'p2', t0 + 120);
    // The event loop was busy (its timers not reached): both are overdue when p1's next instant moves,
    // so arming for p2 runs it there and then.
    vi.setSystemTime(t0 + 150);
    t.schedule('a', 'p1', t0 + 300);
    expect(fired).toEqual(['p2']);
    expect(vi.getTimerCount()).toBe(1);
    t.schedule('a', 'p3', t0 + 250);
    expect(vi.getTimerCount()).toBe(1);
    t.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(fired).toEqual(['p2']);
  });

  it('a request runs the transitions already due before its own work, though the timer has not fired yet', async () => {
    const h = await startTestHub({ now: '2026-03-02T09:30:00Z' });
    try {
      const key = await seedAlice(h);
      await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() }], key).expect(200);
      await h.put('/v1/people/alice/status', { activity: 'dnd', until: '2026-03-02T09:31:00Z' }).expect(200);
      expect((await h.get('/v1/presence/alice')).body.activity).toBe('dnd');
      // The event loop is busy: time has moved past the status's end, its timer has not run.
      h.clock.jumpTo('2026-03-02T09:31:05Z');
      const after = (await h.get('/v1/presence/alice')).body;
      expect(after.activity).toBe('available');
      expect(after.since).toBe('2026-03-02T09:31:00.000Z');
    } finally {
      await h.stop();
    }
  });

  it('the system clock waits correctly for delays beyond 24.8 days', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: Date.parse('2026-01-01T00:00:00Z') });
    const fired = vi.fn();
    const due = Date.now() + 40 * DAY;
    systemClock.at(due, () => fired(Date.now()));
    vi.advanceTimersByTime(25 * DAY);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(15 * DAY - 1);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledWith(due);
  });

  it('a transition 40 days ahead fires on time, and only real changes are emitted with growing versions', async () => {
    const h = await startTestHub({ now: '2026-03-02T09:30:00Z' });
    try {
      const key = await seedAlice(h);
      await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() }], key).expect(200);
      const events: Array<{ activity?: string; version?: number }> = [];
      h.hub.feed.subscribe('acme', (e) => events.push({ activity: e.presence?.activity, version: e.presence?.version }));
      const start = h.clock.now() + 40 * DAY;
      await h.hub.engine.apply('acme', 'alice', [
        { op: 'put', signal: { id: 'outlook:evt:far', source: 'outlook', claim: { kind: 'calendar', activity: 'out-of-office' }, observedAt: h.clock.now(), from: start, until: start + DAY } },
      ]);
      // Beyond the 7-day lookahead nothing is announced; once it comes into view, `next` is.
      expect(events).toEqual([]);
      await h.clock.advanceTo(start - 7 * DAY - 1);
      expect(events).toEqual([]);
      await h.clock.advanceTo(start - 7 * DAY);
      expect(events.map((e) => e.activity)).toEqual(['available']);
      expect((await h.get('/v1/presence/alice')).body.next).toEqual({ at: new Date(start).toISOString(), availability: 'away', activity: 'out-of-office' });
      await h.clock.advanceTo(start - 1);
      expect(events).toHaveLength(1);
      await h.clock.advanceTo(start);
      expect(events.map((e) => e.activity)).toEqual(['available', 'out-of-office']);
      expect((await h.get('/v1/presence/alice')).body.since).toBe(new Date(start).toISOString());
      // A re-evaluation with nothing new emits nothing.
      await h.hub.engine.apply('acme', 'alice', []);
      expect(events).toHaveLength(2);
      await h.clock.advanceTo(start + DAY);
      expect(events.map((e) => e.activity)).toEqual(['available', 'out-of-office', 'available']);
      const versions = events.map((e) => e.version!);
      expect([...versions].sort((a, b) => a - b)).toEqual(versions);
      expect(new Set(versions).size).toBe(versions.length);
    } finally {
      await h.stop();
    }
  });
});
