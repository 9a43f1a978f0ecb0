import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith } from '../support/components.js';
import { ping, startRedis, type RunningRedis } from '../support/redis.js';

// Proves the harness against a real redis-server; the store's Redis suite builds on it.
describeWith(['redis'], 'harness: redis-server', () => {
  let redis: RunningRedis;
  const clients: Redis[] = [];
  const client = (url: string) => {
    // No retries: a test that needs the server gone should see it gone.
    const c = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await redis?.stop();
  });

  it('answers PING, SET and GET on a loopback port', async () => {
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(await ping(redis.port)).toBe(true);
    const c = client(redis.url);
    await c.connect();
    expect(await c.ping()).toBe('PONG');
    await c.set('harness:k', 'v1');
    expect(await c.get('harness:k')).toBe('v1');
    // In-memory by default.
    expect(await c.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    expect(await c.config('GET', 'save')).toEqual(['save', '']);
  });

  it('kill -9 drops the server; restart comes back on the same port, empty', async () => {
    const c = client(redis.url);
    await c.connect();
    await c.set('harness:gone', '1');
    const pid = redis.pid;
    await redis.kill();
    expect(redis.running).toBe(false);
    expect(await ping(redis.port)).toBe(false);
    await expect(c.get('harness:gone')).rejects.toThrow();

    await redis.restart();
    expect(redis.pid).not.toBe(pid);
    const again = client(redis.url);
    await again.connect();
    expect(await again.get('harness:gone')).toBeNull();
  });

  it('keeps data across kill -9 with appendonly, and restart({ empty: true }) wipes it', async () => {
    const durable = await startRedis({ appendonly: true });
    try {
      const c = client(durable.url);
      await c.connect();
      await c.set('harness:kept', 'yes');
      await durable.kill();
      await durable.restart();
      const after = client(durable.url);
      await after.connect();
      expect(await after.get('harness:kept')).toBe('yes');
      await durable.restart({ empty: true });
      const wiped = client(durable.url);
      await wiped.connect();
      expect(await wiped.get('harness:kept')).toBeNull();
    } finally {
      await durable.stop();
    }
  });
});
