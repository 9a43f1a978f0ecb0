import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

/** What the embedded store's checkpoint thread is started with (`checkpointer.ts`). */
export interface CheckpointWorkerData {
  path: string;
  everyMs: number;
}

/** One checkpoint's answer, as SQLite gives it: WAL frames in all, and how many of them are now in the database. */
export interface CheckpointReport {
  busy: number;
  log: number;
  checkpointed: number;
}

/**
 * The checkpoint thread: its own connection to the embedded store's file, copying the WAL into the
 * database, so the main thread's commits never do it (`checkpointer.ts`). PASSIVE never waits for the
 * writer and never blocks it (https://sqlite.org/c3ref/wal_checkpoint_v2.html); on close, with the main
 * connection idle, TRUNCATE leaves an empty WAL behind.
 */
const port = parentPort!;
const { path, everyMs } = workerData as CheckpointWorkerData;
const db = new Database(path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');

/** Passes in a row at most, while commits keep coming: each copies only what the one before left. */
const PASSES = 8;

const run = (mode: 'PASSIVE' | 'TRUNCATE') => (db.pragma(`wal_checkpoint(${mode})`) as CheckpointReport[])[0]!;

/**
 * The WAL starts again only at a transaction that begins with every frame copied. A pass copies the
 * frames there were when it began and reports them all copied, but under steady writes a long pass
 * overlaps a commit whose frames it leaves: the WAL then only grows, to the main thread's limit. Passes
 * follow at once while the WAL grew during the one before; each is short, so one ends between two commits.
 */
const checkpoint = (mode: 'PASSIVE' | 'TRUNCATE') => {
  try {
    let r = run(mode);
    for (let pass = 1; mode === 'PASSIVE' && pass < PASSES && r.busy === 0; pass++) {
      const next = run(mode);
      if (next.busy !== 0 || next.log <= r.log) break;
      r = next;
    }
    port.postMessage(r);
  } catch {
    // A busy or failing file: the next run tries again (the main thread checkpoints itself past its limit).
  }
};

const timer = setInterval(() => checkpoint('PASSIVE'), everyMs);
port.on('message', (m) => {
  if (m !== 'close') return;
  clearInterval(timer);
  checkpoint('TRUNCATE');
  db.close();
  port.close();
});
