import { setImmediate as nextTask } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys, seedAlice, startTestHub, type TestHub } from '../support/hub.js';
import { eventually } from '../support/receiver.js';
import { openStream } from '../support/sse.js';

describe('live stream of a key that is revoked while it streams', () => {
  let h: TestHub;
  let base: string;

  beforeAll(async () => {
    h = await startTestHub({ env: { SSE_KEEPALIVE_MS: '1000' } });
    await seedAlice(h);
    base = await h.listen();
  });
  afterAll(() => h.stop());

  const streaming = async (role: string) => {
    const { wall } = await createKeys(h, { wall: { role } });
    const keyId = (await h.get('/v1/keys').expect(200)).body.keys.find((k: { name: string }) => k.name === 'wall').id as string;
    const c = await openStream(`${base}/v1/stream`, wall!);
    await c.waitFor((e) => e.event === 'snapshot');
    return { c, wall: wall!, revoke: () => h.del(`/v1/keys/${keyId}`).expect(204) };
  };
  const revoked = async (role: string) => {
    const s = await streaming(role);
    await s.revoke();
    return s;
  };

  it('sends it no further change and ends, so its reconnection is refused', async () => {
    const { c, wall } = await revoked('supervisor');
    await h.put('/v1/people/alice/status', { activity: 'dnd' }).expect(200);
    await h.put('/v1/people/alice/status', { activity: 'available' }).expect(200);
    await eventually(() => expect(c.ended).toBe(true));
    expect(c.events.map((e) => e.event)).toEqual(['snapshot']);
    expect((await h.get('/v1/stream', wall).expect(401)).body.error.code).toBe('invalid_credentials');
  });

  it('ends a quiet stream by its next keep-alive', async () => {
    const { c } = await revoked('external');
    await eventually(() => expect(c.ended).toBe(true), 5000);
    expect(c.events.map((e) => e.event)).toEqual(['snapshot']);
  });

  it('never sends a change made after the revocation while the changes before it wait for their look-ups', async () => {
    const { c, revoke } = await streaming('supervisor');
    // The stream's look-up of the person for the first change waits, so the changes after it queue behind it.
    const directory = h.hub.store.directory;
    const get = directory.get;
    let holdNext = false;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    directory.get = (async (collection, tenantId, id) => {
      await Promise.resolve();
      if (collection === 'people' && holdNext) {
        holdNext = false;
        await held;
      }
      return get.call(directory, collection, tenantId, id);
    }) as typeof directory.get;
    try {
      // Registered after the stream's listener: arms the hold as the stream has just asked for the person.
      let changes = 0;
      const sub = await h.hub.feed.subscribe('acme', () => (holdNext = ++changes === 1));
      await h.put('/v1/people/alice/status', { activity: 'dnd' }).expect(200);
      // Queued behind the first change; its key check answers (the key holds) while it waits.
      await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
      await nextTask();
      await revoke();
      await h.put('/v1/people/alice/status', { activity: 'break' }).expect(200);
      sub.close();
      expect(changes).toBe(3);
      release();
      await eventually(() => expect(c.ended).toBe(true));
      expect(c.events.filter((e) => e.event === 'presence').map((e) => e.data.activity)).not.toContain('break');
    } finally {
      directory.get = get;
    }
  });
});
