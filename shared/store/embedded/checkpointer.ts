import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CheckpointReport, CheckpointWorkerData } from './checkpoint-worker.js';

export interface CheckpointOptions {
  /** How often the thread copies the WAL into the database. */
  everyMs?: number;
  /** WAL size past which the main thread checkpoints itself: the thread is dead, restarting or behind. */
  maxWalBytes?: number;
  /** How often the main thread looks at the WAL's size. */
  watchMs?: number;
  /** Where a thread that died is reported. */
  log?: Logger;
}

const EVERY_MS = 500;
/** 16 times SQLite's automatic checkpoint (1,000 pages of 4 KiB): reached only when the thread is not doing its work. */
const MAX_WAL_BYTES = 64 << 20;
const WATCH_MS = 1000;
/** A thread that died is started again after this long (its file unreadable, out of memory), doubled while it keeps dying. */
const RESTART_MS = 1000;
const RESTART_MAX_MS = 60_000;
/** How long a close waits for the thread's last checkpoint before it stops the thread. */
const CLOSE_WAIT_MS = 10_000;

/**
 * Checkpoints of the embedded store's WAL, off the main thread. SQLite's automatic checkpoint runs in
 * the commit that takes the WAL past 1,000 pages, on the main thread: 15–20 ms each under a PBX load of
 * 20–30 k signals/s, every transition and request waiting behind it. The main connection has it off
 * (`wal_autocheckpoint=0`) and a worker thread with a connection of its own runs PASSIVE checkpoints
 * instead. Durability is unchanged: a commit is in the WAL when acknowledged, whoever copies it later.
 *
 * The WAL cannot grow without bound: a thread that dies is started again, and past `maxWalBytes` (a
 * thread dead or behind) the main thread checkpoints itself, a stall as before but rare. Under a sustained
 * write load the WAL starts again only at a transaction that begins with every frame copied, and PASSIVE
 * leaves the frames of a commit made while it runs (https://sqlite.org/c3ref/wal_checkpoint_v2.html): the
 * thread follows a pass with another at once while the WAL grew meanwhile (`checkpoint-worker.ts`); with
 * single passes the WAL reached 64 MB every 20–40 s at 30–40 k signals/s (a main-thread checkpoint of
 * about 40 ms), with the follow-up passes it stays under 30 MB (BENCHMARKS.md). On a reset the
 * writer truncates the WAL to `JOURNAL_SIZE_LIMIT` (`sqlite-directory.ts`), so its size tells whether
 * checkpoints keep up.
 */
export class Checkpointer {
  private worker: Worker | undefined;
  private closing = false;
  private restart: NodeJS.Timeout | undefined;
  private readonly watch: NodeJS.Timeout;
  private readonly everyMs: number;
  private readonly maxWalBytes: number;
  private readonly log: Logger | undefined;
  private restartMs = RESTART_MS;
  /** Checkpoints run so far, by the thread and by the main thread (for tests and benchmarks). */
  readonly runs = { thread: 0, main: 0 };
  /** The thread's last answer. */
  last: CheckpointReport | undefined;

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    opts: CheckpointOptions = {},
  ) {
    this.everyMs = opts.everyMs ?? EVERY_MS;
    this.maxWalBytes = opts.maxWalBytes ?? MAX_WAL_BYTES;
    this.log = opts.log;
    this.spawn();
    // Real time, not the service's clock: this paces disk work, it decides nothing.
    this.watch = setInterval(() => this.checkSize(), opts.watchMs ?? WATCH_MS).unref();
  }

  private spawn(): void {
    const worker = startThread({ path: this.path, everyMs: this.everyMs });
    worker.on('message', (r: CheckpointReport) => {
      this.restartMs = RESTART_MS;
      this.runs.thread++;
      this.last = r;
    });
    let failure: string | undefined;
    // An uncaught error in the thread ends it: `exit` follows and starts another.
    worker.on('error', (err) => (failure = err.message));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      if (this.closing) return;
      this.log?.warn({ err: failure, code, restartInMs: this.restartMs }, 'the WAL checkpoint thread stopped; starting it again');
      this.restart = setTimeout(() => this.spawn(), this.restartMs).unref();
      this.restartMs = Math.min(2 * this.restartMs, RESTART_MAX_MS);
    });
    // A store left open must not hold the process: `close` stops the thread. After the listeners: a
    // 'message' listener added to an unreferenced worker references it again.
    worker.unref();
    this.worker = worker;
  }

  private checkSize(): void {
    let size: number;
    try {
      size = statSync(`${this.path}-wal`).size;
    } catch {
      return;
    }
    if (size <= this.maxWalBytes) return;
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
      this.runs.main++;
    } catch {
      // Tried again at the next look.
    }
  }

  /** Stops the thread after its last checkpoint, before the main connection closes. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.watch);
    clearTimeout(this.restart);
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('close');
    const stuck = setTimeout(() => void worker.terminate(), CLOSE_WAIT_MS);
    await exited;
    clearTimeout(stuck);
  }
}

/**
 * The thread's module sits beside this one: `.js` in the build (`node dist/...`), `.ts` from the sources
 * (tsx, vitest). Node 20 gives a worker none of tsx's loader hooks (`--import tsx` in its `execArgv`
 * registers nothing there), so from the sources tsx's in-thread CommonJS hook loads it.
 */
function startThread(workerData: CheckpointWorkerData): Worker {
  const ext = extname(fileURLToPath(import.meta.url));
  const entry = fileURLToPath(new URL(`./checkpoint-worker${ext}`, import.meta.url));
  if (ext === '.js') return new Worker(entry, { workerData });
  const tsx = createRequire(import.meta.url).resolve('tsx/cjs/api');
  return new Worker(`require(${JSON.stringify(tsx)}).register(); require(${JSON.stringify(entry)});`, { eval: true, workerData });
}
