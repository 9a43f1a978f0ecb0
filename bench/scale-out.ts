/**
 * Scale-out: signals/s and request-sent → SSE latency with one hub process and with three sharing one
 * redis-server, all on 127.0.0.1 with the load generator (this process) on the same two cores; then
 * Redis memory per tracked person (INFO memory and MEMORY USAGE).
 *
 * Load: `CONCURRENCY` closed-loop senders, each posting signed 10-event PBX batches (`registered` with a
 * new contact, so every event changes a state) round robin over the replicas. Batch k carries `;b=k` in
 * its contacts; one SSE client (on the first replica) timestamps the `presence` event with that marker.
 *
 *   npx tsx bench/scale-out.ts [--cpu-prof] [--redis-only] [--load-on-first]
 *
 * `--cpu-prof` writes a V8 CPU profile per hub process (into a temporary directory it names at the end);
 * `--redis-only` leaves out the embedded run and the memory figures; `--load-on-first` sends every
 * batch to the first replica, so the other two only tail the change feed (their CPU per signal is what
 * following the feed costs a replica).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { signPbxRequest } from '../services/api/auth.js';
import { startRedis, type RunningRedis } from '../test/support/redis.js';
import { ADMIN, hubCall, startHubs, type Hubs } from '../test/support/scale-out.js';
import { BENCH_REQUEST_LIMITS } from './lib/hub.js';
import { RawHttpConnection } from './lib/raw-http.js';
import { fmt, header, quantile, record, sleep, table, type SummaryRow } from './lib/report.js';

const PEOPLE = 1000;
const BATCH = 10;
const CONCURRENCY = 32;
const WARMUP_MS = 3000;
const DURATION_MS = 10_000;
const MEMORY_PEOPLE = 5000;
const PROFILE_DIR = process.argv.includes('--cpu-prof') ? mkdtempSync(join(tmpdir(), 'ph-scale-prof-')) : undefined;
const REDIS_ONLY = process.argv.includes('--redis-only');
const LOAD_ON_FIRST = process.argv.includes('--load-on-first');

interface Run {
  name: string;
  signalsPerSec: number;
  http: { p50: number; p99: number };
  sse: { p50: number; p99: number; n: number };
  errors: number;
  /** Cores each process used in the window. */
  cpu: string;
  /** CPU µs per signal: the hubs together, Redis, the load generator. */
  perSignal: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });

function post(url: string, path: string, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve) => {
    const u = new URL(path, url);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { ...headers, 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

const MARKER = Buffer.from(';b=');

/** Follows `GET /v1/stream` and calls `onMarker(k)` for each `;b=k` it sees in a presence event. */
function follow(url: string, onMarker: (k: number) => void): () => void {
  const u = new URL('/v1/stream', url);
  const req = request({ host: u.hostname, port: u.port, path: u.pathname, headers: { Authorization: `Bearer ${ADMIN}`, Accept: 'text/event-stream' } }, (res) => {
    // Scanned as bytes: decoding and a regular expression over every frame cost this process (which
    // shares the cores with the hubs) more than the rest of its work.
    res.on('data', (chunk: Buffer) => {
      for (let i = chunk.indexOf(MARKER); i >= 0; i = chunk.indexOf(MARKER, i + MARKER.length)) {
        let k = 0;
        let j = i + MARKER.length;
        for (; j < chunk.length && chunk[j]! >= 48 && chunk[j]! <= 57; j++) k = k * 10 + chunk[j]! - 48;
        if (j > i + MARKER.length) onMarker(k);
      }
    });
  });
  req.on('error', () => undefined);
  req.end();
  return () => req.destroy();
}

async function seed(url: string, people: number): Promise<{ keyId: string; secret: string }> {
  await hubCall(url, 'PUT', '/v1/tenant', { name: 'Bench', settings: { allowPrivateTargets: true, wrapUpSeconds: 0 } });
  const doc = {
    tenant: 'acme',
    people: Array.from({ length: people }, (_, i) => ({ id: `p${i}`, name: `P ${i}`, devices: [{ id: `d${i}`, kind: 'desk' }] })),
  };
  const applied = await hubCall(url, 'POST', '/v1/directory/apply', doc);
  if (applied.status >= 300) throw new Error(`directory apply: ${applied.status} ${JSON.stringify(applied.body)}`);
  const key = await hubCall(url, 'POST', '/v1/keys', { name: 'pbx', role: 'pbx' });
  return { keyId: key.body.signingKeyId, secret: key.body.secret };
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
    return (f[11]! + f[12]!) / 100;
  } catch {
    return NaN;
  }
}

/** System calls a process has made so far (all its threads): reads, writes. From /proc (Linux). */
function syscalls(pid: number): [number, number] {
  try {
    const text = readFileSync(`/proc/${pid}/io`, 'latin1');
    return [Number(/^syscr: (\d+)/m.exec(text)?.[1]), Number(/^syscw: (\d+)/m.exec(text)?.[1])];
  } catch {
    return [NaN, NaN];
  }
}

async function load(name: string, urls: string[], key: { keyId: string; secret: string }, pids: number[]): Promise<Run> {
  const groups = PEOPLE / BATCH;
  const sentAt = new Map<number, number>();
  const seen = new Set<number>();
  const sse: number[] = [];
  let measuring = false;
  // One SSE client, on the first replica, whatever the number of replicas: the same output work in
  // every run, and with three replicas two thirds of the changes cross from another replica.
  const stops = urls.slice(0, 1).map((u) =>
    follow(u, (k) => {
      if (seen.has(k)) return;
      seen.add(k);
      const t = sentAt.get(k);
      if (t !== undefined) sse.push(performance.now() - t);
    }),
  );
  await sleep(500);
  let k = 0;
  let lastAt = 0;
  let done = 0;
  let errors = 0;
  /** HTTP status (0: no answer) → count, of the requests that failed. */
  const failures = new Map<number, number>();
  const http: number[] = [];
  const t0 = performance.now();
  const start = t0 + WARMUP_MS;
  const end = start + DURATION_MS;
  const sender = async () => {
    const connections: (RawHttpConnection | undefined)[] = urls.map(() => undefined);
    const keyHeaders = `Content-Type: application/json\r\nX-Presence-Key-Id: ${key.keyId}\r\n`;
    while (performance.now() < end) {
      const n = k++;
      const g = n % groups;
      const at = (lastAt = Math.max(Date.now(), lastAt + 1));
      let events = '';
      for (let j = 0; j < BATCH; j++) {
        const d = `d${g * BATCH + j}`;
        events += `${j ? ',' : ''}{"type":"registered","device":"${d}","at":${at},"expiresSec":3600,"contact":"sip:${d}@10.1.0.1;b=${n}"}`;
      }
      const body = `{"events":[${events}]}`;
      const ts = String(Math.floor(Date.now() / 1000));
      const s = performance.now();
      measuring = s >= start;
      if (measuring) sentAt.set(n, s);
      const r = LOAD_ON_FIRST ? 0 : n % urls.length;
      let connection = connections[r];
      if (!connection?.usable) connection = connections[r] = await RawHttpConnection.connect(urls[r]!).catch(() => undefined);
      const status = connection
        ? await connection.post('/v1/pbx/events', `${keyHeaders}X-Presence-Timestamp: ${ts}\r\nX-Presence-Signature: ${signPbxRequest(key.secret, ts, body)}\r\n`, body)
        : 0;
      const e = performance.now();
      if (s >= start && e <= end) {
        if (status === 200) {
          done++;
          http.push(e - s);
        } else {
          errors++;
          failures.set(status, (failures.get(status) ?? 0) + 1);
        }
      }
    }
    for (const c of connections) c?.close();
  };
  // Who used the two cores during the window: the hubs, Redis, and this load generator.
  let cpu0: number[] = [];
  let io0: [number, number][] = [];
  let own0 = 0;
  const at = setTimeout(() => {
    cpu0 = pids.map(cpuSeconds);
    io0 = pids.map(syscalls);
    own0 = process.cpuUsage().user + process.cpuUsage().system;
  }, WARMUP_MS);
  await Promise.all(Array.from({ length: CONCURRENCY }, sender));
  clearTimeout(at);
  if (failures.size > 0) console.log(`  ${name}: failed requests by status: ${[...failures].map(([s, n]) => `${s} × ${n}`).join(', ')}`);
  const cores = (pids.map(cpuSeconds).map((c, i) => c - cpu0[i]!)).map((c) => c / (DURATION_MS / 1000));
  const io = pids.map(syscalls).map(([r, w], i) => [r - io0[i]![0], w - io0[i]![1]] as const);
  const own = (process.cpuUsage().user + process.cpuUsage().system - own0) / 1e6 / (DURATION_MS / 1000);
  const cpu = `hubs ${cores.slice(0, urls.length).map((c) => c.toFixed(2)).join(' + ')}${pids.length > urls.length ? `, redis ${cores[urls.length]!.toFixed(2)}` : ''}, load generator ${own.toFixed(2)} cores`;
  const signals = (done * BATCH) / (DURATION_MS / 1000);
  const us = (c: number) => ((c * 1e6) / signals).toFixed(0);
  const hubCores = cores.slice(0, urls.length);
  const calls = ([r, w]: readonly [number, number]) => `${(r / (signals * (DURATION_MS / 1000))).toFixed(2)}/${(w / (signals * (DURATION_MS / 1000))).toFixed(2)}`;
  const perSignal =
    `hubs ${us(hubCores.reduce((a, b) => a + b, 0))} (${hubCores.map(us).join(' + ')})${pids.length > urls.length ? `, redis ${us(cores[urls.length]!)}` : ''}, load generator ${us(own)} µs; ` +
    `read/write system calls: hubs ${io.slice(0, urls.length).map(calls).join(' + ')}${pids.length > urls.length ? `, redis ${calls(io[urls.length]!)}` : ''}`;
  await sleep(2000);
  for (const stop of stops) stop();
  return {
    perSignal,
    name,
    signalsPerSec: (done * BATCH * 1000) / DURATION_MS,
    http: { p50: quantile(http, 0.5), p99: quantile(http, 0.99) },
    sse: { p50: quantile(sse, 0.5), p99: quantile(sse, 0.99), n: sse.length },
    errors,
    cpu,
  };
}

async function cluster(n: number, redis: RunningRedis | undefined): Promise<{ hubs: Hubs; urls: string[] }> {
  const hubs = await startHubs(n, redis?.url, { LOG_LEVEL: 'info', PUBLISH_COALESCE_MS: '1000', ...BENCH_REQUEST_LIMITS }, PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []);
  // A profile is written when the process exits on its own, not on SIGKILL.
  if (PROFILE_DIR) hubs.stop = async () => void (await Promise.all(hubs.procs.map((p) => p.stop())));
  return { hubs, urls: hubs.procs.map((p) => p.url) };
}

await header('Scale-out: one hub vs three hubs sharing Redis; Redis memory per person');
console.log(`${PEOPLE} people with desk phones; ${CONCURRENCY} closed-loop senders in this process, ${BATCH}-event PBX batches ${LOAD_ON_FIRST ? 'all to the first replica (--load-on-first: the others only tail the feed)' : 'round robin over the replicas'}; warm-up ${WARMUP_MS} ms, window ${DURATION_MS} ms; one SSE client, on the first replica\n`);

const runs: Run[] = [];
for (const [name, n, redis] of [
  ...(REDIS_ONLY ? [] : ([['1 hub, embedded store', 1, false]] as const)),
  ['1 hub on Redis', 1, true],
  ['3 hubs on Redis', 3, true],
] as const) {
  const r = redis ? await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'] }) : undefined;
  const { hubs, urls } = await cluster(n, r);
  try {
    const key = await seed(urls[0]!, PEOPLE);
    await sleep(1000);
    const stats = r ? new Redis(r.url) : undefined;
    await stats?.config('RESETSTAT');
    const run = await load(name, urls, key, [...hubs.procs.map((p) => p.child.pid!), ...(r ? [r.pid] : [])]);
    runs.push(run);
    if (stats) {
      // Where the Redis work goes: commands per signal sent in the measured window and the warm-up.
      const lines = (await stats.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat_'));
      const signals = (run.signalsPerSec * (DURATION_MS + WARMUP_MS)) / 1000;
      console.log(`  ${name}: Redis calls per signal: ${lines.map((l) => { const m = /cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(l)!; return `${m[1]} ${(Number(m[2]) / signals).toFixed(2)} (${(Number(m[3]) / Number(m[2])).toFixed(0)} µs)`; }).join(', ')}`);
      // Socket reads: one per write a client flushed (its pipeline), whatever the number of commands in it.
      const reads = Number(/total_reads_processed:(\d+)/.exec(await stats.info('stats'))?.[1]);
      console.log(`  ${name}: Redis socket reads per signal: ${(reads / signals).toFixed(2)}`);
      stats.disconnect();
    }
  } finally {
    await hubs.stop();
    await r?.stop();
  }
}

table(
  ['run', 'signals/s', 'HTTP p50/p99 ms', 'SSE p50/p99 ms (n)', 'errors', 'CPU in the window'],
  runs.map((r) => [r.name, r.signalsPerSec, `${fmt(r.http.p50)} / ${fmt(r.http.p99)}`, `${fmt(r.sse.p50)} / ${fmt(r.sse.p99)} (${r.sse.n})`, r.errors, r.cpu]),
);
console.log('\nCPU per signal in the window:');
for (const r of runs) console.log(`  ${r.name}: ${r.perSignal}`);
if (PROFILE_DIR) console.log(`\nCPU profiles of the hubs: ${PROFILE_DIR}`);
const one = runs.at(-2)!;
const three = runs.at(-1)!;
const ratio = three.signalsPerSec / one.signalsPerSec;
console.log(`\nthree / one on Redis: ${ratio.toFixed(2)} (target >= 1.3: ${ratio >= 1.3 ? 'met' : 'MISSED'})`);

/** Redis memory per person with state (a registered desk phone). */
async function memory(): Promise<number> {
  const redis = await startRedis();
  const { hubs, urls } = await cluster(1, redis);
  const c = new Redis(redis.url);
  try {
    const used = async () => Number(/used_memory:(\d+)/.exec(await c.info('memory'))![1]);
    const before = await used();
    const key = await seed(urls[0]!, MEMORY_PEOPLE);
    const afterDirectory = await used();
    for (let g = 0; g < MEMORY_PEOPLE / 100; g++) {
      const at = Date.now();
      const body = JSON.stringify({ events: Array.from({ length: 100 }, (_, j) => ({ type: 'registered', device: `d${g * 100 + j}`, at, expiresSec: 3600 })) });
      const ts = String(Math.floor(Date.now() / 1000));
      await post(urls[0]!, '/v1/pbx/events', { 'Content-Type': 'application/json', 'X-Presence-Key-Id': key.keyId, 'X-Presence-Timestamp': ts, 'X-Presence-Signature': signPbxRequest(key.secret, ts, body) }, body);
    }
    // Everything Redis holds per tracked person: the state hash and its entries in the indexes. The feed
    // is a bounded stream whatever the number of people, so it is reported apart.
    const usage = async (k: string) => Number(await c.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'));
    const stateKeys = await c.keys('ph:state:acme:*');
    let states = 0;
    for (const k of stateKeys) states += await usage(k);
    const indexes = (await usage('ph:states:acme')) + (await usage('ph:due'));
    const stream = await usage('ph:feed');
    const after = await used();
    const perPerson = (states + indexes) / stateKeys.length;
    const stateKey = states / stateKeys.length;
    const directoryPerPerson = (afterDirectory - before) / MEMORY_PEOPLE;
    const delta = (after - afterDirectory - stream) / MEMORY_PEOPLE;
    console.log(
      `\nRedis memory, ${stateKeys.length} people with a registered desk phone (MEMORY USAGE … SAMPLES 0): ${fmt(perPerson)} B per tracked person ` +
        `(state hash ${fmt(stateKey)} B + index entries ${fmt(indexes / stateKeys.length)} B); INFO used_memory grew ${fmt(delta)} B per person besides the feed stream (${fmt(stream)} B); ` +
        `directory records (person + desk phone): ${fmt(directoryPerPerson)} B per person`,
    );
    return perPerson;
  } finally {
    c.disconnect();
    await hubs.stop();
    await redis.stop();
  }
}

const perPerson = REDIS_ONLY ? undefined : await memory();

const rows: SummaryRow[] = [
  { benchmark: 'scale-out', metric: '1 hub on Redis: signals/s', value: one.signalsPerSec, unit: '/s' },
  { benchmark: 'scale-out', metric: '3 hubs on Redis: signals/s', value: three.signalsPerSec, unit: '/s' },
  { benchmark: 'scale-out', metric: '3 hubs / 1 hub on Redis', value: ratio, unit: '', target: '>= 1.3', met: ratio >= 1.3 },
  { benchmark: 'scale-out', metric: '1 hub on Redis: SSE p99', value: one.sse.p99, unit: 'ms' },
  { benchmark: 'scale-out', metric: '3 hubs on Redis: SSE p99', value: three.sse.p99, unit: 'ms' },
  ...(perPerson === undefined ? [] : [{ benchmark: 'scale-out', metric: 'Redis memory per tracked person', value: perPerson, unit: 'B', target: '<= 1024', met: perPerson <= 1024 }]),
];
record(rows);
agent.destroy();
