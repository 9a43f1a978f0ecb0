import { describe, expect, it } from 'vitest';
import { describeWith } from '../support/components.js';
import { OPERATOR_KEY, startTestHub, type TestHub } from '../support/hub.js';
import { sharedRedis } from '../support/redis.js';
import { holdWrite, puts } from '../support/hold-write.js';

/**
 * Two creations of the same tenant at once: the one that writes first wins (201); the other, which found
 * no tenant when it started, gets `409 tenant_exists` and no admin key of a tenant it does not own.
 */
async function createTwiceAtOnce(first: TestHub, second: TestHub): Promise<void> {
  const held = holdWrite(first, puts('tenants'));
  const slow = first.post('/v1/tenants', { id: 'beta', name: 'Beta (slow)' }, OPERATOR_KEY).then((r) => r);
  await held.reached;
  const fast = (await second.post('/v1/tenants', { id: 'beta', name: 'Beta' }, OPERATOR_KEY).expect(201)).body;
  held.release();
  expect([(await slow).status, (await slow).body.error?.code]).toEqual([409, 'tenant_exists']);
  const admin = fast.adminKey.secret as string;
  for (const h of [first, second]) {
    expect((await h.get('/v1/tenant', admin).expect(200)).body.tenant).toMatchObject({ id: 'beta', name: 'Beta' });
    expect((await h.get('/v1/keys', admin).expect(200)).body.keys.map((k: { id: string }) => k.id)).toEqual([fast.adminKey.id]);
  }
}

describe('creating a tenant (embedded store)', () => {
  it('of two creations of one id at once, the second to write gets 409 tenant_exists and no admin key', async () => {
    const h = await startTestHub();
    try {
      await createTwiceAtOnce(h, h);
    } finally {
      await h.stop();
    }
  });
});

describeWith(['redis'], 'creating a tenant on two replicas (Redis)', () => {
  const redisEnv = sharedRedis('tenants');
  it('of two creations of one id at once on two replicas, the second to write gets 409 tenant_exists and no admin key', async () => {
    const env = redisEnv();
    const a = await startTestHub({ env });
    const b = await startTestHub({ env });
    try {
      await createTwiceAtOnce(a, b);
    } finally {
      await b.stop();
      await a.stop();
    }
  });
});
