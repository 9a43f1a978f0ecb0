/**
 * What following the change feed costs a replica that takes no requests: CPU per change of a process
 * that only tails the Redis stream, while this process writes person states (as a PBX batch does:
 * the real store and script, a merged presence, its deflated state) at a fixed rate, and Redis CPU per
 * change (the writes included). A fixed rate rather than a closed loop: the cost per change depends on
 * how many changes each XREAD brings, so the rate must not follow whatever else runs on the machine.
 *
 *   npx tsx bench/feed-tail.ts [changes/s, default 3000]
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { DEFAULT_POLICY } from '../shared/domain/policy.js';
import type { Signal } from '../shared/domain/signal.js';
import { silentLogger } from '../shared/log/logger.js';
import { merge } from '../shared/merge/merge.js';
import { RedisStore } from '../shared/store/redis/redis-store.js';
import { startRedis } from '../test/support/redis.js';
import { header, sleep } from './lib/report.js';

const RATE = Number(process.argv[2] ?? 3000);
const PEOPLE = 1000;
const WARMUP_MS = 3000;
const DURATION_MS = 10_000;
const IN_FLIGHT = 64;

/** User and system CPU seconds of a process so far, from /proc (Linux). */
function cpu(pid: number): { user: number; sys: number } {
  const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
  return { user: f[11]! / 100, sys: f[12]! / 100 };
}

await header('Feed tailing: CPU per change of a replica that only follows the feed');
const redis = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'] });
const child = fork(fileURLToPath(new URL('./feed-tail-child.ts', import.meta.url)), [redis.url], { execArgv: ['--import', 'tsx', ...(process.env.FT_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.FT_PROF] : [])], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
const writer = new RedisStore({ url: redis.url, prefix: 'ph:', feedEvents: 10_000, log: silentLogger });
const stats = new Redis(redis.url);
try {
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  await writer.start();
  const t0 = Date.now();
  let k = 0;
  const write = () => {
    const i = k++;
    const p = `p${i % PEOPLE}`;
    const signals: Signal[] = [{ id: `pbx:reg:d${p}`, source: 'pbx', claim: { kind: 'endpoint', endpoint: { id: `d${p}`, kind: 'desk', contact: `sip:d${p}@10.1.0.1;b=${i}` }, reachable: true }, observedAt: t0 + i }];
    const presence = { ...merge(signals, DEFAULT_POLICY, t0 + i), personId: p, since: t0, version: i + 1 };
    return writer.state.update('bench', p, () => ({ next: { signals, presence }, result: undefined, emit: true }));
  };
  /** Writes at RATE for `ms`; returns the number written. */
  const paced = async (ms: number) => {
    const start = performance.now();
    const k0 = k;
    const inFlight = new Set<Promise<void>>();
    while (performance.now() - start < ms) {
      const due = Math.floor(((performance.now() - start) * RATE) / 1000) - (k - k0);
      for (let j = 0; j < due && inFlight.size < IN_FLIGHT; j++) {
        const w: Promise<void> = write().then(() => void inFlight.delete(w));
        inFlight.add(w);
      }
      await sleep(1);
    }
    await Promise.all(inFlight);
    return k - k0;
  };
  await paced(WARMUP_MS);
  await stats.config('RESETSTAT');
  const [c0, r0, s0] = [cpu(child.pid!), cpu(redis.pid), performance.now()];
  const n = await paced(DURATION_MS);
  const secs = (performance.now() - s0) / 1000;
  await sleep(200);
  const [c1, r1] = [cpu(child.pid!), cpu(redis.pid)];
  const seenSoFar = () =>
    new Promise<number>((resolve) => {
      child.once('message', (m) => resolve(m as number));
      child.send('seen?');
    });
  // Every change written must reach the follower (it may still be a little behind).
  let seen = await seenSoFar();
  for (let waited = 0; seen < k && waited < 5000; waited += 100) {
    await sleep(100);
    seen = await seenSoFar();
  }
  const xreads = Number(/cmdstat_xread:calls=(\d+)/.exec(await stats.info('commandstats'))?.[1]);
  const us = (s: number) => ((s * 1e6) / n).toFixed(1);
  console.log(`${PEOPLE} people, ${(n / secs).toFixed(0)} changes/s written for ${DURATION_MS / 1000} s (after ${WARMUP_MS / 1000} s of warm-up); the follower saw ${seen} of the ${k} changes written in all${seen === k ? '' : ' (MISSED SOME)'}`);
  console.log(`follower: ${us(c1.user - c0.user + c1.sys - c0.sys)} µs of CPU per change (user ${us(c1.user - c0.user)}, system ${us(c1.sys - c0.sys)}), ${((c1.user - c0.user + c1.sys - c0.sys) / secs).toFixed(3)} cores`);
  // Two readers follow the feed: the follower and the writer's own store.
  console.log(`changes per XREAD: ${((2 * n) / xreads).toFixed(1)}; Redis: ${us(r1.user - r0.user + r1.sys - r0.sys)} µs of CPU per change, the writes included`);
} finally {
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  stats.disconnect();
  await writer.close();
  await redis.stop();
}
