/**
 * One memory measurement in a clean process: `node --expose-gc --import tsx bench/memory-child.ts <people>`.
 * Prints one JSON line (the last line of stdout). Driven by bench/memory.ts.
 */
import type { Device, Person } from '../shared/domain/directory.js';
import type { Signal } from '../shared/domain/signal.js';
import type { WriteOp } from '../shared/store/port.js';
import { heartbeatChange } from '../services/connectors/mobile/map.js';
import { pbxEventChanges } from '../services/connectors/pbx/map.js';
import { TENANT, benchPerson, deskId, mobileId, personId, startBenchHub } from './lib/hub.js';
import { HOUR, MIN } from './lib/people.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const N = Number(process.argv[2] ?? 10_000);

async function settle(): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage();
}

const h = await startBenchHub();
const { engine, config, store } = h.running.hub;

function directoryOf(i: number): { person: Person; desk: Device; mobile: Device } {
  const person = benchPerson(i);
  const desk: Device = { personId: person.id, kind: 'desk', contact: `sip:p${i}@192.0.2.${i % 250}`, id: deskId(i), tenantId: TENANT };
  const mobile: Device = { personId: person.id, kind: 'mobile', id: mobileId(i), tenantId: TENANT, tokenHash: `${String(i).padStart(8, '0')}${'ab'.repeat(28)}`, tokenIssuedAt: Date.now() };
  return { person, desk, mobile };
}

/** Three live signals through the connectors' own mapping, applied through the engine (the real path). */
async function track(i: number): Promise<void> {
  const { person, desk, mobile } = directoryOf(i);
  const now = Date.now();
  const reg = pbxEventChanges({ type: 'registered', device: desk.id, at: now - 1000, expiresSec: 3600 }, { id: desk.id, kind: 'desk', contact: desk.contact! }, now - 1000, 0);
  const hb = heartbeatChange({ state: 'background' }, mobile, person, config.heartbeat, now);
  const from = now + HOUR + (i % 60) * MIN;
  const meeting: Signal = { id: `outlook:evt:AAMkAG${String(i).padStart(10, '0')}`, source: 'outlook', claim: { kind: 'calendar', activity: 'in-meeting' }, observedAt: now - HOUR, from, until: from + 30 * MIN };
  await engine.apply(TENANT, person.id, [...reg, hb, { op: 'put', signal: meeting }]);
}

// Warm up every code path on people outside the measured range, so the baseline holds the compiled code.
for (let i = 0; i < 500; i++) await track(10_000_000 + i);
const base = await settle();

const t0 = performance.now();
for (let i = 0; i < N; i++) await track(i);
const applyMs = performance.now() - t0;
const state = await settle();

const stored = await engine.read(TENANT, personId(0));
const sample = {
  signals: stored.signals.length,
  explanation: stored.presence!.explanation.length,
  json: JSON.stringify(stored.presence).length,
  activity: stored.presence!.activity,
  next: stored.presence!.next?.activity,
};

// Then the directory records a tracked person also has (person, desk phone, mobile app).
const t1 = performance.now();
for (let start = 0; start < N; start += 2000) {
  const ops: WriteOp[] = [];
  for (let i = start; i < Math.min(N, start + 2000); i++) {
    const { person, desk, mobile } = directoryOf(i);
    ops.push({ op: 'put', collection: 'people', doc: person }, { op: 'put', collection: 'devices', doc: desk }, { op: 'put', collection: 'devices', doc: mobile });
  }
  await store.directory.write(ops);
}
const dirMs = performance.now() - t1;
const withDir = await settle();

const timeline = engine.timeline as unknown as { pending: number; heap: { size: number; items: unknown[] }; byPerson: Map<string, unknown> };
const pending = timeline.pending;
const heapEntries = timeline.heap.size;

// Breakdown (diagnostic): take the stored state apart piece by piece and see what each piece held.
const people = (store.state as unknown as { byTenant: Map<string, Map<string, { signals: Signal[]; presence?: unknown }>> }).byTenant.get(TENANT)!;
engine.stop();
timeline.byPerson.clear();
timeline.heap.items.length = 0;
const noTimeline = await settle();
// The change feed keeps the last FEED_BUFFER_EVENTS changes for Last-Event-ID resume: a fixed cost, not per person.
(h.running.hub.feed as unknown as { tenants: Map<string, { history: unknown[] }> }).tenants.get(TENANT)!.history.length = 0;
const noFeed = await settle();
// The presence keeps no explanation, only what works it out on reading (see explainLater in shared/merge).
for (const st of people.values()) delete st.presence;
const noPresence = await settle();
const breakdown = {
  timeline: (withDir.heapUsed - noTimeline.heapUsed) / N,
  feedHistory: (noTimeline.heapUsed - noFeed.heapUsed) / N,
  presence: (noFeed.heapUsed - noPresence.heapUsed) / N,
  signalsAndMapEntry: (noPresence.heapUsed - (withDir.heapUsed - state.heapUsed) - base.heapUsed) / N,
};

console.log(
  JSON.stringify({
    people: N,
    base,
    state,
    withDir,
    applyMs,
    dirMs,
    pending,
    heapEntries,
    breakdown,
    sample,
  }),
);
await h.stop();

