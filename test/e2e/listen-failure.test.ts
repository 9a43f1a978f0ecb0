import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';
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

describe('start-up while Redis cannot be reached', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-noredis-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits with 1 after its wait for Redis, saying why in a JSON log line like every other', async () => {
    // Nothing listens there: the port was free a moment ago and nobody took it.
    const redisPort = await freePort();
    const failure = await startService({ DATA_DIR: dir, REDIS_URL: `redis://127.0.0.1:${redisPort}` }).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(failure).toMatch(/^service exited with 1:/);
    const lines = failure!.split('\n').slice(1).filter((l) => l.trim() !== '');
    expect(lines.filter((l) => !l.startsWith('{'))).toEqual([]);
    const fatal = lines.map((l) => JSON.parse(l) as { level: number; msg: string; err?: string }).find((l) => l.level === 60);
    expect(fatal).toMatchObject({ msg: 'cannot start', err: expect.stringMatching(/redis is not reachable/) });
  }, 60_000);
});
