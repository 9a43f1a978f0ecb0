/**
 * HTTP ingest through `POST /v1/pbx/events` (100-event signed batches, 1,000 people with desk phones) on a
 * real `http.createServer(app)` on 127.0.0.1, against a bare `node:http` server that reads and
 * JSON.parses the same bodies and answers 200. The load comes from a separate process (bench/lib/loadgen.ts).
 * Also: request-sent → SSE `presence` event latency at a moderate fixed rate and at saturation.
 *
 *   npx tsx bench/ingest.ts
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { LoadGen, type LoadOptions, type LoadResult } from './lib/loadgen-client.js';
import { engineCycle, pbxKey, seedPeople, startBenchHub, type BenchHub } from './lib/hub.js';
import { Interference, fmt, header, pct, record, table, type SummaryRow } from './lib/report.js';

const PEOPLE = 1000;
const BATCH = 100;
const CONNECTIONS = 16;
const WARMUP_MS = 2000;
const DURATION_MS = 8000;
const MODERATE_RATE = 200;

interface Measured {
  name: string;
  r: LoadResult;
  /** Server process CPU (user + system) as a share of one core, and event-loop utilisation. */
  serverCpu: number;
  elu: number;
  /** Share of the machine other processes used meanwhile (should be about 0 for clean figures). */
  others: number | undefined;
}

async function measure(name: string, gen: LoadGen, o: LoadOptions): Promise<Measured> {
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const probe = new Interference();
  const r = await gen.run(o);
  const wall = performance.now() - t0;
  const others = probe.share((r.cpuMs * wall) / r.elapsedMs);
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  if (r.errors.length > 0) console.log(`  ${name}: errors: ${r.errors.join(' | ')}`);
  return { name, r, serverCpu: (cpu.user + cpu.system) / 1000 / wall, elu: elu.utilization, others };
}

function bareServer(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server })));
}

async function hubWith(opts: { hours: boolean }): Promise<{ h: BenchHub; url: string; key: { keyId: string; secret: string } }> {
  const h = await startBenchHub();
  const t0 = performance.now();
  await seedPeople(h, PEOPLE, { desk: true, hours: opts.hours });
  const seedMs = performance.now() - t0;
  if (opts.hours) console.log(`  (seeding ${PEOPLE} people with office hours took ${fmt(seedMs)} ms: one merge each)`);
  const key = await pbxKey(h);
  return { h, url: await h.listen(), key };
}

await header('2. HTTP ingest: POST /v1/pbx/events, 100-event batches, vs bare node:http');
console.log(
  `${PEOPLE} people with desk phones; load from a separate process, ${CONNECTIONS} keep-alive connections; warm-up ${WARMUP_MS} ms, ` +
    `window ${DURATION_MS} ms; events cycle ringing -> answered -> hangup -> registered, so every applied event changes a state\n`,
);

const base = { people: PEOPLE, batchSize: BATCH, connections: CONNECTIONS, warmupMs: WARMUP_MS, durationMs: DURATION_MS };
const runs: Measured[] = [];

// A. The bare server: read, JSON.parse, 200.
{
  const { url, server } = await bareServer();
  const gen = new LoadGen();
  runs.push(await measure('bare node:http (read + JSON.parse)', gen, { ...base, url, keyId: 'bench/x', secret: 'x', seqStart: 0 }));
  gen.close();
  server.closeAllConnections();
  server.close();
}

// B–D. The hub, people with desk phones only.
let moderate = MODERATE_RATE;
{
  const { h, url, key } = await hubWith({ hours: false });
  const gen = new LoadGen();
  let seq = 0;
  const sat = await measure('hub, saturated, 1 SSE client (pbx key)', gen, { ...base, url, ...key, streamKey: key.secret, seqStart: seq });
  runs.push(sat);
  seq = sat.r.seqEnd;
  const satRate = (sat.r.batches / sat.r.elapsedMs) * 1000;
  // A moderate rate is one the hub can take with room to spare: 200 batches/s, or half of saturation on a slower machine.
  moderate = satRate >= 1.25 * MODERATE_RATE ? MODERATE_RATE : Math.floor(satRate / 2);
  const mod = await measure(`hub, fixed ${moderate} batches/s, 1 SSE client`, gen, { ...base, url, ...key, streamKey: key.secret, rate: moderate, warmupMs: 1000, seqStart: seq });
  runs.push(mod);
  seq = mod.r.seqEnd;
  gen.close();
  const gen2 = new LoadGen();
  const noSse = await measure('hub, saturated, no SSE client', gen2, { ...base, url, ...key, warmupMs: 1000, seqStart: seq });
  runs.push(noSse);
  gen2.close();
  await h.stop();
}

// E. The hub, people with office hours in Berlin (what a real directory holds).
{
  const { h, url, key } = await hubWith({ hours: true });
  const gen = new LoadGen();
  runs.push(await measure('hub, saturated, people with office hours, 1 SSE client', gen, { ...base, connections: 2, url, ...key, streamKey: key.secret, warmupMs: 1000, durationMs: 6000, seqStart: 0 }));
  gen.close();
  await h.stop();
}

// F. Diagnostic: the same event cycle straight into hub.engine.apply (no HTTP, no auth, no validation, no SSE).
let engineOnly = NaN;
{
  const h = await startBenchHub();
  await seedPeople(h, PEOPLE, { desk: true });
  const batch = engineCycle(h, PEOPLE, BATCH);
  let k = 0;
  const until = (ms: number) => performance.now() + ms;
  for (const end = until(1000); performance.now() < end; ) await batch(k++);
  const t0 = performance.now();
  const k0 = k;
  for (const end = until(3000); performance.now() < end; ) await batch(k++);
  engineOnly = ((k - k0) * BATCH * 1000) / (performance.now() - t0);
  await h.stop();
}

const bare = runs[0]!;
const rate = (m: Measured) => (m.r.batches / m.r.elapsedMs) * 1000;
const ms = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : fmt(x));
console.log('');
table(
  ['run', 'batches/s', 'signals/s', 'vs bare', 'signals per server CPU-s', 'HTTP p50/p99 ms', 'SSE p50/p99 ms (n)', 'applied/ignored events', 'server CPU', 'loop busy', 'loadgen CPU', 'others'],
  runs.map((m) => [
    m.name,
    rate(m),
    rate(m) * BATCH,
    m === bare ? '1' : (rate(m) / rate(bare)).toFixed(3),
    (rate(m) * BATCH) / m.serverCpu,
    `${ms(m.r.http.p50)} / ${ms(m.r.http.p99)}`,
    m.r.sse ? `${ms(m.r.sse.p50)} / ${ms(m.r.sse.p99)} (${m.r.sse.count})` : '-',
    m === bare ? '-' : `${m.r.applied} / ${m.r.ignored}`,
    `${(m.serverCpu * 100).toFixed(0)} %`,
    `${(m.elu * 100).toFixed(0)} %`,
    `${((m.r.cpuMs / m.r.elapsedMs) * 100).toFixed(0)} %`,
    pct(m.others),
  ]),
);
console.log('server CPU and loadgen CPU: share of one core; others: share of the whole machine used by other processes meanwhile');
for (const m of runs) {
  const codes = Object.entries(m.r.status).map(([c, n]) => `${c}: ${n}`).join(', ');
  if (!(Object.keys(m.r.status).length === 1 && m.r.status['200'])) console.log(`  ${m.name}: status ${codes}`);
  if (m.r.skipped) console.log(`  ${m.name}: ${m.r.skipped} batches not sent (all connections busy)`);
}

console.log(`\ndiagnostic: the same events straight into hub.engine.apply, in process (no HTTP, auth, validation or SSE): ${fmt(engineOnly)} signals/s`);

const hubSat = runs[1]!;
const hubMod = runs[2]!;
const ratio = rate(hubSat) / rate(bare);
console.log(`\nratio hub / bare (saturated, with SSE client): ${ratio.toFixed(3)} (target >= 0.5: ${ratio >= 0.5 ? 'met' : 'MISSED'})`);
const rows: SummaryRow[] = [
  { benchmark: 'ingest', metric: 'bare node:http: signals/s', value: rate(bare) * BATCH, unit: '/s' },
  { benchmark: 'ingest', metric: 'hub PBX batch endpoint: signals/s (saturated)', value: rate(hubSat) * BATCH, unit: '/s' },
  { benchmark: 'ingest', metric: 'hub / bare ratio', value: ratio, unit: '', target: '>= 0.5', met: ratio >= 0.5 },
  { benchmark: 'ingest', metric: `SSE latency p50 at ${moderate} batches/s`, value: hubMod.r.sse?.p50 ?? NaN, unit: 'ms' },
  { benchmark: 'ingest', metric: `SSE latency p99 at ${moderate} batches/s`, value: hubMod.r.sse?.p99 ?? NaN, unit: 'ms' },
  { benchmark: 'ingest', metric: 'SSE latency p99 saturated', value: hubSat.r.sse?.p99 ?? NaN, unit: 'ms' },
  { benchmark: 'ingest', metric: 'hub with office-hours people: signals/s', value: rate(runs[4]!) * BATCH, unit: '/s' },
  { benchmark: 'ingest', metric: 'engine.apply only (no HTTP): signals/s', value: engineOnly, unit: '/s' },
];
record(rows);
