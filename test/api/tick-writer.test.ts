import { setImmediate as nextTask } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { TickWriter } from '../../services/api/routes/tick-writer.js';

/** A look-up the test answers by hand, in any order. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

function writerWith(lookups: Map<string, ReturnType<typeof deferred<string>>>) {
  const writes: string[] = [];
  const failures: unknown[] = [];
  const w = new TickWriter<string, string>({
    lookup: (item) => (item.startsWith('removed') ? undefined : lookups.get(item)?.promise ?? Promise.resolve(item.toUpperCase())),
    render: (item, looked) => (looked === 'SKIP' ? '' : `${looked ?? item};`),
    write: (chunk) => writes.push(chunk),
    fail: (err) => failures.push(err),
  });
  return { w, writes, failures };
}

describe('TickWriter: one write per task, strictly in queue order', () => {
  it('writes what one task queued in one write, in order, after the task', async () => {
    const { w, writes } = writerWith(new Map());
    for (const x of ['a', 'b', 'removed-c', 'd']) w.push(x);
    expect(writes).toEqual([]);
    expect(w.pending).toBe(4);
    await nextTask();
    await nextTask();
    expect(writes).toEqual(['A;B;removed-c;D;']);
    expect(w.pending).toBe(0);
  });

  it('keeps queue order when look-ups answer out of order, and across tasks', async () => {
    const a = deferred<string>();
    const b = deferred<string>();
    const { w, writes } = writerWith(
      new Map([
        ['a', a],
        ['b', b],
      ]),
    );
    w.push('a');
    w.push('b');
    await nextTask();
    // Queued while the first lot waits for its look-ups: written after it, never before.
    w.push('c');
    b.resolve('B');
    await nextTask();
    expect(writes).toEqual([]);
    expect(w.pending).toBe(3);
    a.resolve('A');
    await nextTask();
    await nextTask();
    expect(writes).toEqual(['A;B;', 'C;']);
  });

  it('skips items that render to nothing and writes nothing for a lot of only those', async () => {
    const { w, writes } = writerWith(new Map());
    w.push('skip');
    await nextTask();
    await nextTask();
    expect(writes).toEqual([]);
    w.push('x');
    w.push('skip');
    await nextTask();
    await nextTask();
    expect(writes).toEqual(['X;']);
  });

  it('a failed look-up writes nothing of its lot or after it, and reports once', async () => {
    const b = deferred<string>();
    const { w, writes, failures } = writerWith(new Map([['b', b]]));
    w.push('a');
    await nextTask();
    await nextTask();
    w.push('b');
    w.push('c');
    b.reject(new Error('store away'));
    await nextTask();
    await nextTask();
    w.push('d');
    await nextTask();
    await nextTask();
    expect(writes).toEqual(['A;']);
    expect(failures).toHaveLength(1);
    expect(w.pending).toBe(0);
  });

  it('looks a lot up once, as its first item is queued, and gives every item of the lot that answer', async () => {
    const writes: string[] = [];
    const failures: unknown[] = [];
    const lots = [deferred<string>(), deferred<string>(), deferred<string>()];
    let started = 0;
    const w = new TickWriter<string, string, string>({
      lookup: (item) => Promise.resolve(item.toUpperCase()),
      lotLookup: () => lots[started++]!.promise,
      render: (item, looked, lot) => `${lot}:${looked};`,
      write: (chunk) => writes.push(chunk),
      fail: (err) => failures.push(err),
    });
    w.push('a');
    expect(started).toBe(1);
    w.push('b');
    expect(started).toBe(1);
    await nextTask();
    // Queued while the first lot waits for its answer: a lot of its own, with a look-up of its own.
    w.push('c');
    expect(started).toBe(2);
    lots[1]!.resolve('second');
    lots[0]!.resolve('first');
    await nextTask();
    await nextTask();
    expect(writes).toEqual(['first:A;first:B;', 'second:C;']);
    w.push('d');
    lots[2]!.reject(new Error('key store away'));
    await nextTask();
    await nextTask();
    expect(writes).toHaveLength(2);
    expect(failures).toHaveLength(1);
  });

  it('looks the lot up again for an item queued once its answer is in, and gives the lot the newer answer', async () => {
    const writes: string[] = [];
    const failures: unknown[] = [];
    const lots = Array.from({ length: 5 }, () => deferred<string>());
    const items = new Map([
      ['a', deferred<string>()],
      ['d', deferred<string>()],
    ]);
    let started = 0;
    const w = new TickWriter<string, string, string>({
      lookup: (item) => items.get(item)?.promise ?? Promise.resolve(item.toUpperCase()),
      lotLookup: () => lots[started++]!.promise,
      render: (item, looked, lot) => `${lot}:${looked};`,
      write: (chunk) => writes.push(chunk),
      fail: (err) => failures.push(err),
    });
    w.push('a');
    await nextTask();
    // Queued while 'a' waits for its own look-up: a lot whose look-up answers before it goes out.
    w.push('b');
    lots[0]!.resolve('first');
    lots[1]!.resolve('held');
    await nextTask();
    w.push('c');
    expect(started).toBe(3);
    lots[2]!.resolve('revoked');
    items.get('a')!.resolve('A');
    await nextTask();
    await nextTask();
    expect(writes).toEqual(['first:A;', 'revoked:B;revoked:C;']);
    // A look-up that failed is not hidden by a later one: the lot fails.
    w.push('d');
    lots[3]!.resolve('held');
    await nextTask();
    w.push('e');
    lots[4]!.reject(new Error('key store away'));
    await nextTask();
    w.push('f');
    expect(started).toBe(5);
    items.get('d')!.resolve('D');
    await nextTask();
    await nextTask();
    expect(writes).toEqual(['first:A;', 'revoked:B;revoked:C;', 'held:D;']);
    expect(failures).toHaveLength(1);
  });
});
