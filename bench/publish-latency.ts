/**
 * End-to-end latency from a PBX signal sent over HTTP (`POST /v1/pbx/events`, signed batches of 10 events,
 * and of 1, from a separate load-generator process) to the 200 OK of the PUBLISH that carries the new
 * state, through a hub in this process (engine → feed → pipeline → TargetRunner → SipSink) and a real
 * Kamailio (kamailio/presence-server.cfg, digest auth, UDP loopback), at a fixed 1,000 signals/s.
 *
 *   npx tsx bench/publish-latency.ts [signals/s …]     # default 1000
 */
import { performance } from 'node:perf_hooks';
import { pbxEventChanges } from '../services/connectors/pbx/map.js';
import type { Delivery } from '../services/publishers/sink.js';
import { SipSink } from '../services/publishers/sip/sip-sink.js';
import { haveBinary } from '../test/support/components.js';
import { startKamailio } from '../test/support/kamailio.js';
import { LoadGen } from './lib/loadgen-client.js';
import { ADMIN_KEY, TENANT, deskId, pbxKey, personId, seedPeople, startBenchHub } from './lib/hub.js';
import { Interference, fmt, header, pct, quantiles, record, sleep, stallProbe, table, type SummaryRow } from './lib/report.js';
import { groupCpuMs } from './lib/sip.js';

const WARMUP_MS = 1000;
const DURATION_MS = 8000;
const RATES = process.argv.slice(2).map(Number).filter((n) => n > 0);
/** Signals per second and events per request: a PBX batching its events, and one request per event. */
const PLAN = (RATES.length > 0 ? RATES : [1000]).flatMap((rate) => [
  { rate, batch: 10 },
  { rate, batch: 1 },
]);
const TARGET_P99_MS = 50;

/** When each person's PUBLISH carrying a new state got its 200 (epoch ms), recorded by wrapping the sink. */
const publishedAt = new Map<string, number[]>();
let recording = false;
const deliver = SipSink.prototype.deliver;
SipSink.prototype.deliver = async function (this: SipSink, d: Delivery) {
  await deliver.call(this, d);
  if (!recording) return;
  const at = performance.timeOrigin + performance.now();
  const list = publishedAt.get(d.personId);
  if (list) list.push(at);
  else publishedAt.set(d.personId, [at]);
};

await header('8. Signal → PUBLISH 200 OK latency, hub in process, real Kamailio');
if (!haveBinary('kamailio')) {
  console.log('skipped: kamailio is needed (scripts/install-test-deps.sh)');
  process.exit(0);
}
const maxRate = Math.max(...PLAN.map((p) => p.rate));
// Distinct people per signal: nobody changes twice within PUBLISH_COALESCE_MS (default 1 s), and each
// run signals people the runs before it did not (a person is in one run's range only).
const PER_RUN = Math.ceil((maxRate * (WARMUP_MS + DURATION_MS + 3000)) / 1000 / 100) * 100;
const PEOPLE = PER_RUN * PLAN.length;
console.log(
  `${fmt(PEOPLE)} people with registered desk phones, all published once before the run; each signal is a "ringing" event ` +
    `for a person not signalled before, so every signal is the first change after more than PUBLISH_COALESCE_MS (default 1 s) and ` +
    `goes out at once; latency = request sent (load generator) → 200 OK of that person's PUBLISH (hub); warm-up ${WARMUP_MS} ms, window ${DURATION_MS} ms\n`,
);

const kam = await startKamailio({ shmMb: 1024 });
const h = await startBenchHub({ SIP_HOST: '127.0.0.1', SIP_PORT: '0' });
const rows: Array<Array<string | number>> = [];
const summary: SummaryRow[] = [];
try {
  await seedPeople(h, PEOPLE, { desk: true });
  const { engine, pipeline } = h.running.hub;
  const at = Date.now();
  for (let i = 0; i < PEOPLE; i += 200) {
    const work: Array<Promise<unknown>> = [];
    for (let j = i; j < Math.min(PEOPLE, i + 200); j++) {
      const endpoint = { id: deskId(j), kind: 'desk' as const, contact: `sip:d${j}@192.0.2.10` };
      work.push(engine.apply(TENANT, personId(j), pbxEventChanges({ type: 'registered', device: deskId(j), at, expiresSec: 3600 }, endpoint, at, 0)));
    }
    await Promise.all(work);
  }
  const url = await h.listen();
  // Kamailio listens on loopback: a private target, which the tenant must allow.
  await fetch(`${url}/v1/tenant`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: TENANT, settings: { allowPrivateTargets: true, wrapUpSeconds: 0 } }),
  });
  const res = await fetch(`${url}/v1/targets/kam`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'sip', name: 'Kamailio', server: `sip:${kam.host}:${kam.port}`, transport: 'udp', domain: kam.domain, username: kam.credentials.user, password: kam.credentials.password, expiresSec: 3600 }),
  });
  if (res.status !== 201) throw new Error(`PUT /v1/targets/kam: ${res.status} ${await res.text()}`);
  const t0 = performance.now();
  while (pipeline.status(TENANT, 'kam')!.delivered < PEOPLE) {
    if (performance.now() - t0 > 120_000) throw new Error(`initial PUBLISHes: ${JSON.stringify(pipeline.status(TENANT, 'kam'))}`);
    await sleep(100);
  }
  console.log(`(initial PUBLISH of ${fmt(PEOPLE)} presentities, each challenged once: ${fmt((performance.now() - t0) / 1000)} s)`);
  await sleep(1500);
  const key = await pbxKey(h);
  let seq = 0;
  for (const [run, { rate, batch }] of PLAN.entries()) {
    publishedAt.clear();
    recording = true;
    const gen = new LoadGen();
    const probe = new Interference();
    const kam0 = groupCpuMs(kam.pid);
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const stalls = stallProbe();
    const w0 = performance.now();
    // Batch k carries people (k mod G) × batch … + batch − 1 of this run's range (G = PER_RUN / batch).
    const groups = PER_RUN / batch;
    const r = await gen.run({ url, ...key, people: PER_RUN, batchSize: batch, connections: 16, rate: rate / batch, warmupMs: WARMUP_MS, durationMs: DURATION_MS, seqStart: seq, recordSends: true, deviceOffset: run * PER_RUN });
    gen.close();
    await sleep(1000);
    recording = false;
    const wall = performance.now() - w0;
    const stall = stalls.stop();
    const cpu = process.cpuUsage(cpu0);
    const kamCpu = groupCpuMs(kam.pid) - kam0;
    const others = probe.share(r.cpuMs + kamCpu);
    const sends = r.sends ?? [];
    seq = r.seqEnd;
    // Skip the warm-up's first second.
    const latencies: number[] = [];
    let missing = 0;
    let extra = 0;
    const warmEnd = (sends[1] ?? 0) + WARMUP_MS;
    for (let x = 0; x < sends.length; x += 2) {
      const k = sends[x]!;
      const sentAt = sends[x + 1]!;
      for (let j = 0; j < batch; j++) {
        const done = publishedAt.get(personId(run * PER_RUN + (k % groups) * batch + j));
        if (!done) {
          missing++;
          continue;
        }
        if (done.length > 1) extra += done.length - 1;
        if (sentAt >= warmEnd) latencies.push(done[0]! - sentAt);
      }
    }
    const [p50, p90, p99, max] = quantiles(Float64Array.from(latencies), [0.5, 0.9, 0.99, 1]);
    rows.push([
      `${fmt(rate)} signals/s, ${batch} per request (${fmt(rate / batch)} requests/s)`,
      latencies.length,
      `${fmt(r.http.p50)} / ${fmt(r.http.p99)}`,
      `${fmt(p50!)} / ${fmt(p90!)} / ${fmt(p99!)} / ${fmt(max!)}`,
      `${missing} / ${extra}`,
      `${(((cpu.user + cpu.system) / 1000 / wall) * 100).toFixed(0)} %`,
      `${(performance.eventLoopUtilization(elu0).utilization * 100).toFixed(0)} %`,
      `${fmt(stall.loopP99)} / ${fmt(stall.loopMax)}`,
      fmt(stall.gcMax),
      `${((kamCpu / wall) * 100).toFixed(0)} %`,
      pct(others),
    ]);
    if (r.errors.length > 0) console.log(`  errors: ${r.errors.join(' | ')}`);
    if (r.skipped) console.log(`  ${r.skipped} signals not sent (all connections busy)`);
    summary.push(
      { benchmark: 'publish-latency', metric: `signal → PUBLISH 200 p50 at ${fmt(rate)}/s, batches of ${batch}`, value: p50!, unit: 'ms' },
      {
        benchmark: 'publish-latency',
        metric: `signal → PUBLISH 200 p99 at ${fmt(rate)}/s, batches of ${batch}`,
        value: p99!,
        unit: 'ms',
        target: `<= ${TARGET_P99_MS}`,
        met: p99! <= TARGET_P99_MS,
      },
    );
  }
} finally {
  await h.stop();
  await kam.stop();
}

console.log('');
table(['rate', 'samples', 'HTTP answer p50 / p99 ms', 'signal → PUBLISH 200 p50 / p90 / p99 / max ms', 'no PUBLISH / extra', 'hub CPU', 'hub loop busy', 'loop delay p99 / max ms', 'longest GC ms', 'Kamailio CPU', 'others'], rows);
console.log('hub and Kamailio CPU: share of one core; "no PUBLISH": signals whose person got no PUBLISH; "extra": more than one PUBLISH for a person');
record(summary);
