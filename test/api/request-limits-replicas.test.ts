import { expect, it } from 'vitest';
import { describeWith } from '../support/components.js';
import { createKeys, startTestHub, type TestHub } from '../support/hub.js';
import { eventually } from '../support/receiver.js';
import { sharedRedis } from '../support/redis.js';
import { openStream, type SseClient } from '../support/sse.js';

/** Three replicas on one Redis, each on its own fake clock at the same instant: a limit is the deployment's. */
describeWith(['redis'], 'request limits with three replicas (Redis)', () => {
  const redisEnv = sharedRedis('replimits');
  const LIMITS = { REQUEST_LIMIT_API_PER_MIN: '30', REQUEST_LIMIT_OPEN_STREAMS: '2' };

  const replicas = async (): Promise<TestHub[]> => {
    const env = { ...redisEnv(), ...LIMITS };
    return [await startTestHub({ env }), await startTestHub({ env }), await startTestHub({ env })];
  };

  it("a tenant's openStreams holds across replicas: the next stream is refused on another, and a closed one frees its place there", async () => {
    const hubs = await replicas();
    const [a, b, c] = hubs as [TestHub, TestHub, TestHub];
    const urls = await Promise.all(hubs.map((h) => h.listen()));
    const keys = await createKeys(a, { s1: { role: 'supervisor' }, s2: { role: 'supervisor' }, s3: { role: 'supervisor' } });
    const clients: SseClient[] = [];
    try {
      clients.push(await openStream(`${urls[0]}/v1/stream`, keys.s1!), await openStream(`${urls[1]}/v1/stream`, keys.s2!));
      const refused = await fetch(`${urls[2]}/v1/stream`, { headers: { Authorization: `Bearer ${keys.s3!}`, Accept: 'text/event-stream' } });
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('60');
      expect(((await refused.json()) as { error: unknown }).error).toMatchObject({ code: 'rate_limited', details: { limit: 'openStreams', atOnce: 2 } });
      // Each replica shows what it holds itself.
      expect([a, b, c].map((h) => h.hub.limits.held('acme', 'openStreams'))).toEqual([1, 1, 0]);
      clients[0]!.close();
      clients.push(await eventually(() => openStream(`${urls[2]}/v1/stream`, keys.s3!)));
      expect(c.hub.limits.held('acme', 'openStreams')).toBe(1);
    } finally {
      for (const client of clients) client.close();
      for (const h of hubs) await h.stop();
    }
  });

  it('a rate limit of 30 a minute admits 30 across the replicas, not 90', async () => {
    const hubs = await replicas();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 90; i++) statuses.push((await hubs[i % 3]!.get('/v1/people')).status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(30);
      expect(statuses.filter((s) => s === 429)).toHaveLength(60);
    } finally {
      for (const h of hubs) await h.stop();
    }
  });
});
