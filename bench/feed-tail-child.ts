/**
 * A replica that only follows the change feed: a Redis store reading every change, one listener for
 * all tenants (as the publish pipeline has), nothing else. `tsx bench/feed-tail-child.ts <redis url>`;
 * prints `ready`, answers any IPC message with the number of changes it has seen. Driven by
 * bench/feed-tail.ts.
 */
import { silentLogger } from '../shared/log/logger.js';
import { RedisStore } from '../shared/store/redis/redis-store.js';

const store = new RedisStore({ url: process.argv[2]!, prefix: 'ph:', feedEvents: 10_000, log: silentLogger });
await store.start();
let seen = 0;
store.feed.subscribeAll(() => void seen++);
process.on('message', () => process.send!(seen));
process.on('SIGTERM', () => void store.close().finally(() => process.exit(0)));
console.log('ready');
