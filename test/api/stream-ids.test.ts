import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamIds } from '../../services/api/routes/stream-ids.js';
import { createKeys, seedAlice, startTestHub, type TestHub } from '../support/hub.js';
import { openStream } from '../support/sse.js';

describe('stream ids', () => {
  const ids = new StreamIds(randomBytes(32), randomBytes(32));

  it('stand for the feed id for the tenant they were given to, and nothing for another or once altered', () => {
    const shown = ids.toClient('acme', 'a1b2c3d4-41');
    expect(shown).toMatch(/^a1b2c3d4-[0-9a-f]{32}$/);
    expect(ids.fromClient('acme', shown)).toBe('a1b2c3d4-41');
    expect(ids.fromClient('globex', shown)).toBeUndefined();
    expect(ids.fromClient('acme', shown.replace(/-./, (m) => (m === '-0' ? '-1' : '-0')))).toBeUndefined();
    expect(ids.fromClient('acme', `b1b2c3d4-${shown.split('-')[1]}`)).toBeUndefined();
    for (const odd of ['a1b2c3d4-41', '', '-', 'x'.repeat(64), `a1b2c3d4-${'g'.repeat(32)}`]) expect(ids.fromClient('acme', odd)).toBeUndefined();
  });

  it('say nothing of how far apart two changes are', () => {
    const tokens = [41, 42, 1041].map((seq) => ids.toClient('acme', `e-${seq}`).slice(2));
    // A permutation of the block: neighbours share no more than chance would make them share.
    const common = (a: string, b: string) => [...a].filter((c, i) => b[i] === c).length;
    expect(common(tokens[0]!, tokens[1]!)).toBeLessThan(12);
    expect(new Set(tokens).size).toBe(3);
    expect(ids.toClient('acme', 'e-42')).toBe(`e-${tokens[1]}`);
  });
});

/**
 * A colleague is shown a sensitive person's availability only; their other changes are not sent. The ids of
 * what it is shown must not count those changes, nor (on a shared feed) every other tenant's.
 */
describe('the ids a restricted key is shown', () => {
  let h: TestHub;
  let bob: string;
  let base: string;

  beforeAll(async () => {
    h = await startTestHub();
    await seedAlice(h);
    await h.put('/v1/people/bob', { name: 'Bob', extension: '1002' }).expect(201);
    await h.put('/v1/people/carol', { name: 'Carol', extension: '1003', sensitive: true }).expect(201);
    ({ bob } = (await createKeys(h, { bob: { role: 'member', personId: 'bob' } })) as { bob: string });
    base = await h.listen();
  });
  afterAll(() => h.stop());

  it("do not count a sensitive colleague's hidden changes, and resume after them", async () => {
    await h.put('/v1/people/carol/status', { activity: 'away' }).expect(200);
    const feedIds: string[] = [];
    const all = await h.hub.feed.subscribe('acme', (e) => feedIds.push(e.id));
    const c = await openStream(`${base}/v1/stream`, bob);
    await c.waitFor((e) => e.event === 'snapshot');
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    const first = await c.waitFor((e) => e.event === 'presence');
    // Still away: only what a colleague cannot see of Carol changes.
    for (const activity of ['break', 'away', 'break']) await h.put('/v1/people/carol/status', { activity }).expect(200);
    await h.del('/v1/people/alice/status').expect(200);
    const second = await c.waitFor((e) => e.event === 'presence' && e.id !== first.id);
    c.close();
    all.close();
    expect(c.events.filter((e) => e.event === 'presence').map((e) => e.data.personId)).toEqual(['alice', 'alice']);
    expect(feedIds).toHaveLength(5);
    // The feed's ids count every change; the ids shown are not them, nor carry a count.
    for (const shown of [first.id!, second.id!]) {
      expect(feedIds).not.toContain(shown);
      expect(shown.slice(shown.lastIndexOf('-') + 1)).toMatch(/^[0-9a-f]{32}$/);
    }
    const resumed = await openStream(`${base}/v1/stream`, bob, first.id);
    const next = await resumed.waitFor(() => true);
    resumed.close();
    expect([next.event, next.id, next.data.personId]).toEqual(['presence', second.id, 'alice']);
  });
});
