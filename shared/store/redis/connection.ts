import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { unavailable } from '../../errors/errors.js';

export type Arg = string | number | Buffer;

/** `evenPaused`: runs while the connection is paused (the store's own checking and bounding after a reconnect). */
export interface RunOptions {
  evenPaused?: boolean;
}

/** Lua run by SHA, sent again after NOSCRIPT (a restarted Redis has forgotten every script). */
export interface Script {
  (keys: readonly string[], args: readonly Arg[], opts?: RunOptions): Promise<unknown>;
}

/**
 * One ioredis client and what every adapter needs from it: commands that fail at once while Redis is
 * away (no offline queue, so a request answers 503 instead of hanging), failures turned into the
 * `store_unavailable` error, and scripts.
 */
export class Connection {
  readonly client: Redis;
  /**
   * While set, commands fail as unavailable although the socket may be up: after a reconnect, until
   * the store has checked whether Redis kept its data (and put it back if not).
   */
  paused = false;

  constructor(
    url: string,
    readonly log: Logger,
    name: string,
    { commandTimeoutMs = 5000, autoPipelining = true }: { commandTimeoutMs?: number; autoPipelining?: boolean } = {},
  ) {
    this.client = new Redis(url, {
      connectionName: name,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Keep trying for ever, at most every 2 s: Redis coming back must be noticed without a restart.
      retryStrategy: (times) => Math.min(100 * times, 2000),
      lazyConnect: true,
      // Commands issued in the same tick (a batch's lookups and writes) go out in one write. A
      // connection with one command in flight at a time (the feed reader) gains nothing from it and
      // would pay its queue and its setImmediate hop on every command.
      enableAutoPipelining: autoPipelining,
      // A Redis that stops answering (not just one that closed) must not hold requests for ever.
      commandTimeout: commandTimeoutMs,
    });
    let down = false;
    this.client.on('error', (err: Error) => {
      if (!down) log.warn({ err: err.message, connection: name }, 'redis connection failed');
      down = true;
    });
    this.client.on('ready', () => {
      if (down) log.info({ connection: name }, 'redis connection back');
      down = false;
    });
  }

  /** Resolves once connected, or rejects after `timeoutMs`. */
  async connect(timeoutMs = 10_000): Promise<void> {
    if (this.client.status === 'ready') return;
    if (this.client.status === 'wait') void this.client.connect().catch(() => undefined);
    // Wall time on purpose: a wait for a socket, never an instant of presence (those come from the Clock).
    const deadline = Date.now() + timeoutMs;
    while (!this.up) {
      if (Date.now() > deadline) throw unavailable('store_unavailable', `redis is not reachable (${this.client.status})`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  get up(): boolean {
    return this.client.status === 'ready';
  }

  /** Runs `fn`; any Redis failure becomes a 503 `store_unavailable` with Retry-After. */
  async run<T>(fn: (r: Redis) => Promise<T>, opts: RunOptions = {}): Promise<T> {
    if (this.paused && !opts.evenPaused) throw unavailable('store_unavailable', 'the store is reconnecting');
    try {
      return await fn(this.client);
    } catch (err) {
      throw unavailable('store_unavailable', `the store is unavailable: ${(err as Error).message}`);
    }
  }

  /** `buffers`: bulk replies come back as Buffers (binary data), not strings. */
  script(lua: string, { buffers = false } = {}): Script {
    const sha = createHash('sha1').update(lua).digest('hex');
    const send = (r: Redis, command: 'evalsha' | 'eval', first: string, keys: readonly string[], args: readonly Arg[]) =>
      // ioredis has a Buffer variant of every command but does not type these two (and `callBuffer`
      // loses its command name under auto-pipelining).
      (buffers ? (r as unknown as Record<string, typeof r.evalsha>)[`${command}Buffer`]!.bind(r) : r[command].bind(r))(first, keys.length, ...keys, ...args);
    return async (keys, args, opts = {}) =>
      this.run(async (r) => {
        try {
          return await send(r, 'evalsha', sha, keys, args);
        } catch (err) {
          if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
          return send(r, 'eval', lua, keys, args);
        }
      }, opts);
  }

  close(): void {
    this.client.disconnect();
  }
}
