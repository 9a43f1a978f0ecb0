/**
 * Routing decisions per second and p50/p99 latency for groups of 10, 50 and 500 members, in process
 * (RoutingService.decide) and over HTTP (POST /v1/route on 127.0.0.1, keep-alive).
 *
 *   npx tsx bench/routing.ts                # full run
 *   npx tsx bench/routing.ts --quick        # fewer iterations, for a smoke check
 *   npx tsx bench/routing.ts --wait-quiet   # first wait (up to 10 min) until other processes leave the CPU alone
 *
 * Members are spread over realistic states: 60 % available on a registered desk phone, 15 % on a call,
 * 10 % in an Outlook meeting, 10 % in manual DND, 5 % offline. Live decisions use round robin, so every
 * decision also writes strategy state; dry runs (an instant two hours ahead) merge every member's signals.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { Signal } from '../shared/domain/signal.js';
import type { WriteOp } from '../shared/store/port.js';
import type { RunningHub } from '../services/create-hub.js';
import type { RouteRequest } from '../services/routing/routing-service.js';
import { ADMIN_KEY, TENANT, startBenchHub } from './lib/hub.js';
import { Interference, machine, machineBusy, pct } from './lib/report.js';

const SIZES = [10, 50, 500] as const;
const QUICK = process.argv.includes('--quick');
const WAIT_QUIET = process.argv.includes('--wait-quiet');
const HOUR = 3_600_000;

interface Figures {
  perSecond: number;
  p50: number;
  p99: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function figures(latencies: number[], elapsedMs: number): Figures {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { perSecond: (latencies.length / elapsedMs) * 1000, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

async function seed(running: RunningHub, size: number): Promise<string> {
  const { store, engine, clock } = running.hub;
  const now = clock.now();
  const groupId = `g${size}`;
  const ops: WriteOp[] = [];
  const ids: string[] = [];
  for (let i = 0; i < size; i++) {
    const id = `p${size}-${i}`;
    ids.push(id);
    ops.push({ op: 'put', collection: 'people', doc: { id, tenantId: TENANT, name: `Person ${i}`, timeZone: 'Europe/Berlin', teams: [], skills: {}, sensitive: false } });
    ops.push({ op: 'put', collection: 'devices', doc: { id: `${id}-desk`, tenantId: TENANT, personId: id, kind: 'desk', contact: `sip:${id}@192.0.2.10` } });
  }
  ops.push({
    op: 'put',
    collection: 'groups',
    doc: {
      id: groupId,
      tenantId: TENANT,
      name: `Group of ${size}`,
      kind: 'queue',
      timeZone: 'Europe/Berlin',
      strategy: 'round-robin',
      ringTimeoutSeconds: 15,
      leaveWhen: { dnd: true, meeting: true },
      requiredSkills: {},
      members: ids.map((personId) => ({ personId, priority: 0, skills: {} })),
      fallback: [
        { type: 'queue', maxWaitSeconds: 300, uri: 'sip:queue@192.0.2.99' },
        { type: 'voicemail', box: groupId, uri: 'sip:vm@192.0.2.99' },
      ],
      afterHours: [],
    },
  });
  await store.directory.write(ops);
  for (const [i, id] of ids.entries()) {
    const reg: Signal = {
      id: `pbx:reg:${id}-desk`,
      source: 'pbx',
      claim: { kind: 'endpoint', endpoint: { id: `${id}-desk`, kind: 'desk', contact: `sip:${id}@192.0.2.10` }, reachable: true },
      observedAt: now - HOUR,
    };
    const slot = i % 20;
    const signals: Signal[] = slot === 19 ? [] : [reg];
    if (slot >= 12 && slot < 15) signals.push({ id: `pbx:call:${id}-desk:c`, source: 'pbx', claim: { kind: 'call', state: 'on-call' }, observedAt: now - 60_000 });
    if (slot >= 15 && slot < 17) {
      signals.push({ id: `outlook:evt:${id}`, source: 'outlook', claim: { kind: 'calendar', activity: 'in-meeting' }, observedAt: now - HOUR, from: now - 30 * 60_000, until: now + 30 * 60_000 });
    }
    if (slot >= 17 && slot < 19) signals.push({ id: 'manual', source: 'manual', claim: { kind: 'dnd' }, observedAt: now - 60_000, until: now + HOUR });
    if (slot === 19) {
      signals.push({ ...reg, claim: { kind: 'endpoint', endpoint: { id: `${id}-desk`, kind: 'desk' }, reachable: false } });
    }
    await engine.apply(TENANT, id, signals.map((signal) => ({ op: 'put' as const, signal })));
  }
  return groupId;
}

async function inProcess(running: RunningHub, req: RouteRequest, n: number): Promise<Figures> {
  const opts = { mayCommit: true, detailFor: () => 'activity' as const };
  for (let i = 0; i < Math.min(200, n); i++) await running.routing.decide(TENANT, req, opts);
  const latencies: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await running.routing.decide(TENANT, req, opts);
    latencies.push(performance.now() - t);
  }
  return figures(latencies, performance.now() - start);
}

/**
 * The HTTP client runs in a worker thread: its own event loop and heap, so the server's latency is not
 * inflated by the client's work and garbage collection in the same loop.
 */
const CLIENT = `
const { parentPort, workerData: w } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const send = async () => {
  const res = w.body === undefined
    ? await fetch(w.url)
    : await fetch(w.url, { method: 'POST', headers: { Authorization: 'Bearer ' + w.key, 'Content-Type': 'application/json' }, body: w.body });
  if (res.status !== 200) throw new Error('route answered ' + res.status + ': ' + (await res.text()));
  await res.arrayBuffer();
};
(async () => {
  for (let i = 0; i < Math.min(200, w.n); i++) await send();
  const latencies = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: w.concurrency }, async () => {
    while (next < w.n) {
      next++;
      const t = performance.now();
      await send();
      latencies.push(performance.now() - t);
    }
  }));
  parentPort.postMessage({ latencies, elapsed: performance.now() - start });
})().catch((err) => parentPort.postMessage({ error: String(err) }));
`;

/** `body` undefined sends a GET (the baseline). */
async function overHttp(url: string, body: unknown, n: number, concurrency: number): Promise<Figures> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const worker = new Worker(CLIENT, { eval: true, workerData: { url, body: payload, n, concurrency, key: ADMIN_KEY } });
  const r = await new Promise<{ latencies?: number[]; elapsed?: number; error?: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  if (r.error || !r.latencies) throw new Error(r.error ?? 'no result from the client');
  return figures(r.latencies, r.elapsed!);
}

async function quiet(): Promise<string> {
  const deadline = Date.now() + 10 * 60_000;
  let busy = await machineBusy();
  while (WAIT_QUIET && busy !== undefined && busy > 0.15 && Date.now() < deadline) busy = await machineBusy();
  return busy === undefined ? 'unknown' : `${Math.round(busy * 100)} %`;
}

const fmt = (f: Figures) => `| ${Math.round(f.perSecond).toLocaleString('en-US')} | ${f.p50.toFixed(2)} | ${f.p99.toFixed(2)} |`;

async function main(): Promise<void> {
  console.log(`machine: ${machine()}`);
  const h = await startBenchHub();
  const { running } = h;
  const base = await h.listen();

  const rows: string[] = [];
  // The HTTP stack alone, with the same client: what any route costs on this machine.
  rows.push(`| – | HTTP baseline: GET /healthz, 1 request at a time ${fmt(await overHttp(`${base}/healthz`, undefined, QUICK ? 300 : 4_000, 1))}`);
  const busy: string[] = [];
  const others: string[] = [];
  try {
    for (const size of SIZES) {
      const groupId = await seed(running, size);
      busy.push(`${size} members: ${await quiet()}`);
      const meter = new Interference();
      const n = QUICK ? 300 : size === 500 ? 2_000 : 10_000;
      const httpN = QUICK ? 300 : size === 500 ? 1_000 : 4_000;
      const live: RouteRequest = { target: { group: groupId }, skills: {}, dryRun: false };
      const dry: RouteRequest = { ...live, at: running.hub.clock.now() + 2 * HOUR };
      rows.push(`| ${size} | in process, live (round robin) ${fmt(await inProcess(running, live, n))}`);
      rows.push(`| ${size} | in process, dry run 2 h ahead ${fmt(await inProcess(running, dry, n))}`);
      const body = { group: groupId };
      rows.push(`| ${size} | HTTP JSON, 1 request at a time ${fmt(await overHttp(`${base}/v1/route`, body, httpN, 1))}`);
      rows.push(`| ${size} | HTTP rtjson, 1 request at a time ${fmt(await overHttp(`${base}/v1/route?format=rtjson`, body, httpN, 1))}`);
      rows.push(`| ${size} | HTTP JSON, 16 concurrent ${fmt(await overHttp(`${base}/v1/route`, body, httpN, 16))}`);
      others.push(`${size} members: ${pct(meter.share())}`);
    }
  } finally {
    await h.stop();
  }
  console.log(`CPU busy (all cores) in the second before each size: ${busy.join(', ')}`);
  console.log(`CPU used by other processes while measuring: ${others.join(', ')}`);
  console.log('\n| members | path | decisions/s | p50 ms | p99 ms |\n|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

await main();
