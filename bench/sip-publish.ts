/**
 * SIP PUBLISH throughput against a real Kamailio (kamailio/presence-server.cfg, digest auth on PUBLISH,
 * UDP loopback): Presence Hub's publisher (SipSink → RFC 3903 Publisher → UserAgentCore, one PUBLISH in
 * flight per presentity) against SIPp (test/support/sipp/publish-load.xml) driving the same Kamailio in
 * the same run, with the same presentity count, body size, transport and auth pattern.
 *
 *   npx tsx bench/sip-publish.ts [presentities …]     # default 64 1000
 *   npx tsx bench/sip-publish.ts --hub-only 200        # only the hub's phases (for node --cpu-prof)
 *   npx tsx bench/sip-publish.ts --shared-cores        # Kamailio and the client on the same cores (default: pinned apart)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Person } from '../shared/domain/directory.js';
import type { Presence } from '../shared/domain/presence.js';
import { systemClock } from '../shared/clock/clock.js';
import { silentLogger } from '../shared/log/logger.js';
import { buildPidf } from '../shared/sip/pidf.js';
import { UdpTransport } from '../shared/sip/udp-transport.js';
import type { PresenceEngine } from '../services/merger/engine.js';
import { MAX_PUBLISHES_IN_FLIGHT, SipSink } from '../services/publishers/sip/sip-sink.js';
import { SipStack } from '../services/publishers/sip/sip-stack.js';
import { haveBinary } from '../test/support/components.js';
import { startKamailio, type RunningKamailio } from '../test/support/kamailio.js';
import { freePort } from '../test/support/ports.js';
import { SCENARIO_DIR, spawnSipp } from '../test/support/sipp.js';
import { TENANT } from './lib/hub.js';
import { Interference, fmt, header, pct, record, table, type SummaryRow } from './lib/report.js';
import { cpuSampler, groupCpuMs, kamailioTarget, pinGroup, pinProcess, samplePresences, udpDrops } from './lib/sip.js';

const SCENARIO = 'publish-load.xml';
/** Modify PUBLISHes per presentity after the initial one: the literal in the scenario's loop test. */
const LOOPS = Number(/compare="less_than" value="(\d+)"/.exec(readFileSync(join(SCENARIO_DIR, SCENARIO), 'utf8'))![1]);
const SIZES = process.argv.slice(2).map(Number).filter((n) => n > 0);
const PRESENTITIES = SIZES.length > 0 ? SIZES : [MAX_PUBLISHES_IN_FLIGHT, 1000];
const HUB_ONLY = process.argv.includes('--hub-only');
/**
 * Kamailio's processes on CPU 0 and the client on CPU 1 (the default), as on a deployment where the presence
 * server and its publisher have machines of their own. On two shared cores the ratio measures the sum of
 * Kamailio's and the client's CPU per PUBLISH rather than how fast the client drives the server.
 */
const PIN = !process.argv.includes('--shared-cores');
const ROUNDS = 2;
/** Kamailio keeps each transaction (about 8 KB of shared memory) for tm's 5 s wait timer. */
const SHM_MB = 1024;

interface Phase {
  client: 'SIPp' | 'Presence Hub';
  presentities: number;
  transactions: number;
  ms: number;
  failed: number;
  retrans: number | undefined;
  /** Datagrams the kernel dropped at Kamailio's socket and at the client's (receive buffer full). */
  kamailioDrops: number;
  clientDrops: number;
  kamailioCpuMs: number;
  clientCpuMs: number;
  others: number | undefined;
}

/** Requests handed to the UDP socket (first sends and retransmissions), counted by wrapping the transport. */
let udpRequestsSent = 0;
const udpSend = UdpTransport.prototype.send;
UdpTransport.prototype.send = function (message, to) {
  if (message.kind === 'request') udpRequestsSent++;
  return udpSend.call(this, message, to);
};

const perSec = (p: Phase) => (p.transactions / p.ms) * 1000;

/**
 * One presentity per SIPp call: initial PUBLISH, 407, PUBLISH with credentials, then LOOPS modifies. At
 * most as many calls at once as the hub's sink has PUBLISHes in flight: with all 1,000 at once, Kamailio
 * fell behind, SIPp retransmitted and aborted calls on retransmission timeouts.
 */
async function sippPhase(kam: RunningKamailio, presentities: number, body: string): Promise<Phase> {
  const probe = new Interference();
  const kam0 = groupCpuMs(kam.pid);
  const sipp = await spawnSipp({
    scenario: SCENARIO,
    remote: kam,
    calls: presentities,
    rate: 100_000,
    trace: false,
    timeoutMs: 300_000,
    auth: { ...kam.credentials },
    extraArgs: ['-l', String(Math.min(presentities, MAX_PUBLISHES_IN_FLIGHT))],
    keys: { prefix: `sipp${Date.now() % 100000}x`, domain: kam.domain, expires: 600, body },
  });
  if (PIN) pinProcess(sipp.pid, 1);
  const cpu = cpuSampler(sipp.pid);
  const kamDrops0 = udpDrops(kam.port);
  let clientDrops = 0;
  const dropTimer = setInterval(() => (clientDrops = Math.max(clientDrops, udpDrops(sipp.localPort))), 100);
  const r = await sipp.done;
  clearInterval(dropTimer);
  const kamailioDrops = udpDrops(kam.port) - kamDrops0;
  const clientCpuMs = cpu.stop();
  const kamailioCpuMs = groupCpuMs(kam.pid) - kam0;
  // SIPp reprints its screens while it runs; the last scenario and statistics screens are the totals.
  const all = r.output.join('\n');
  const screen = all.slice(Math.max(0, all.lastIndexOf('Scenario Screen')));
  // SIPp's own clock: Start Time and Current Time of its final statistics screen (epoch seconds).
  const last = (re: RegExp) => Number([...screen.matchAll(re)].at(-1)?.[1]);
  // The line also carries the wall time (hh:mm:ss.micro): the epoch is the long number after it.
  const start = last(/Start Time\s*\|[^|]*?(\d{9,}\.\d+)/g);
  const end = last(/Current Time\s*\|[^|]*?(\d{9,}\.\d+)/g);
  const ms = Number.isFinite(start) && Number.isFinite(end) ? (end - start) * 1000 : r.durationMs;
  const rows = [...screen.matchAll(/^\s+(PUBLISH ---------->|\d{3} <----------)\s+(\d+)\s+(\d+)/gm)];
  const sent = rows.filter((m) => m[1]!.startsWith('PUBLISH')).reduce((a, m) => a + Number(m[2]), 0);
  const retrans = rows.reduce((a, m) => a + Number(m[3]), 0);
  const failed = last(/Failed call\s*\|\s*\d+\s*\|\s*(\d+)/g);
  if (r.exitCode !== 0) console.log(`  SIPp exit ${r.exitCode}:\n${r.output.slice(-30).join('\n')}`);
  const others = probe.share(clientCpuMs + kamailioCpuMs);
  return { client: 'SIPp', presentities, transactions: sent, ms, failed, retrans, kamailioDrops, clientDrops, kamailioCpuMs, clientCpuMs, others };
}

/** The hub's SIP sink: per presentity, one delivery after another (initial, then LOOPS modifies). */
async function hubPhase(kam: RunningKamailio, presentities: number, person: Person, presences: [Presence, Presence], run: number): Promise<Phase> {
  const port = await freePort();
  const stack = new SipStack({ host: '127.0.0.1', port }, systemClock, Math.random);
  const sends0 = udpRequestsSent;
  const core = await stack.get();
  // subscribeDialog is off, so the sink never feeds the engine.
  const sink = new SipSink(kamailioTarget(kam), kam.credentials.password, core, {} as PresenceEngine, silentLogger, []);
  const people = Array.from({ length: presentities }, (_, i): Person => ({ ...person, id: `hub${run}x${i}`, sipUri: `sip:hub${run}x${i}@${kam.domain}` }));
  let failed = 0;
  const kamDrops0 = udpDrops(kam.port);
  const probe = new Interference();
  const kam0 = groupCpuMs(kam.pid);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    people.map(async (p) => {
      for (let j = 0; j <= LOOPS; j++) {
        try {
          await sink.deliver({ tenantId: TENANT, personId: p.id, person: p, presence: presences[j % 2]!, version: j + 1 });
        } catch {
          failed++;
        }
      }
    }),
  );
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const sent = udpRequestsSent - sends0;
  const clientCpuMs = (cpu.user + cpu.system) / 1000;
  const perTx = (us: number) => (us / presentities / (LOOPS + 2)).toFixed(0);
  console.log(`  hub, ${presentities} presentities: CPU per PUBLISH ${perTx(cpu.user)} µs user + ${perTx(cpu.system)} µs system`);
  const kamailioCpuMs = groupCpuMs(kam.pid) - kam0;
  const others = probe.share(kamailioCpuMs);
  const kamailioDrops = udpDrops(kam.port) - kamDrops0;
  const clientDrops = udpDrops(port);
  await sink.close();
  await stack.close();
  // Each presentity: the challenged initial PUBLISH, its repeat with credentials, LOOPS modifies.
  const transactions = presentities * (LOOPS + 2);
  return { client: 'Presence Hub', presentities, transactions, ms, failed, retrans: sent - transactions, kamailioDrops, clientDrops, kamailioCpuMs, clientCpuMs, others };
}

await header('7. SIP PUBLISH throughput against Kamailio: Presence Hub publisher vs SIPp');
if (!haveBinary('kamailio') || !haveBinary('sipp')) {
  console.log('skipped: kamailio and sipp are needed (scripts/install-test-deps.sh)');
  process.exit(0);
}
const { person, presences } = await samplePresences();
const hubBody = buildPidf(presences[0], { entity: `sip:hub0x0@example.test`, tupleId: 'presence-hub', personId: 'p-presence-hub' });
// SIPp sends one body; the hub alternates two states. Same size: the first state's document.
const sippBody = hubBody.replace(/\n/g, '');
console.log(
  `Kamailio ${'kamailio/presence-server.cfg'} (2 UDP workers, -m ${SHM_MB}), UDP loopback, digest (qop=auth) on every PUBLISH; ` +
    `per presentity: initial PUBLISH → 407 → with credentials → 200, then ${LOOPS} modify PUBLISHes with SIP-If-Match, the full body ` +
    `and credentials up front (same nonce, nc+1); one PUBLISH in flight per presentity and at most ${MAX_PUBLISHES_IN_FLIGHT} at once (the hub's sink per target; SIPp -l). ${PIN ? 'Kamailio pinned to CPU 0, the client to CPU 1. ' : ''}Body ${Buffer.byteLength(hubBody)} B (hub) / ${Buffer.byteLength(sippBody)} B (SIPp).\n`,
);

const phases: Phase[] = [];
const kam = await startKamailio({ shmMb: SHM_MB });
if (PIN && !pinProcess(process.pid, 1)) throw new Error('pinning needs taskset (util-linux); or pass --shared-cores');
/** Restarts Kamailio (same port, no publications, no transactions in their wait state), pinned if asked. */
const freshKamailio = async () => {
  await kam.restart();
  if (PIN) pinGroup(kam.pid, 0);
};
try {
  let run = 0;
  // A hub runs for days: one unrecorded phase first, so the measured ones do not pay the JIT's warm-up
  // (SIPp, compiled ahead of time, has none).
  await freshKamailio();
  console.log('  (warm-up phase, not recorded:)');
  await hubPhase(kam, MAX_PUBLISHES_IN_FLIGHT, person, presences, run++);
  for (const n of PRESENTITIES) {
    for (let round = 0; round < ROUNDS; round++) {
      if (!HUB_ONLY) {
        await freshKamailio();
        phases.push(await sippPhase(kam, n, sippBody));
      }
      await freshKamailio();
      phases.push(await hubPhase(kam, n, person, presences, run++));
    }
  }
} finally {
  await kam.stop();
}

console.log('');
table(
  ['client', 'presentities', 'PUBLISH transactions', 'seconds', 'transactions/s', 'failed', 'retransmissions', 'UDP drops Kamailio / client', 'Kamailio CPU', 'client CPU', 'client CPU per PUBLISH', 'others'],
  phases.map((p) => [
    p.client,
    p.presentities,
    p.transactions,
    (p.ms / 1000).toFixed(2),
    perSec(p),
    p.failed,
    p.retrans === undefined ? '-' : p.retrans,
    `${p.kamailioDrops} / ${p.clientDrops}`,
    `${((p.kamailioCpuMs / p.ms) * 100).toFixed(0)} %`,
    `${((p.clientCpuMs / p.ms) * 100).toFixed(0)} %`,
    `${((p.clientCpuMs * 1000) / p.transactions).toFixed(0)} µs`,
    pct(p.others),
  ]),
);
console.log('Kamailio CPU: all its processes (2 UDP workers, 2 TCP workers, timers, main), share of one core; client CPU: SIPp process or this Node process');

const rows: SummaryRow[] = [];
for (const n of PRESENTITIES) {
  const best = (c: Phase['client']) => Math.max(...phases.filter((p) => p.client === c && p.presentities === n).map(perSec));
  const hub = best('Presence Hub');
  const sipp = best('SIPp');
  const ratio = hub / sipp;
  console.log(`${n} presentities: hub ${fmt(hub)}/s, SIPp ${fmt(sipp)}/s (best of ${ROUNDS}); ratio ${ratio.toFixed(2)} (target >= 0.9: ${ratio >= 0.9 ? 'met' : 'MISSED'})`);
  rows.push(
    { benchmark: 'sip-publish', metric: `SIPp PUBLISH/s, ${n} presentities`, value: sipp, unit: '/s' },
    { benchmark: 'sip-publish', metric: `hub PUBLISH/s, ${n} presentities`, value: hub, unit: '/s' },
    { benchmark: 'sip-publish', metric: `hub / SIPp, ${n} presentities`, value: ratio, unit: '', target: '>= 0.9', met: ratio >= 0.9 },
  );
}
record(rows);
