import { afterEach, describe, expect, it } from 'vitest';
import { describeWith } from '../support/components.js';
import { ADMIN_KEY, OPERATOR_KEY, seedAlice, startTestHub, type TestHub } from '../support/hub.js';
import { sharedRedis } from '../support/redis.js';
import { openStream } from '../support/sse.js';

/**
 * A tenant deleted and created again under the same id is another tenant: a client of the new one that
 * sends an id the old one's stream handed out gets a snapshot of the new tenant, never the old one's
 * changes (its people's removals, or an old state under a person id the new tenant reuses).
 */
function resumeAcrossRecreation(start: () => Promise<TestHub>): void {
  let h: TestHub | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('answers a resume from before the re-creation with a snapshot of the new tenant', async () => {
    h = await start();
    await seedAlice(h);
    const base = await h.listen();
    const old = await openStream(`${base}/v1/stream`, ADMIN_KEY);
    await old.waitFor((e) => e.event === 'snapshot');
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    const before = await old.waitFor((e) => e.event === 'presence' && e.data.activity === 'away');
    old.close();

    await h.del('/v1/tenants/acme', OPERATOR_KEY).expect(204);
    const key = (await h.post('/v1/tenants', { id: 'acme', name: 'Acme again' }, OPERATOR_KEY).expect(201)).body.adminKey.secret as string;
    // The new tenant reuses the person id.
    await h.put('/v1/people/alice', { name: 'Alice Two', extension: '2001' }, key).expect(201);

    const resumed = await openStream(`${base}/v1/stream`, key, before.id);
    const first = await resumed.waitFor(() => true);
    resumed.close();
    expect(first.event).toBe('snapshot');
    expect(first.data.presence.map((p: { personId: string; activity: string }) => [p.personId, p.activity])).toEqual([['alice', 'unknown']]);
    expect(resumed.events.filter((e) => e.event === 'removed')).toEqual([]);
  });
}

describe('a stream resumed across a tenant deleted and created again (embedded store)', () => {
  resumeAcrossRecreation(() => startTestHub());
});

describeWith(['redis'], 'a stream resumed across a tenant deleted and created again (Redis)', () => {
  const redisEnv = sharedRedis('stream-recreated');
  resumeAcrossRecreation(() => startTestHub({ env: redisEnv() }));
});
