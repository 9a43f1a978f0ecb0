import { afterEach, expect, it } from 'vitest';
import { describeWith } from '../support/components.js';
import { freePort } from '../support/ports.js';
import { startRedis, type RunningRedis } from '../support/redis.js';
import { buildScript, hookOwner, hubCall, play, setUpDirectory, startHubs, until, type Hubs } from '../support/scale-out.js';

/**
 * Two real service processes sharing one real redis-server: a push target's status is the same whichever
 * replica a load balancer sends the request to, and follows the target when its publisher dies.
 */
describeWith(['redis'], "scale-out: a push target's status on every replica", () => {
  let redis: RunningRedis | undefined;
  let hubs: Hubs | undefined;

  afterEach(async () => {
    await hubs?.stop();
    await redis?.stop();
    hubs = undefined;
    redis = undefined;
  });

  it("the replica that does not publish a failing webhook target answers the owner's status; after the owner is killed, its own", async () => {
    redis = await startRedis();
    hubs = await startHubs(2, redis.url);
    const [first, second] = hubs.procs.map((p) => p.url) as [string, string];
    // Nothing listens there: every delivery is refused.
    const closed = `http://127.0.0.1:${await freePort()}`;
    const script = buildScript(2, 3);
    const tokens = await setUpDirectory(first, script, closed);
    await play(script, () => [first, second], tokens, Date.now());

    const leaseOwner = () => hookOwner(redis!.url);
    const ownerName = (await until(async () => {
      const o = await leaseOwner();
      expect(o).toBeTruthy();
      return o;
    }, 10_000))!;
    const owner = hubs.procs.find((p) => ownerName.includes(`-${p.child.pid}-`))!;
    const other = hubs.procs.find((p) => p !== owner)!;
    const status = async (url: string) => {
      const r = await hubCall(url, 'GET', '/v1/targets/hook/status');
      expect(r.status).toBe(200);
      return r.body as Record<string, unknown>;
    };

    const own = await until(async () => {
      const s = await status(owner.url);
      expect(s).toMatchObject({ targetId: 'hook', kind: 'webhook', state: 'failing' });
      return s;
    }, 20_000);
    expect(own).not.toHaveProperty('reportedBy');
    expect(own.lastError).toBeTruthy();
    const reported = await until(async () => {
      const s = await status(other.url);
      expect(s).toMatchObject({ targetId: 'hook', kind: 'webhook', state: 'failing', reportedBy: ownerName });
      return s;
    }, 10_000);
    expect(reported.lastError).toBe(own.lastError);
    expect(Date.parse(reported.reportedAt as string)).toBeGreaterThan(Date.now() - 30_000);
    expect(JSON.stringify(reported)).not.toMatch(/secret/i);

    await owner.kill();
    // The survivor takes the target over once the dead owner's lease runs out, and answers its own status.
    await until(async () => {
      const s = await status(other.url);
      expect(s).toMatchObject({ targetId: 'hook', state: 'failing' });
      expect(s).not.toHaveProperty('reportedBy');
    }, 30_000);
    expect(await leaseOwner()).not.toBe(ownerName);
  }, 120_000);
});
