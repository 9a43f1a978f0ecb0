import type { Logger } from 'pino';
import type { Clock } from '../clock/clock.js';
import type { Config } from '../config/config.js';
import { EmbeddedStore } from './embedded/embedded-store.js';
import type { Store } from './port.js';
import { RedisStore } from './redis/redis-store.js';

/**
 * `REDIS_URL` set: every replica shares Redis. Unset: the embedded store of one process, which reads back
 * what it kept as of now (the start). Either drops calls and bounds registrations kept without an expiry
 * from the instant the whole service was found to have been down: the embedded store at every start,
 * Redis after a full outage (found at a start or on a reconnect).
 */
export function openStore(config: Config, log: Logger, clock: Clock): Store {
  const afterOutage = () => {
    const at = clock.now();
    return { at, registrationsUntil: at + config.pbx.registrationAfterRestartMs };
  };
  if (config.redis) return new RedisStore({ ...config.redis, feedEvents: config.feed.bufferEvents, log, afterOutage });
  return new EmbeddedStore(config.sqlitePath, { feedEvents: config.feed.bufferEvents, registrationsUntil: afterOutage().registrationsUntil, checkpoints: { log } });
}
