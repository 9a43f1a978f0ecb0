import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import { loadConfig } from '../../shared/config/config.js';
import { silentLogger } from '../../shared/log/logger.js';
import { createHub } from '../../services/create-hub.js';
import { ADMIN_KEY, seedAlice, startTestHub, type TestHub } from '../support/hub.js';
import { eventually } from '../support/receiver.js';
import { openStream } from '../support/sse.js';

/**
 * A replica whose reader of the shared feed lagged past its history (`ChangeFeed.onMissed`, Redis) lost
 * changes it never handed out. The embedded feed never misses one, so the store's side is tested against
 * a real Redis (`test/store/redis-store.test.ts`); here, what the service does when told.
 */
describe('changes this replica missed on the shared feed', () => {
  let h: TestHub;
  let base: string;
  const told = new Set<() => void>();

  beforeAll(async () => {
    h = await startTestHub();
    await seedAlice(h);
    base = await h.listen();
    h.hub.feed.onMissed = (l) => (told.add(l), () => void told.delete(l));
  });
  afterAll(() => h.stop());

  it('ends every live stream, so each client resumes from its last id (or a snapshot) instead of keeping a state it missed', async () => {
    const c = await openStream(`${base}/v1/stream`, ADMIN_KEY);
    await c.waitFor((e) => e.event === 'snapshot');
    expect(told.size).toBe(1);
    for (const l of [...told]) l();
    await eventually(() => expect(c.ended).toBe(true));
    // Its place is given back.
    await eventually(() => expect(told.size).toBe(0));
  });

  it('ends a stream told of a miss while its resume was read, which it would otherwise never hear of', async () => {
    const subscribe = h.hub.feed.subscribe.bind(h.hub.feed);
    h.hub.feed.subscribe = async (...args) => {
      const sub = await subscribe(...args);
      for (const l of [...told]) l();
      return sub;
    };
    try {
      const first = await openStream(`${base}/v1/stream`, ADMIN_KEY);
      await eventually(() => expect(first.ended).toBe(true));
      expect(first.events).toEqual([]);
      await eventually(() => expect(told.size).toBe(0));
    } finally {
      h.hub.feed.subscribe = subscribe;
    }
  });

  it('gives back its subscription and its place when the client is gone before the resume was read', async () => {
    const subscribe = h.hub.feed.subscribe.bind(h.hub.feed);
    let open = 0;
    let entered = false;
    let resume!: () => void;
    const gate = new Promise<void>((r) => (resume = r));
    h.hub.feed.subscribe = async (...args) => {
      entered = true;
      await gate;
      const sub = await subscribe(...args);
      open++;
      return { replay: sub.replay, close: () => (open--, sub.close()) };
    };
    const clients = async () => (await h.hub.metrics.registry.getSingleMetric('presence_stream_clients')!.get()).values[0]?.value ?? 0;
    const before = await clients();
    try {
      const ctrl = new AbortController();
      const res = fetch(`${base}/v1/stream`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` }, signal: ctrl.signal }).catch(() => undefined);
      await eventually(() => expect(entered).toBe(true));
      ctrl.abort();
      await res;
      // The server sees the connection go before the resume read answers.
      await new Promise((r) => setTimeout(r, 200));
      resume();
      await eventually(() => expect(open).toBe(0));
      expect(told.size).toBe(0);
      expect(await clients()).toBe(before);
    } finally {
      h.hub.feed.subscribe = subscribe;
    }
  });

  it('re-sends the current states to the targets this replica publishes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ph-missed-'));
    const running = createHub({
      config: loadConfig({ DATA_DIR: dir, BOOTSTRAP_TENANT: 'acme', BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, ENCRYPTION_KEY: randomBytes(32).toString('base64'), LOG_LEVEL: 'silent' }),
      clock: new ManualClock('2026-03-02T09:30:00Z'),
      log: silentLogger,
      defaultMetrics: false,
      srvResolve: async () => [],
    });
    const listeners: Array<() => void> = [];
    running.hub.store.feed.onMissed = (l) => (listeners.push(l), () => undefined);
    let resent = 0;
    running.hub.pipeline.resendAll = async () => void resent++;
    try {
      await running.start();
      expect(resent).toBe(0);
      for (const l of listeners) l();
      expect(resent).toBe(1);
    } finally {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
