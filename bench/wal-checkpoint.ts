/**
 * Main-thread stalls of the embedded store under a write-heavy load, with SQLite's automatic checkpoint
 * on the main connection (as before) and with checkpoints on their own thread (`checkpointer.ts`).
 * The load is what a PBX at 30 k signals/s leaves on disk: phones' registrations of 20,000 people kept
 * behind (`kept-signals.ts`) and a delivery ledger entry per change, both written behind each 100 ms.
 * A 1 ms timer measures how late it fires, and each write-behind transaction is timed: a checkpoint
 * inside a commit shows as a late tick and a long transaction.
 *
 *   npx tsx bench/wal-checkpoint.ts [seconds per mode, default 10] [updates offered a second, default 30000]
 */
import type Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Signal } from '../shared/domain/signal.js';
import { EmbeddedStore } from '../shared/store/embedded/embedded-store.js';
import { Interference, header, pct, quantiles, record, sleep, table } from './lib/report.js';

const PEOPLE = 20_000;
// Offered updates a second: the second argument, 30,000 by default.
const PER_SECOND = Number(process.argv[3] ?? 30_000);
const TICK_MS = 2;

interface Outcome {
  mode: string;
  late: Float64Array;
  commits: Float64Array;
  updates: number;
  over10: number;
  mainCheckpoints: number | string;
  /** The largest WAL seen (sampled every 50 ms): past `JOURNAL_SIZE_LIMIT` it did not start again. */
  walMb: number;
  others: number | undefined;
}

async function run(mode: 'automatic' | 'thread', seconds: number): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'ph-bench-wal-'));
  const store = new EmbeddedStore(join(dir, 'db.sqlite'));
  if (mode === 'automatic') {
    // As before: no thread, and SQLite's default checkpoint inside the commit that passes 1,000 pages.
    await store.directory.checkpointer!.close();
    (store.directory as unknown as { db: Database.Database }).db.pragma('wal_autocheckpoint = 1000');
  }
  const registered = (i: number, at: number): Signal => ({
    id: `pbx:reg:d${i}`,
    source: 'pbx',
    observedAt: at,
    claim: { kind: 'endpoint', endpoint: { id: `d${i}`, kind: 'desk', contact: `sip:p${i}@192.0.2.10:5060;transport=udp` }, reachable: true },
  });
  // Each write-behind transaction, timed (the writers' `flush`, private, wrapped here).
  const commits: number[] = [];
  for (const writer of [store.directory.signals, store.deliveries] as unknown as Array<{ flush: () => unknown }>) {
    const flush = writer.flush.bind(writer);
    writer.flush = () => {
      const t = performance.now();
      const r = flush();
      commits.push(performance.now() - t);
      return r;
    };
  }
  let n = 0;
  const load = setInterval(() => {
    const at = Date.now();
    for (let k = 0; k < (PER_SECOND * TICK_MS) / 1000; k++, n++) {
      const i = n % PEOPLE;
      void store.state.update('acme', `p${i}`, () => ({ next: { signals: [registered(i, at + n)] }, result: undefined }));
      void store.deliveries.record('acme', 'kam', `p${i}`, { version: n, mark: at, rendering: 'r', address: `{"etag":"e${n}"}` });
    }
  }, TICK_MS);

  const late: number[] = [];
  let expected = performance.now() + 1;
  const probe = setInterval(() => {
    const t = performance.now();
    late.push(Math.max(0, t - expected));
    expected = t + 1;
  }, 1);
  await sleep(2000); // warm-up: the WAL fills once before the window
  late.length = 0;
  commits.length = 0;
  const others = new Interference();
  const start = n;
  let wal = 0;
  const sample = setInterval(() => {
    try {
      wal = Math.max(wal, statSync(`${join(dir, 'db.sqlite')}-wal`).size);
    } catch {
      // Between a reset and the next commit there may be none.
    }
  }, 50);
  await sleep(seconds * 1000);
  clearInterval(sample);
  clearInterval(load);
  clearInterval(probe);
  const out: Outcome = {
    mode,
    late: Float64Array.from(late),
    commits: Float64Array.from(commits),
    updates: n - start,
    over10: late.filter((x) => x > 10).length,
    mainCheckpoints: mode === 'thread' ? store.directory.checkpointer!.runs.main : 'each 1,000 pages',
    others: others.share(),
    walMb: wal / 2 ** 20,
  };
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return out;
}

const seconds = Number(process.argv[2] ?? 10);
await header('WAL checkpoints: main-thread stalls under write-behind load');
const rows: Array<Array<string | number>> = [];
for (const mode of ['automatic', 'thread'] as const) {
  const o = await run(mode, seconds);
  const [p50, p99, p999, max] = quantiles(o.late, [0.5, 0.99, 0.999, 1]);
  const inCommits = o.commits.reduce((a, b) => a + b, 0) / seconds;
  const longCommits = o.commits.filter((x) => x > 10).length;
  const [c99, cMax] = quantiles(o.commits, [0.99, 1]);
  rows.push([o.mode, o.updates / seconds, p50!, p99!, p999!, max!, o.over10, o.commits.length, inCommits, longCommits, c99!, cMax!, String(o.mainCheckpoints), o.walMb, pct(o.others)]);
  record([{ benchmark: 'wal-checkpoint', metric: `${mode}: 1 ms timer lateness max`, value: max!, unit: 'ms' }]);
}
table(['checkpoints', 'updates/s', 'timer late p50 ms', 'p99', 'p99.9', 'max', 'ticks > 10 ms', 'transactions', 'ms in them per s', '> 10 ms', 'p99 ms', 'max ms', 'main-thread checkpoints', 'largest WAL MB', 'others'], rows);
