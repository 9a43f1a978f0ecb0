import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { describeWith } from '../support/components.js';
import { seedAlice, startTestHub, type TestHub } from '../support/hub.js';
import { kamailioPerTest, PRIVATE_TARGETS, sipTargetOf } from '../support/kamailio.js';
import { eventually } from '../support/receiver.js';
import { sharedRedis } from '../support/redis.js';

/**
 * The service as deployed with Redis (createHub, not a hand-built pipeline) keeps each SIP publication's
 * entity-tag in the target's delivery ledger, also when only a refresh changed it: what a replica taking
 * the target over continues (test/e2e/sip-takeover.test.ts shows the takeover itself).
 */
describeWith(['kamailio', 'redis'], 'SIP publications in the Redis delivery ledger (real Kamailio, real Redis)', () => {
  const redisEnv = sharedRedis('sipledger');
  const kamailio = kamailioPerTest();
  let h: TestHub | undefined;

  afterEach(async () => {
    await h?.stop();
  });

  it('records the publication when it is acknowledged and its new entity-tag after each refresh', async () => {
    const env = redisEnv();
    h = await startTestHub({ env: { ...env, SIP_HOST: '127.0.0.1', SIP_PORT: '0' } });
    const key = await seedAlice(h);
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() - 1000 }], key).expect(200);
    await h.put('/v1/tenant', PRIVATE_TARGETS).expect(200);
    await h.put('/v1/targets/kam', sipTargetOf(kamailio.kam, { expiresSec: 60 })).expect(201);
    const redis = new Redis(env.REDIS_URL);
    try {
      const etag = async () => {
        const entry = await redis.hget(`${env.REDIS_PREFIX}delivered:acme:kam`, 'alice');
        const address = entry?.split('|').slice(3).join('|');
        return address ? (JSON.parse(address) as { presentity: string; etag: string }) : undefined;
      };
      const first = await eventually(async () => {
        await h!.clock.advance(100);
        const p = await etag();
        expect(p?.presentity).toBe('sip:alice@example.test');
        return p!.etag;
      }, 10_000);
      // Refreshed at 85 % of the 60 s granted: Kamailio answers with a new entity-tag, which the ledger follows.
      await h.clock.advance(50_000);
      await eventually(async () => {
        await h!.clock.advance(250);
        const p = await etag();
        expect(p?.etag).toBeDefined();
        expect(p!.etag).not.toBe(first);
      }, 10_000);
    } finally {
      redis.disconnect();
    }
  });
});
