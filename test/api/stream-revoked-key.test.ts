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
