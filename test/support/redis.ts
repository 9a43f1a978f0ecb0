import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { makeTempDir, registerTempDir, removeTempDir, spawnManaged, type ManagedProcess } from './child-group.js';
import { requireBinary } from './components.js';
import { freePort } from './ports.js';

export interface RedisOptions {
  /** Default: a free port on 127.0.0.1. */
  port?: number;
  /** Append-only file, so data survives kill() + restart(). Default false. */
  appendonly?: boolean;
  /** RDB save points, as redis.conf `save`. Default '' (never). */
  save?: string;
  /** More `--name value` arguments. */
  args?: string[];
  startTimeoutMs?: number;
}

export interface RunningRedis {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** Data directory (RDB / AOF files), kept across restarts. */
  readonly dir: string;
  readonly pid: number;
  readonly running: boolean;
  logs(): string[];
  /** Graceful stop (SIGTERM: redis saves only if save points are configured); removes the data dir. */
  stop(): Promise<void>;
  /** SIGKILL: no shutdown save, no goodbye to clients. */
  kill(): Promise<void>;
  /** Stops if running and starts on the same port; `empty` wipes the data dir first. */
  restart(opts?: { empty?: boolean }): Promise<void>;
}

/**
 * Starts `redis-server` on 127.0.0.1 in a temporary directory, in-memory by
 * default (`--save '' --appendonly no`), and waits until it answers PING.
 *
 * @example
 * const redis = await startRedis();
 * const client = new Redis(redis.url);
 * await redis.kill(); await redis.restart();
 */
export async function startRedis(opts: RedisOptions = {}): Promise<RunningRedis> {
  const bin = requireBinary('redis-server');
  const port = opts.port ?? (await freePort());
  const dir = makeTempDir('ph-redis-');
  let proc: ManagedProcess | undefined;

  const args = () => [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', opts.save ?? '',
    '--appendonly', opts.appendonly ? 'yes' : 'no',
    '--daemonize', 'no',
    '--logfile', '',
    '--databases', '16',
    ...(opts.args ?? []),
  ];

  async function start(): Promise<void> {
    // stop() removed it; restart() after stop() brings it back.
    registerTempDir(dir);
    mkdirSync(dir, { recursive: true });
    const started = spawnManaged(`redis-server :${port}`, bin, args(), { cwd: dir });
    proc = started;
    try {
      await waitForPong(port, started, opts.startTimeoutMs ?? 10_000);
    } catch (err) {
      await started.kill();
      throw new Error(`redis-server did not start on 127.0.0.1:${port}: ${(err as Error).message}\n${started.logs().slice(-40).join('\n')}`);
    }
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return proc!.pid;
    },
    get running() {
      return proc?.running ?? false;
    },
    logs: () => proc?.logs() ?? [],
    async stop() {
      await proc?.stop({ graceMs: 5000 });
      removeTempDir(dir);
    },
    async kill() {
      await proc?.kill();
    },
    async restart({ empty = false } = {}) {
      if (proc?.running) await proc.stop({ graceMs: 5000 });
      if (empty) {
        for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
      }
      await start();
    },
  };
}

/** Sends an inline PING until +PONG (RESP) comes back. */
async function waitForPong(port: number, proc: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.running) throw new Error(`exited (${await proc.exited}) while starting`);
    if (await ping(port)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no PONG within ${timeoutMs} ms`);
}

/** One PING over a fresh connection; true on +PONG. Also handy in tests. */
export function ping(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/**
 * Inside a describe: one redis-server for the suite, and for each hub (or group of replicas) the
 * environment of a fresh key prefix on it, a dataset of its own.
 */
export function sharedRedis(prefix: string): () => { REDIS_URL: string; REDIS_PREFIX: string } {
  let redis: RunningRedis | undefined;
  let n = 0;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());
  return () => ({ REDIS_URL: redis!.url, REDIS_PREFIX: `${prefix}${++n}:` });
}
