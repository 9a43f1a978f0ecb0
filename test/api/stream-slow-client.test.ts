import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY, seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { eventually } from '../support/receiver.js';
import { openStream } from '../support/sse.js';

const PEOPLE = 200;

describe('live stream with a client that stops reading', () => {
  let h: TestHub;
  let base: string;
  let key: PbxKey;
  let socket: Socket | undefined;

  beforeEach(async () => {
    h = await startTestHub({ now: '2026-03-02T09:30:00Z', env: { SSE_MAX_BUFFERED_BYTES: String(64 * 1024) } });
    key = await seedAlice(h);
    for (let i = 0; i < PEOPLE; i++) {
      await h.put(`/v1/people/p${i}`, { name: `Person ${i}` }).expect(201);
      await h.put(`/v1/people/p${i}/devices/d${i}`, { kind: 'desk', contact: `sip:p${i}@192.0.2.10` }).expect(201);
    }
    base = await h.listen();
  });
  afterEach(async () => {
    socket?.destroy();
    await h.stop();
  });

  const streamClients = async () => (await h.hub.metrics.streamClients.get()).values[0]?.value ?? 0;

  it('is cut off once too much waits for it, so it cannot grow the service memory; a reading client is not', async () => {
    const reader = await openStream(`${base}/v1/stream`, ADMIN_KEY);
    await reader.waitFor((e) => e.event === 'snapshot');
    const { port } = new URL(base);
    socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket!.once('connect', () => resolve()));
    socket.write(`GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nAccept: text/event-stream\r\n\r\n`);
    socket.pause();
    await eventually(async () => expect(await streamClients()).toBe(2));

    // Every person's call state flips in each batch: PEOPLE changes per request, far more than the
    // kernel's socket buffers and the 64 KB allowed hold for a client that reads nothing.
    const start = h.clock.now() - 60_000;
    let sent = 0;
    await h.pbx(Array.from({ length: PEOPLE }, (_, i) => ({ type: 'registered', device: `d${i}`, at: start })), key).expect(200);
    for (; sent < 60 && (await streamClients()) === 2; sent++) {
      const type = sent % 2 === 0 ? 'answered' : 'hangup';
      await h.pbx(Array.from({ length: PEOPLE }, (_, i) => ({ type, device: `d${i}`, at: start + 1 + sent })), key).expect(200);
    }
    await eventually(async () => expect(await streamClients()).toBe(1), 10_000);
    expect(sent).toBeGreaterThan(0);
    // The stream cut off gave back its place among the tenant's open streams.
    await eventually(() => expect(h.hub.limits.held('acme', 'openStreams')).toBe(1));
    // The client that reads got every change, in order, and is still connected.
    const changes = () => reader.events.filter((e) => e.event === 'presence' && e.data.personId === `p${PEOPLE - 1}`).map((e) => e.data.activity);
    const expected = ['available', ...Array.from({ length: sent }, (_, k) => (k % 2 === 0 ? 'on-call' : 'available'))];
    await eventually(() => expect(changes()).toEqual(expected), 10_000);
    expect(reader.ended).toBe(false);
    reader.close();
  }, 60_000);
});
