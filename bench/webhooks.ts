/**
 * Webhook deliveries per second through the real publisher pipeline: engine.apply → change feed →
 * PublishPipeline → TargetRunner (one delivery in flight per person) → WebhookSink (Standard Webhooks
 * signature, keep-alive HTTP client with 8 sockets) → a loopback receiver in its own process that
 * verifies every signature and answers 204.
 *
 *   npx tsx bench/webhooks.ts
 */
import { performance } from 'node:perf_hooks';
import { pbxEventChanges } from '../services/connectors/pbx/map.js';
import type { PbxEvent } from '../services/connectors/pbx/schema.js';
import { newWebhookSecret } from '../services/publishers/webhook-signature.js';
import { ADMIN_KEY, TENANT, deskId, personId, seedPeople, startBenchHub, type BenchHub } from './lib/hub.js';
import { Interference, fmt, header, median, pct, record, sleep, table, type SummaryRow } from './lib/report.js';
import { WebhookReceiver } from './lib/webhook-receiver.js';

const PEOPLE = 10_000;
const BURST_ROUNDS = 3;
const RATES = [1000, 2000, 4000, 8000];
const WINDOW_MS = 5000;
const TYPES = ['registered', 'ringing', 'answered', 'hangup'] as const;

async function api(url: string, method: string, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Changes person i's state: the desk phone cycles registered (new contact) → ringing → answered → hangup. */
class Changer {
  private readonly step = new Int32Array(PEOPLE);
  private lastAt = 0;

  constructor(private readonly h: BenchHub) {}

  change(i: number): Promise<unknown> {
    const type = TYPES[this.step[i]!++ % TYPES.length]!;
    const at = (this.lastAt = Math.max(Date.now(), this.lastAt + 1));
    const e: PbxEvent = type === 'registered' ? { type, device: deskId(i), at, expiresSec: 3600, contact: `sip:d${i}@10.1.0.1;s=${this.step[i]}` } : { type, device: deskId(i), at };
    const endpoint = { id: deskId(i), kind: 'desk' as const, contact: e.contact ?? `sip:d${i}@192.0.2.10` };
    return this.h.running.hub.engine.apply(TENANT, personId(i), pbxEventChanges(e, endpoint, at, 0));
  }
}

interface Row {
  name: string;
  offered: number | undefined;
  delivered: number;
  perSec: number;
  superseded: number;
  failed: number;
  bad: number;
  connections: number;
  hubCpu: number;
  receiverCpu: number;
  elu: number;
  others: number | undefined;
}

await header('6. Webhook deliveries per second through the publisher pipeline');
console.log(
  `${PEOPLE.toLocaleString('en-US')} people with desk phones; one webhook target (coalesceMs 0: every change is delivered, one in flight ` +
    'per person); the receiver, a separate process on 127.0.0.1, verifies each Standard Webhooks signature (HMAC-SHA256) and answers 204\n',
);

const h = await startBenchHub();
await seedPeople(h, PEOPLE, { desk: true });
const url = await h.listen();
const rx = WebhookReceiver.spawn();
const secret = newWebhookSecret();
const rxUrl = await rx.start(secret);
await api(url, 'PUT', '/v1/tenant', { name: 'Bench', settings: { allowPrivateTargets: true, wrapUpSeconds: 0 } });
await api(url, 'PUT', '/v1/targets/hook', { kind: 'webhook', name: 'receiver', url: `${rxUrl}/presence`, secret, coalesceMs: 0 });
const { pipeline } = h.running.hub;
const status = () => pipeline.status(TENANT, 'hook')!;
const changer = new Changer(h);

/** Waits until the receiver has `n` valid deliveries (or 60 s pass); returns when the last one came. */
async function until(n: number): Promise<number> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    const c = await rx.counts();
    if (c.ok + c.bad >= n) return performance.now();
    await sleep(2);
  }
  throw new Error(`only ${(await rx.counts()).ok} of ${n} deliveries arrived`);
}

async function measure(name: string, offered: number | undefined, work: () => Promise<number>): Promise<Row> {
  const c0 = await rx.counts();
  const s0 = status();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const probe = new Interference();
  const t0 = performance.now();
  const end = await work();
  const ms = end - t0;
  const c1 = await rx.counts();
  const cpu = process.cpuUsage(cpu0);
  const delivered = c1.ok - c0.ok;
  return {
    name,
    offered,
    delivered,
    perSec: (delivered / ms) * 1000,
    superseded: status().superseded - s0.superseded,
    failed: status().failed - s0.failed,
    bad: c1.bad - c0.bad,
    connections: c1.connections - c0.connections,
    hubCpu: (cpu.user + cpu.system) / 1000 / ms,
    receiverCpu: (c1.cpuMs - c0.cpuMs) / ms,
    elu: performance.eventLoopUtilization(elu0).utilization,
    others: probe.share(c1.cpuMs - c0.cpuMs),
  };
}

const rows: Row[] = [];
/** Every person changes once, as fast as the engine takes it, 100 at a time. */
async function changeEveryone(): Promise<void> {
  for (let i = 0; i < PEOPLE; i += 100) {
    const work: Array<Promise<unknown>> = [];
    for (let j = i; j < i + 100; j++) work.push(changer.change(j));
    await Promise.all(work);
  }
}
// Warm-up: everyone's first state (desk registered).
await changeEveryone();
await until(PEOPLE);

// A. Burst: every person changes once, as fast as the engine takes it; time until the last delivery arrives.
for (let round = 0; round < BURST_ROUNDS; round++) {
  await sleep(500);
  const base = (await rx.counts()).ok;
  rows.push(
    await measure(`burst: ${PEOPLE.toLocaleString('en-US')} people change at once`, undefined, async () => {
      await changeEveryone();
      return until(base + PEOPLE);
    }),
  );
}

// B. Open loop: `rate` changes per second, round robin over the people, for WINDOW_MS; delivered/s over that window.
let next = 0;
for (const rate of RATES) {
  await sleep(1000);
  rows.push(
    await measure(`steady: ${fmt(rate)} changes/s`, rate, async () => {
      const start = performance.now();
      let sent = 0;
      while (performance.now() - start < WINDOW_MS) {
        const due = Math.floor(((performance.now() - start) * rate) / 1000) - sent;
        for (let k = 0; k < due; k++) {
          void changer.change(next);
          next = (next + 1) % PEOPLE;
        }
        sent += Math.max(0, due);
        await sleep(1);
      }
      return performance.now();
    }),
  );
}
const backlog = status().waiting;
const lastError = status().lastError;
rx.close();
await h.stop();

console.log('');
table(
  ['run', 'offered changes/s', 'deliveries', 'deliveries/s', 'superseded', 'failed (retried)', 'bad signatures', 'new connections', 'hub CPU', 'hub loop busy', 'receiver CPU', 'others'],
  rows.map((r) => [
    r.name,
    r.offered === undefined ? '-' : r.offered,
    r.delivered,
    r.perSec,
    r.superseded,
    r.failed,
    r.bad,
    r.connections,
    `${(r.hubCpu * 100).toFixed(0)} %`,
    `${(r.elu * 100).toFixed(0)} %`,
    `${(r.receiverCpu * 100).toFixed(0)} %`,
    pct(r.others),
  ]),
);
console.log(`hub and receiver CPU: share of one core; still waiting at the end: ${backlog}${lastError ? `; last delivery error: ${lastError}` : ''}`);

const burst = median(rows.filter((r) => r.offered === undefined).map((r) => r.perSec));
const sustained = Math.max(0, ...rows.filter((r) => r.offered !== undefined && r.perSec >= 0.97 * r.offered).map((r) => r.offered!));
console.log(`\nburst drain: ${fmt(burst)} deliveries/s (median of ${BURST_ROUNDS}); highest offered rate delivered in full (>= 97 %): ${fmt(sustained)} changes/s`);
const summary: SummaryRow[] = [
  { benchmark: 'webhooks', metric: 'deliveries/s, burst of 10 k people', value: burst, unit: '/s' },
  { benchmark: 'webhooks', metric: 'highest change rate delivered in full', value: sustained, unit: '/s' },
];
record(summary);
