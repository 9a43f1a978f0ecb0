import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import type { Presence } from '../../shared/domain/presence.js';
import type { Target } from '../../shared/domain/target.js';
import { silentLogger } from '../../shared/log/logger.js';
import { Metrics } from '../../services/observability/metrics.js';
import type { Delivery, Sink } from '../../services/publishers/sink.js';
import { TargetRunner } from '../../services/publishers/target-runner.js';

const TARGET = { kind: 'webhook', id: 'hook', tenantId: 'acme', name: 'hook', enabled: true, url: 'https://example.com/hook' } as Target;
const COALESCE_MS = 1000;

/** A target that answers only when told to, so a delivery can be kept on its way. */
class GatedSink implements Sink {
  readonly delivered: number[] = [];
  private readonly gates: Array<() => void> = [];
  deliver(d: Delivery): Promise<void> {
    return new Promise((resolve) =>
      this.gates.push(() => {
        this.delivered.push(d.presence ? d.version : -d.version);
        resolve();
      }),
    );
  }
  answer(): void {
    this.gates.shift()?.();
  }
  get waiting(): number {
    return this.gates.length;
  }
  async close(): Promise<void> {}
}

const state = (version: number): Delivery => ({
  tenantId: 'acme',
  personId: 'alice',
  version,
  presence: { personId: 'alice', availability: 'available', activity: 'available', routable: true, endpoints: [], explanation: [], since: 0, version } as Presence,
});

function runner() {
  const clock = new ManualClock('2026-03-02T10:00:00Z');
  const sink = new GatedSink();
  const r = new TargetRunner(TARGET, sink, clock, { coalesceMs: COALESCE_MS, retryBaseMs: 100, retryCapMs: 1000, failingAfter: 3, random: () => 0.5 }, new Metrics(false), silentLogger);
  return { clock, sink, r };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('a target gets each person’s states in order', () => {
  it('an older state offered while a newer one is on its way is never sent after it', async () => {
    const { clock, sink, r } = runner();
    r.offer(state(7));
    expect(sink.waiting).toBe(1);
    // A late read (a takeover's re-send of current states) or a retried dispatch brings an older state.
    r.offer(state(6));
    sink.answer();
    await settle();
    await clock.advance(2 * COALESCE_MS);
    await settle();
    expect(sink.waiting).toBe(0);
    expect(sink.delivered).toEqual([7]);
    // A newer one still goes out, after the coalescing window.
    r.offer(state(8));
    await clock.advance(COALESCE_MS);
    sink.answer();
    await settle();
    expect(sink.delivered).toEqual([7, 8]);
  });

  it('a delivery that ends after the runner closed is neither recorded nor counted: the sink may have given up on it, and the next owner sends it', async () => {
    const clock = new ManualClock('2026-03-02T10:00:00Z');
    const sink = new GatedSink();
    const metrics = new Metrics(false);
    const recorded: number[] = [];
    const r = new TargetRunner(
      TARGET,
      sink,
      clock,
      { coalesceMs: COALESCE_MS, retryBaseMs: 100, retryCapMs: 1000, failingAfter: 3, random: () => 0.5, onDelivered: (d) => void recorded.push(d.version) },
      metrics,
      silentLogger,
    );
    r.offer(state(7));
    expect(sink.waiting).toBe(1);
    await r.close(TARGET);
    // A SIP publisher disposed at the handover settles its PUBLISH as if it had gone through.
    sink.answer();
    await settle();
    expect(recorded).toEqual([]);
    expect((await metrics.targetUp.get()).values).toEqual([]);
  });

  it('a removal offered while a state is on its way outranks it', async () => {
    const { clock, sink, r } = runner();
    r.offer(state(7));
    r.offer({ tenantId: 'acme', personId: 'alice', version: 3 });
    sink.answer();
    await settle();
    await clock.advance(COALESCE_MS);
    sink.answer();
    await settle();
    expect(sink.delivered).toEqual([7, -8]);
  });

  it('a re-rendering of the newest state goes out again; one of an older state does not', async () => {
    const { clock, sink, r } = runner();
    r.offer(state(7));
    sink.answer();
    await settle();
    await clock.advance(COALESCE_MS);
    r.offer({ ...state(7), rerender: clock.now() });
    r.offer({ ...state(6), rerender: clock.now() });
    sink.answer();
    await settle();
    await clock.advance(COALESCE_MS);
    await settle();
    expect(sink.waiting).toBe(0);
    expect(sink.delivered).toEqual([7, 7]);
  });

  it('someone back in scope before their withdrawal went out, or while it is on its way, ends with their state', async () => {
    const { clock, sink, r } = runner();
    const withdrawal: Delivery = { tenantId: 'acme', personId: 'alice', version: 7, rerender: 100, outOfScope: true };
    r.offer(state(7));
    sink.answer();
    await settle();
    // Out of scope, and back within the coalescing window: the withdrawal never goes out.
    r.offer(withdrawal);
    r.offer({ ...state(7), rerender: clock.now() });
    await clock.advance(COALESCE_MS);
    sink.answer();
    await settle();
    expect(sink.delivered).toEqual([7, 7]);
    // Out of scope again, and back while the withdrawal is on its way: the state follows it.
    await clock.advance(COALESCE_MS);
    r.offer(withdrawal);
    expect(sink.waiting).toBe(1);
    r.offer({ ...state(7), rerender: clock.now() });
    sink.answer();
    await settle();
    await clock.advance(COALESCE_MS);
    sink.answer();
    await settle();
    // At the version the target has: should the person come back, their state at it is taken again.
    expect(sink.delivered).toEqual([7, 7, -7, 7]);
    expect(r.holds('alice')).toBe(true);
    // The next state goes out as usual, whatever the withdrawal's version was.
    await clock.advance(COALESCE_MS);
    r.offer(state(8));
    sink.answer();
    await settle();
    expect(sink.delivered).toEqual([7, 7, -7, 7, 8]);
  });
});
