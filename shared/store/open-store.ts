import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { EmbeddedStore } from './embedded/embedded-store.js';
import type { Store } from './port.js';
import { RedisStore } from './redis/redis-store.js';

/**
 * `REDIS_URL` set: every replica shares Redis. Unset: the embedded store of one process, which reads back
 * what it kept as of `now` (the start). Either bounds registrations kept without an expiry from `now`
 * when the whole service was down: the embedded store at every start, Redis after a full outage.
 */
export function openStore(config: Config, log: Logger, now: number): Store {
  const registrationsUntil = now + config.pbx.registrationAfterRestartMs;
  if (config.redis) return new RedisStore({ ...config.redis, feedEvents: config.feed.bufferEvents, log, registrationsUntil });
  return new EmbeddedStore(config.sqlitePath, { feedEvents: config.feed.bufferEvents, registrationsUntil, checkpoints: { log } });
}
