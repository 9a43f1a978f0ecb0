import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import type { Target, WebhookTarget } from '../../shared/domain/target.js';
import { EmbeddedStore } from '../../shared/store/embedded/embedded-store.js';
import type { Sink } from '../../services/publishers/sink.js';
import { testPipeline } from '../support/pipeline.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const TARGET = { id: 'hook', tenantId: 'acme', kind: 'webhook', name: 'v1', enabled: true, url: 'https://pbx.example.test/presence' } as WebhookTarget;

/** A publisher as the pipeline opened it: for which configuration, and whether it was closed since. */
interface Opened {
  name: string;
  closed: boolean;
}

/**
 * Opening a target's publisher takes a while (its tenant read, its SIP servers' DNS): a start tried again on
 * its backoff and an admin edit, or two quick edits, must not each open one for the same target.
 */
describe('the publisher of one target is opened, reopened and closed one at a time', () => {
  const closing: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closing.splice(0)) await close();
  });

  /** A pipeline whose publishers open only when `release` says so, after `failFirst` refused starts. */
  async function world(failFirst = 0) {
    const clock = new ManualClock(T0);
    const store = new EmbeddedStore(':memory:');
    await store.directory.write([
      { op: 'put', collection: 'tenants', doc: { id: 'acme', tenantId: '*', name: 'acme' } as never },
      { op: 'put', collection: 'targets', doc: TARGET },
    ]);
    const opened: Opened[] = [];
    let gate: Array<() => void> = [];
    let refusals = failFirst;
    const makeSink = async (target: Target): Promise<Sink> => {
      if (refusals-- > 0) throw new Error('refused by the SSRF rules');
      await new Promise<void>((resolve) => gate.push(resolve));
      const o: Opened = { name: target.name, closed: false };
      opened.push(o);
      return { deliver: async () => {}, close: async () => void (o.closed = true) };
    };
    const pipeline = testPipeline(store, clock, makeSink);
    closing.push(() => pipeline.close(), () => store.close());
    /** Lets every publisher waiting to open do so, until none waits. */
    const release = async () => {
      for (let i = 0; i < 20; i++) {
        const waiting = gate;
        gate = [];
        waiting.forEach((r) => r());
        await new Promise((r) => setTimeout(r, 1));
      }
    };
    const rename = (name: string) => store.directory.write([{ op: 'put', collection: 'targets', doc: { ...TARGET, name } }]);
    const open = () => opened.filter((o) => !o.closed).map((o) => o.name);
    return { clock, pipeline, opened, release, rename, open };
  }

  it('two quick edits leave one publisher open, with the latest configuration', async () => {
    const w = await world();
    const started = w.pipeline.start();
    await w.release();
    await started;
    expect(w.open()).toEqual(['v1']);
    await w.rename('v2');
    const first = w.pipeline.reload('acme', 'hook');
    await w.rename('v3');
    const second = w.pipeline.reload('acme', 'hook');
    await w.release();
    await Promise.all([first, second]);
    expect(w.open()).toEqual(['v3']);
    await w.pipeline.close();
    expect(w.open()).toEqual([]);
  });

  it('a start tried again on its backoff while the target is edited leaves one publisher open, with the edit', async () => {
    const w = await world(1);
    await w.pipeline.start();
    expect(w.pipeline.status('acme', 'hook')).toMatchObject({ state: 'failing', nextProbeAt: expect.any(String) });
    // The attempt falls due and is opening when the edit comes.
    await w.clock.advanceTo(Date.parse(w.pipeline.status('acme', 'hook')!.nextProbeAt!));
    await new Promise((r) => setTimeout(r, 5));
    await w.rename('v2');
    const edited = w.pipeline.reload('acme', 'hook');
    await w.release();
    await edited;
    expect(w.open()).toEqual(['v2']);
    await w.pipeline.close();
    expect(w.open()).toEqual([]);
  });

  it('closing waits for a publisher being opened, and closes it too', async () => {
    const w = await world();
    const started = w.pipeline.start();
    await new Promise((r) => setTimeout(r, 5));
    const closed = w.pipeline.close();
    await w.release();
    await Promise.all([started, closed]);
    expect(w.opened).toHaveLength(1);
    expect(w.open()).toEqual([]);
  });
});
