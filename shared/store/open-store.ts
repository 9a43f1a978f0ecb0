import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { EmbeddedStore } from './embedded/embedded-store.js';
import type { Store } from './port.js';
import { RedisStore } from './redis/redis-store.js';

/**
 * `REDIS_URL` set: every replica shares Redis. Unset: the embedded store of one process, which reads back
 * what it kept as of `now` (the start).
 */
export function openStore(config: Config, log: Logger, now: number): Store {
  if (config.redis) return new RedisStore({ ...config.redis, feedEvents: config.feed.bufferEvents, log });
  return new EmbeddedStore(config.sqlitePath, { feedEvents: config.feed.bufferEvents, registrationsUntil: now + config.pbx.registrationAfterRestartMs });
}
