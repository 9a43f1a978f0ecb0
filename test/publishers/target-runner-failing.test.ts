import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import type { Presence } from '../../shared/domain/presence.js';
import type { Target } from '../../shared/domain/target.js';
import { createLogger } from '../../shared/log/logger.js';
import { Metrics } from '../../services/observability/metrics.js';
import { DeliveryError } from '../../services/publishers/http-client.js';
import type { Delivery, Sink } from '../../services/publishers/sink.js';
import { TargetRunner } from '../../services/publishers/target-runner.js';

const HOOK_URL = 'https://example.com/hook';
const TARGET = { kind: 'webhook', id: 'hook', tenantId: 'acme', name: 'hook', enabled: true, url: HOOK_URL } as Target;
const HOUR = 3_600_000;

/** A receiver answering `status` to every request (2xx: taken). */
class Receiver implements Sink {
  status = 200;
  readonly requests: Array<{ personId: string; version: number }> = [];
  async deliver(d: Delivery): Promise<void> {
    this.requests.push({ personId: d.personId, version: d.version });
    if (this.status >= 300) throw new DeliveryError(`${HOOK_URL} answered ${this.status}`, true, this.status);
  }
  async close(): Promise<void> {}
}

const state = (personId: string, version: number): Delivery => ({
  tenantId: 'acme',
  personId,
  version,
  presence: { personId, availability: 'available', activity: 'available', routable: true, endpoints: [], explanation: [], since: 0, version } as Presence,
});

/** The runner as configured by default (1 s doubling to 60 s, failing after 3), its log lines kept. */
function setup() {
  const clock = new ManualClock('2026-03-02T10:00:00Z');
  const receiver = new Receiver();
  const lines: Array<Record<string, unknown>> = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const metrics = new Metrics(false);
  const r = new TargetRunner(TARGET, receiver, clock, { coalesceMs: 1000, retryBaseMs: 1000, retryCapMs: 60_000, failingAfter: 3, random: () => 0.5 }, metrics, createLogger('info', out));
  const said = () => lines.filter((l) => (l.level as number) >= 30).map((l) => l.msg);
  return { clock, receiver, r, lines, said, metrics };
}

describe('a receiver that keeps refusing deliveries', () => {
  it('is said in the log once when it turns failing, reminded hourly, and once when it answers again, whoever waits; its status and metric say failing all along', async () => {
    const { clock, receiver, r, lines, said, metrics } = setup();
    receiver.status = 404;
    const people = Array.from({ length: 20 }, (_, i) => `p${i}`);
    for (const p of people) r.offer(state(p, 1));
    await clock.advance(0);
    await clock.advance(3 * HOUR + 10 * 60_000);
    // Every person's state was retried all along (at most a minute apart), with one log line at the start per
    // person before the target turned failing, one when it did, and one reminder an hour.
    expect(receiver.requests.length).toBeGreaterThan(people.length * 150);
    expect(said()).toEqual(['delivery failed', 'delivery failed', 'push target failing', 'push target still failing', 'push target still failing', 'push target still failing']);
    const failing = lines.find((l) => l.msg === 'push target failing')!;
    expect(failing).toMatchObject({ target: 'hook', kind: 'webhook', status: 404, err: 'https://example.com/hook answered 404', level: 40 });
    expect(r.status()).toMatchObject({ state: 'failing', lastError: 'https://example.com/hook answered 404' });
    expect((await metrics.targetUp.get()).values).toEqual([expect.objectContaining({ value: 0 })]);
    // A newer state meanwhile: the newest is what goes out when the receiver answers again.
    r.offer(state('p3', 2));
    receiver.status = 200;
    const sent = receiver.requests.length;
    await clock.advance(2 * 60_000);
    expect(said().slice(6)).toEqual(['push target answers again']);
    expect(lines.at(-1)).toMatchObject({ target: 'hook', failingForMs: expect.any(Number), failures: expect.any(Number) });
    const after = receiver.requests.slice(sent);
    expect(after).toHaveLength(people.length);
    expect(after.find((d) => d.personId === 'p3')!.version).toBe(2);
    expect(r.status()).toMatchObject({ state: 'healthy', waiting: 0 });
  });

  it('a 410 Gone is retried at most hourly, a 404 (maybe a route not deployed yet) at most every minute', async () => {
    const attempts = async (status: number) => {
      const { clock, receiver, r } = setup();
      receiver.status = status;
      r.offer(state('p1', 1));
      await clock.advance(0);
      await clock.advance(6 * HOUR);
      return receiver.requests.length;
    };
    // 1 s doubling to the cap, jittered to three quarters: to 60 s within 2 minutes, to an hour within 3.
    expect(await attempts(404)).toBeGreaterThan(400);
    const gone = await attempts(410);
    expect(gone).toBeGreaterThan(12);
    expect(gone).toBeLessThan(25);
  });
});
