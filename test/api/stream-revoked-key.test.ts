import { setImmediate as nextTask } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
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

  const revoked = async (role: string) => {
    const { wall } = await createKeys(h, { wall: { role } });
    const keyId = (await h.get('/v1/keys').expect(200)).body.keys.find((k: { name: string }) => k.name === 'wall').id as string;
    const c = await openStream(`${base}/v1/stream`, wall!);
    await c.waitFor((e) => e.event === 'snapshot');
    await h.del(`/v1/keys/${keyId}`).expect(204);
    return { c, wall: wall! };
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
});

describe('a change made after the key was revoked, while the changes before it wait for their look-ups', () => {
  let h: TestHub;
  let base: string;

  beforeEach(async () => {
    h = await startTestHub({ now: '2026-03-02T09:30:00Z' });
    await seedAlice(h);
    base = await h.listen();
  });
  afterEach(() => h.stop());

  it('is never sent: the key is checked again for it, and the stream ends', async () => {
    const { wall } = await createKeys(h, { wall: { role: 'supervisor' } });
    const keyId = (await h.get('/v1/keys').expect(200)).body.keys.find((k: { name: string }) => k.name === 'wall').id as string;
    const c = await openStream(`${base}/v1/stream`, wall!);
    await c.waitFor((e) => e.event === 'snapshot');
    // The stream's look-up of the person for the first change waits, so the changes after it queue behind it.
    const directory = h.hub.store.directory;
    const get = directory.get.bind(directory);
    let holdNext = false;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    directory.get = (async (collection, tenantId, id) => {
      await Promise.resolve();
      if (collection === 'people' && holdNext) {
        holdNext = false;
        await held;
      }
      return get(collection, tenantId, id);
    }) as typeof directory.get;
    // Registered after the stream's listener: arms the hold as the stream has just asked for the person.
    let changes = 0;
    const sub = await h.hub.feed.subscribe('acme', () => (holdNext = ++changes === 1));
    await h.put('/v1/people/alice/status', { activity: 'dnd' }).expect(200);
    // Queued behind the first change; its key check answers (held) while it waits.
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    await nextTask();
    await h.del(`/v1/keys/${keyId}`).expect(204);
    await h.put('/v1/people/alice/status', { activity: 'break' }).expect(200);
    sub.close();
    expect(changes).toBe(3);
    release();

    // At that change, not at the next keep-alive (15 s).
    await eventually(() => expect(c.ended).toBe(true), 5000);
    expect(c.events.filter((e) => e.event === 'presence').map((e) => e.data.activity)).not.toContain('break');
  });
});
