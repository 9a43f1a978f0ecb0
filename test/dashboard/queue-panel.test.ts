import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { QUEUE_PANEL_JS } from '../../services/dashboard/queue-script.js';

/** A stand-in for whatever the panel touches in the page: it only reads and sets plain properties. */
function element(): Record<string, unknown> {
  return { hidden: false, textContent: '', value: '', replaceChildren() {}, appendChild() {}, addEventListener() {}, setAttribute() {} };
}

/**
 * The queue panel's script as the browser gets it, run with scripted timers and a scripted fetch, so
 * when it asks `POST /v1/route` is counted exactly (no real time involved).
 */
async function panel() {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let nextId = 1;
  const asked: string[] = [];
  const answer = (body: unknown) => Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve(body) });
  const decision = { target: { name: 'Support' }, strategy: 'simultaneous', open: true, status: 'ringing', ring: [], fallback: [], leftOut: [] };
  const window: Record<string, unknown> = {};
  runInNewContext(QUEUE_PANEL_JS, {
    window,
    fetch: (url: string) => {
      asked.push(url);
      return answer(url === '/v1/groups' ? { groups: [{ id: 'support', name: 'Support', members: [{ personId: 'alice' }, { personId: 'bob' }] }] } : decision);
    },
    setTimeout: (fn: () => void, ms: number) => {
      timers.set(nextId, { at: now + ms, fn });
      return nextId++;
    },
    clearTimeout: (id: number | undefined) => id !== undefined && timers.delete(id),
  });
  const els = new Map<string, Record<string, unknown>>();
  const el = (id: string) => els.get(id) ?? els.set(id, element()).get(id)!;
  const flush = () => new Promise((resolve) => setImmediate(resolve));
  const q = (window.PresenceHubQueue as (h: unknown) => Record<string, (...a: unknown[]) => void>)({ el, node: element, clock: String, key: () => 'key', redraw() {} });
  q.load!();
  await flush();
  el('queue').value = 'support';
  q.choose!();
  await flush();
  return {
    q,
    routeAsks: () => asked.filter((u) => u === '/v1/route').length,
    async advance(ms: number) {
      const until = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
        await flush();
      }
      now = until;
    },
  };
}

describe('the dashboard queue panel asks again as members change', () => {
  it('asks once for a burst of changes, a moment later', async () => {
    const p = await panel();
    expect(p.routeAsks()).toBe(1);
    for (let i = 0; i < 5; i++) p.q.changed!('alice');
    p.q.changed!('carol'); // not a member
    await p.advance(1000);
    expect(p.routeAsks()).toBe(2);
  });

  it('keeps asking while members change more often than it waits: a busy queue is never left on an old answer', async () => {
    const p = await panel();
    for (let t = 0; t < 3000; t += 100) {
      p.q.changed!(t % 200 ? 'alice' : 'bob');
      await p.advance(100);
    }
    // One ask per 250 ms wait, not one at the end of the stream.
    expect(p.routeAsks()).toBeGreaterThanOrEqual(1 + 8);
    await p.advance(1000);
    const settled = p.routeAsks();
    await p.advance(10_000);
    expect(p.routeAsks()).toBe(settled);
  });
});
