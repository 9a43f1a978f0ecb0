import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startService } from '../support/service-process.js';

describe('start-up on a port already taken', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-listen-'));
  let taken: Server | undefined;
  afterAll(async () => {
    await new Promise((resolve) => (taken ? taken.close(resolve) : resolve(undefined)));
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits with an error that says why, instead of logging that it listens and exiting 0', async () => {
    taken = createServer();
    const port = await new Promise<number>((resolve) => taken!.listen(0, '127.0.0.1', () => resolve((taken!.address() as { port: number }).port)));
    const started = startService({ DATA_DIR: dir, PORT: String(port) });
    await expect(started).rejects.toThrow(/^service exited with 1:[\s\S]*EADDRINUSE[\s\S]*cannot listen/);
  });
});
