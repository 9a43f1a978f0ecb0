import { expect, it } from 'vitest';
import { describeWith } from '../support/components.js';
import { startRedis } from '../support/redis.js';
import { hubCall, startHubs } from '../support/scale-out.js';

const OPERATOR = 'scale-out-operator-key-0123456789abcdef';

/**
 * Two real service processes sharing one real redis-server, an operator creating the same tenants through
 * both at once (a retry sent to the other replica, two operators' scripts): each tenant is created once.
 */
describeWith(['redis'], 'scale-out: creating one tenant on two replicas at once', () => {
  it('one creation wins (201) and every other gets 409 tenant_exists; the tenant has only the winner\'s admin key', async () => {
    const redis = await startRedis();
    const hubs = await startHubs(2, redis.url, { OPERATOR_KEY: OPERATOR }).catch(async (err: unknown) => {
      await redis.stop();
      throw err;
    });
    try {
      await createEachTenantOnce(hubs.procs.map((p) => p.url));
    } finally {
      await hubs.stop();
      await redis.stop();
    }
  });
});

/** Six creations of each of six tenants at once, spread over the replicas at `urls`. */
async function createEachTenantOnce(urls: readonly string[]): Promise<void> {
  const tenants = Array.from({ length: 6 }, (_, i) => `t${i}`);
  const tries = await Promise.all(
    tenants.flatMap((id) => Array.from({ length: 6 }, (_, n) => hubCall(urls[n % urls.length]!, 'POST', '/v1/tenants', { id, name: `${id} ${n}` }, OPERATOR).then((r) => ({ id, ...r })))),
  );
  for (const id of tenants) {
    const mine = tries.filter((t) => t.id === id);
    const won = mine.filter((t) => t.status === 201);
    expect(won, id).toHaveLength(1);
    expect(mine.filter((t) => t.status !== 201).map((t) => [t.status, t.body.error.code])).toEqual(Array(5).fill([409, 'tenant_exists']));
    const admin = won[0]!.body.adminKey;
    for (const url of urls) {
      const keys = await hubCall(url, 'GET', '/v1/keys', undefined, admin.secret as string);
      expect(keys.status).toBe(200);
      expect(keys.body.keys.map((k: { id: string }) => k.id)).toEqual([admin.id]);
      expect((await hubCall(url, 'GET', '/v1/tenant', undefined, admin.secret as string)).body.tenant.name).toBe(won[0]!.body.tenant.name);
    }
  }
}
