import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unavailable } from '../../shared/errors/errors.js';
import { ADMIN_KEY, seedAlice, startTestHub, type TestHub } from '../support/hub.js';
import { eventually } from '../support/receiver.js';
import { openStream } from '../support/sse.js';

describe('live stream when the store fails under it', () => {
  let h: TestHub;
  let base: string;

  beforeEach(async () => {
    h = await startTestHub({ now: '2026-03-02T09:30:00Z' });
    await seedAlice(h);
    base = await h.listen();
  });
  afterEach(() => h.stop());

  it('a change it could not look up ends the stream, so the client resumes and gets it instead of missing it', async () => {
    const stream = await openStream(`${base}/v1/stream`, ADMIN_KEY);
    const first = await stream.waitFor((e) => e.event === 'snapshot');
    expect(first.data.presence[0].activity).not.toBe('dnd');
    // The stream looks the person up as the change arrives; the lookup started first fails (this
    // listener, registered after the stream's, arms the failure before any lookup answers).
    const directory = h.hub.store.directory;
    const get = directory.get.bind(directory);
    let failNext = false;
    directory.get = (async (collection, tenantId, id) => {
      await Promise.resolve();
      if (failNext) {
        failNext = false;
        throw unavailable('store_unavailable', 'the store is unavailable');
      }
      return get(collection, tenantId, id);
    }) as typeof directory.get;
    const sub = await h.hub.feed.subscribe('acme', () => (failNext = true));
    await h.put('/v1/people/alice/status', { activity: 'dnd' }).expect(200);
    sub.close();

    await eventually(() => expect(stream.ended).toBe(true), 5000);
    const again = await openStream(`${base}/v1/stream`, ADMIN_KEY);
    const snap = await again.waitFor((e) => e.event === 'snapshot');
    expect(snap.data.presence[0].activity).toBe('dnd');
    again.close();
  });
});
