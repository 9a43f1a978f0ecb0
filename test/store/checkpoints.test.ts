import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { Person } from '../../shared/domain/directory.js';
import type { CheckpointOptions } from '../../shared/store/embedded/checkpointer.js';
import { SqliteDirectory } from '../../shared/store/embedded/sqlite-directory.js';
import { eventually } from '../support/receiver.js';

/** SQLite's automatic checkpoint: the commit that takes the WAL past 1,000 pages (of 4 KiB) copies it. */
const AUTOCHECKPOINT_BYTES = 1000 * 4096;
const HOUR = 3_600_000;

describe('embedded store: WAL checkpoints on a thread of their own', () => {
  let dir = '';
  let db: SqliteDirectory | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
    rmSync(dir, { recursive: true, force: true });
  });
  const open = (checkpoints: CheckpointOptions) => {
    dir = mkdtempSync(join(tmpdir(), 'ph-wal-'));
    db = new SqliteDirectory(join(dir, 'db.sqlite'), checkpoints);
    return db;
  };
  const walBytes = () => statSync(join(dir, 'db.sqlite-wal')).size;
  const person = (i: number): Person => ({ id: `p${i}`, tenantId: 'a', name: `${i}`.padEnd(3000, '.'), timeZone: 'UTC', teams: [], skills: {}, sensitive: false });
  /** About `pages` pages of WAL, 50 documents a transaction, each transaction its own commit. */
  const fill = async (d: SqliteDirectory, pages: number, between?: () => Promise<void>) => {
    for (let i = 0; i < pages; i += 50) {
      await d.write(Array.from({ length: 50 }, (_, j) => ({ op: 'put' as const, collection: 'people' as const, doc: person(i + j) })));
      await between?.();
    }
  };

  it('the main connection never checkpoints: its WAL grows past the automatic checkpoint while the thread waits', async () => {
    const d = open({ everyMs: HOUR, maxWalBytes: 1 << 30 });
    await fill(d, 2500);
    expect(walBytes()).toBeGreaterThan(2 * AUTOCHECKPOINT_BYTES);
    expect(d.checkpointer!.runs).toEqual({ thread: 0, main: 0 });
  });

  it('the thread copies the WAL into the database, and the next commit starts the WAL again, truncated', async () => {
    const d = open({ everyMs: 50, maxWalBytes: 1 << 30 });
    await fill(d, 2500);
    // Once the thread has copied every frame, the next commit starts the WAL from its beginning.
    let more = 2500;
    await eventually(async () => {
      await d.write([{ op: 'put', collection: 'people', doc: person(more++) }]);
      expect(walBytes()).toBeLessThanOrEqual(4 << 20);
    }, 10_000);
    // The thread's report is a message: it may reach the main thread after the commit that saw the WAL reset.
    await eventually(() => expect(d.checkpointer!.runs.thread).toBeGreaterThan(0), 10_000);
    expect(d.checkpointer!.last).toMatchObject({ busy: 0 });
    expect(d.checkpointer!.runs.main).toBe(0);
    expect((await d.list('people', 'a')).length).toBe(more);
  });

  it('checkpoints on the main thread only past maxWalBytes, when the thread does not (dead or behind)', async () => {
    const d = open({ everyMs: HOUR, maxWalBytes: 1 << 20, watchMs: 10 });
    await fill(d, 2500, () => new Promise((r) => setTimeout(r, 15)));
    expect(d.checkpointer!.runs.main).toBeGreaterThan(0);
    expect(d.checkpointer!.runs.thread).toBe(0);
    // Each reset truncates it: it never holds much more than the limit and what came since the last look.
    expect(walBytes()).toBeLessThan(8 << 20);
  });

  it('starts a thread that died again', async () => {
    const d = open({ everyMs: 20, maxWalBytes: 1 << 30 });
    const held = d.checkpointer as unknown as { worker?: Worker };
    await eventually(() => expect(d.checkpointer!.runs.thread).toBeGreaterThan(0), 10_000);
    const first = held.worker!;
    await first.terminate();
    const before = d.checkpointer!.runs.thread;
    await eventually(() => {
      expect(held.worker).toBeDefined();
      expect(held.worker).not.toBe(first);
      expect(d.checkpointer!.runs.thread).toBeGreaterThan(before);
    }, 10_000);
  });

  it('a store left open does not hold the process: it exits when its own work is done', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ph-wal-'));
    const script = join(dir, 'left-open.mts');
    writeFileSync(
      script,
      `import { SqliteDirectory } from ${JSON.stringify(pathToFileURL(resolve('shared/store/embedded/sqlite-directory.ts')).href)};
      const d = new SqliteDirectory(${JSON.stringify(join(dir, 'db.sqlite'))}, { everyMs: 20 });
      const done = () => (d.checkpointer.runs.thread > 0 ? console.log('checkpointed') : setTimeout(done, 20));
      done();`,
    );
    const child = promisify(execFile)(process.execPath, ['--import', 'tsx', script], { timeout: 15_000 });
    await expect(child).resolves.toMatchObject({ stdout: 'checkpointed\n' });
  }, 30_000);

  it('on close the thread checkpoints and stops, and the WAL is gone; nothing is lost', async () => {
    const d = open({ everyMs: HOUR });
    const held = d.checkpointer as unknown as { worker?: Worker };
    await fill(d, 200);
    const worker = held.worker!;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    await d.close();
    db = undefined;
    await exited;
    expect(d.checkpointer!.last).toMatchObject({ busy: 0 });
    expect(existsSync(join(dir, 'db.sqlite-wal'))).toBe(false);
    db = new SqliteDirectory(join(dir, 'db.sqlite'));
    expect((await db.list('people', 'a')).length).toBe(200);
  });
});
