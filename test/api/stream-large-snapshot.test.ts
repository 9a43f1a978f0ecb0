import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY, seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { openStream } from '../support/sse.js';

const PEOPLE = 1500;

describe('live stream of a tenant whose snapshot alone exceeds SSE_MAX_BUFFERED_BYTES', () => {
  let h: TestHub;
  let key: PbxKey;

  beforeEach(async () => {
    h = await startTestHub({ now: '2026-03-02T09:30:00Z', env: { SSE_MAX_BUFFERED_BYTES: String(64 * 1024) } });
    key = await seedAlice(h);
    for (let i = 0; i < PEOPLE; i++) await h.put(`/v1/people/p${i}`, { name: `Person ${i} with a long enough name to weigh something` }).expect(201);
  });
  afterEach(async () => h.stop());

  it('keeps a reading client that gets a change while its snapshot is still being sent', async () => {
    const base = await h.listen();
    // A change lands between the subscription and the snapshot: it is held, then queued right behind the snapshot.
    const subscribe = h.hub.feed.subscribe.bind(h.hub.feed);
    h.hub.feed.subscribe = async (...args: Parameters<typeof subscribe>) => {
      const sub = await subscribe(...args);
      await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() - 1000 }], key).expect(200);
      return sub;
    };
    const client = await openStream(`${base}/v1/stream`, ADMIN_KEY);
    const snap = await client.waitFor((e) => e.event === 'snapshot', 10_000);
    expect(JSON.stringify(snap.data).length).toBeGreaterThan(4 * 64 * 1024);
    await client.waitFor((e) => e.event === 'presence' && e.data.personId === 'alice', 10_000);
    expect(client.ended).toBe(false);
    client.close();
  }, 60_000);
});
