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

const checkpoint = (mode: 'PASSIVE' | 'TRUNCATE') => {
  try {
    port.postMessage((db.pragma(`wal_checkpoint(${mode})`) as CheckpointReport[])[0]);
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
