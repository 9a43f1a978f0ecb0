import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { openStream, type SseClient } from '../support/sse.js';

describe('live stream: every client gets its own level of detail of the same change', () => {
  let h: TestHub;
  let pbx: PbxKey;
  let base: string;
  const keys: Record<string, string> = { admin: ADMIN_KEY };

  beforeAll(async () => {
    h = await startTestHub();
    pbx = await seedAlice(h);
    await h.put('/v1/people/bob', { name: 'Bob', extension: '1002' }).expect(201);
    await h.put('/v1/people/carol', { name: 'Carol', extension: '1003', sensitive: true }).expect(201);
    await h.put('/v1/people/carol/devices/carol-desk', { kind: 'desk', contact: 'sip:carol@192.0.2.11' }).expect(201);
    for (const [name, body] of Object.entries({
      supervisor: { role: 'supervisor' },
      bob: { role: 'member', personId: 'bob' },
      alice: { role: 'member', personId: 'alice' },
      carol: { role: 'member', personId: 'carol' },
      external: { role: 'external' },
      pbx: { role: 'pbx' },
    })) {
      keys[name] = (await h.post('/v1/keys', { name, ...body }).expect(201)).body.secret;
    }
    base = await h.listen();
  });
  afterAll(() => h.stop());

  it('each stream (two of each role) shows a change exactly as GET /v1/presence shows it to that key', async () => {
    const clients: Array<[string, SseClient]> = [];
    for (const name of Object.keys(keys)) {
      for (let copy = 0; copy < 2; copy++) {
        const c = await openStream(`${base}/v1/stream`, keys[name]!);
        await c.waitFor((e) => e.event === 'snapshot');
        clients.push([name, c]);
      }
    }
    const now = h.clock.now();
    // One batch: both people change in the same task, so the clients render them together.
    await h
      .pbx(
        [
          { type: 'registered', device: 'alice-desk', at: now },
          { type: 'registered', device: 'carol-desk', at: now },
          { type: 'answered', device: 'carol-desk', at: now + 1, callId: 'c1' },
        ],
        pbx,
      )
      .expect(200);
    for (const person of ['alice', 'carol']) {
      for (const [name, c] of clients) {
        const expected = (await h.get(`/v1/presence/${person}`, keys[name]).expect(200)).body;
        const seen = await c.waitFor((e) => e.event === 'presence' && e.data.personId === person && e.data.version === expected.version);
        expect({ name, view: seen.data }).toEqual({ name, view: expected });
      }
    }
    for (const [, c] of clients) c.close();
  });
});
