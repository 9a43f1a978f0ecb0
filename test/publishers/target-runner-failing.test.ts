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

/** A receiver answering `status` to every request (2xx: taken; a redirect is never retried), or `statusOf` a person's. */
class Receiver implements Sink {
  status = 200;
  statusOf: (personId: string) => number = () => this.status;
  readonly requests: Array<{ personId: string; version: number; removal: boolean; at: number }> = [];
  /** Requests on their way at once, at most. */
  mostAtOnce = 0;
  /** What the runner told of the target's health (`hold`). */
  readonly held: boolean[] = [];
  private underWay = 0;
  constructor(private readonly clock: ManualClock) {}
  async deliver(d: Delivery): Promise<void | 'unchanged'> {
    this.requests.push({ personId: d.personId, version: d.version, removal: !d.presence, at: this.clock.now() });
    this.mostAtOnce = Math.max(this.mostAtOnce, ++this.underWay);
    await new Promise((resolve) => setImmediate(resolve));
    this.underWay--;
    const status = this.statusOf(d.personId);
    if (status >= 300) throw new DeliveryError(`${HOOK_URL} answered ${status}`, status >= 400, status);
  }
  hold(held: boolean): void {
    this.held.push(held);
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
function setup(onDelivered?: (d: Delivery) => void) {
  const clock = new ManualClock('2026-03-02T10:00:00Z');
  const receiver = new Receiver(clock);
  const lines: Array<Record<string, unknown>> = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const metrics = new Metrics(false);
  const r = new TargetRunner(TARGET, receiver, clock, { coalesceMs: 1000, retryBaseMs: 1000, retryCapMs: 60_000, failingAfter: 3, random: () => 0.5, ...(onDelivered ? { onDelivered } : {}) }, metrics, createLogger('info', out));
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
    // Probed all along (at most a minute apart), with one log line at the start per person before the target
    // turned failing, one when it did, and one reminder an hour.
    expect(receiver.requests.length).toBeGreaterThan(people.length + 150);
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

describe('a failing target is probed, one delivery at a time, on its own backoff', () => {
  /** `n` people each offered a state to a receiver answering 503, until the target is failing and its backoff at the cap. */
  async function deadFor(n: number, onDelivered?: (d: Delivery) => void) {
    const t = setup(onDelivered);
    t.receiver.status = 503;
    const people = Array.from({ length: n }, (_, i) => `p${i}`);
    for (const p of people) t.r.offer(state(p, 1));
    await t.clock.advance(0);
    await t.clock.advance(10 * 60_000);
    return { ...t, people };
  }

  it('gets one delivery attempt per backoff step, not one per person, each time whoever waited longest; when it answers, everyone’s newest state goes out once, in order', async () => {
    const { clock, receiver, r, people } = await deadFor(100);
    expect(r.status()).toMatchObject({ state: 'failing', waiting: 100 });
    // Nor does the sink send anything of its own accord (SIP refreshes and retries).
    expect(receiver.held).toEqual([true]);
    const before = receiver.requests.length;
    receiver.mostAtOnce = 0;
    await clock.advance(HOUR);
    const probes = receiver.requests.slice(before);
    // At the 60 s cap, jittered down to three quarters: 80 attempts an hour, not 8,000.
    expect(probes).toHaveLength(80);
    expect(new Set(probes.map((p) => p.at)).size).toBe(probes.length);
    expect(receiver.mostAtOnce).toBe(1);
    // Everyone in turn, so no one person's refused state holds the others back.
    expect(new Set(probes.slice(0, 80).map((p) => p.personId)).size).toBe(80);
    // Newer states meanwhile wait too, coalesced: only the newest of each goes out.
    r.offer(state('p3', 2));
    r.offer(state('p3', 3));
    r.offer(state('p7', 2));
    expect(r.status()).toMatchObject({ state: 'failing', waiting: 100, superseded: 3 });
    await clock.advance(1000);
    expect(receiver.requests.length).toBe(before + 80);
    receiver.status = 200;
    const sent = receiver.requests.length;
    await clock.advance(HOUR);
    const after = receiver.requests.slice(sent);
    expect(after).toHaveLength(people.length);
    expect(new Set(after.map((d) => d.personId)).size).toBe(people.length);
    expect(after.find((d) => d.personId === 'p3')!.version).toBe(3);
    expect(after.find((d) => d.personId === 'p7')!.version).toBe(2);
    // Per person, never an older state after a newer one.
    for (const p of people) {
      const versions = receiver.requests.filter((d) => d.personId === p).map((d) => d.version);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
    }
    expect(r.status()).toMatchObject({ state: 'healthy', waiting: 0 });
    expect(r.status().nextProbeAt).toBeUndefined();
    expect(receiver.held).toEqual([true, false]);
  });

  it('its status says when the next probe goes out', async () => {
    const { clock, receiver, r } = await deadFor(5);
    const { nextProbeAt } = r.status();
    expect(nextProbeAt).toEqual(expect.any(String));
    const due = Date.parse(nextProbeAt!);
    expect(due).toBeGreaterThan(clock.now());
    const sent = receiver.requests.length;
    await clock.advanceTo(due - 1);
    expect(receiver.requests).toHaveLength(sent);
    await clock.advanceTo(due);
    expect(receiver.requests).toHaveLength(sent + 1);
    expect(Date.parse(r.status().nextProbeAt!)).toBeGreaterThan(due);
  });

  it('a removal or a withdrawal waits like any state, and goes out once the target answers; nothing waiting is sent after a drain', async () => {
    const { clock, receiver, r } = await deadFor(4);
    r.offer({ tenantId: 'acme', personId: 'p1', version: 1 });
    r.offer({ tenantId: 'acme', personId: 'p2', version: 1, rerender: 5, outOfScope: true });
    receiver.status = 200;
    const sent = receiver.requests.length;
    await clock.advance(2 * 60_000);
    const after = receiver.requests.slice(sent);
    expect(after.filter((d) => d.personId === 'p1')).toEqual([expect.objectContaining({ removal: true, version: 2 })]);
    expect(after.filter((d) => d.personId === 'p2')).toEqual([expect.objectContaining({ removal: true, version: 1 })]);

    const delivered: string[] = [];
    const other = await deadFor(4, (d) => void delivered.push(d.personId));
    await other.r.drain(1000);
    const drained = other.receiver.requests.length;
    other.receiver.status = 200;
    await other.clock.advance(HOUR);
    // The next owner sends what the ledger does not have.
    expect(other.receiver.requests).toHaveLength(drained);
    expect(delivered).toEqual([]);
  });

  it('an answer that is never retried (a redirect) shows the target reachable: that state is dropped, as always, and the next person is probed at once', async () => {
    const { clock, receiver, r, people } = await deadFor(10);
    const { nextProbeAt } = r.status();
    let redirected: string | undefined;
    receiver.statusOf = (personId) => (redirected === undefined || redirected === personId ? ((redirected = personId), 308) : 503);
    const sent = receiver.requests.length;
    await clock.advanceTo(Date.parse(nextProbeAt!) + 1000);
    const probes = receiver.requests.slice(sent);
    // The next one at once, who is refused: the one after waits for the next step.
    expect(probes.map((p) => p.at)).toEqual([Date.parse(nextProbeAt!), Date.parse(nextProbeAt!)]);
    expect(probes[1]!.personId).not.toBe(redirected);
    expect(r.status()).toMatchObject({ state: 'failing', waiting: people.length - 1 });
    expect(Date.parse(r.status().nextProbeAt!)).toBeGreaterThan(clock.now() + 30_000);
  });

  it('a state the sink did not have to send (the target holds it) tells nothing of the target: it stays failing, nothing is sent at once', async () => {
    const { clock, receiver, r } = await deadFor(10);
    const deliver = receiver.deliver.bind(receiver);
    receiver.deliver = async (d) => (d.version === 2 ? 'unchanged' : deliver(d));
    for (let i = 0; i < 10; i++) r.offer(state(`p${i}`, 2));
    const sent = receiver.requests.length;
    await clock.advance(HOUR);
    expect(r.status()).toMatchObject({ state: 'failing', waiting: 0, delivered: 10 });
    expect(receiver.requests).toHaveLength(sent);
  });
});
