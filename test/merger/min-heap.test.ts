import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MinHeap } from '../../services/merger/min-heap.js';

interface Item {
  key: number;
  heapIndex: number;
}

const op = fc.oneof(
  fc.record({ kind: fc.constant('push' as const), key: fc.integer({ min: -50, max: 50 }) }),
  fc.record({ kind: fc.constant('pop' as const) }),
  fc.record({ kind: fc.constant('rekey' as const), pick: fc.nat(), key: fc.integer({ min: -50, max: 50 }) }),
  fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
);

describe('MinHeap', () => {
  it('pops in ascending order whatever the pushes, pops, re-keyings and removals in between', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const heap = new MinHeap<Item>((a, b) => a.key < b.key);
        const model: Item[] = [];
        const minKey = () => Math.min(...model.map((i) => i.key));
        for (const o of ops) {
          if (o.kind === 'push') {
            const item = { key: o.key, heapIndex: -1 };
            heap.push(item);
            model.push(item);
          } else if (o.kind === 'pop') {
            const expected = model.length ? minKey() : undefined;
            const got = heap.pop();
            expect(got?.key).toBe(expected);
            if (got) model.splice(model.indexOf(got), 1);
          } else if (model.length > 0) {
            const item = model[o.pick % model.length]!;
            if (o.kind === 'rekey') {
              item.key = o.key;
              heap.update(item);
            } else {
              heap.remove(item);
              model.splice(model.indexOf(item), 1);
              // Taking an item out twice, or re-keying one no longer held, changes nothing.
              heap.remove(item);
              heap.update(item);
            }
          }
          expect(heap.size).toBe(model.length);
          expect(heap.peek()?.key).toBe(model.length ? minKey() : undefined);
        }
        const rest: number[] = [];
        for (let x = heap.pop(); x !== undefined; x = heap.pop()) rest.push(x.key);
        expect(rest).toEqual(model.map((i) => i.key).sort((a, b) => a - b));
      }),
      { numRuns: 500 },
    );
  });

  it('holds only what is pending: replacing an item’s key many times leaves one item', () => {
    const heap = new MinHeap<Item>((a, b) => a.key < b.key);
    const busy = { key: 1000, heapIndex: -1 };
    heap.push(busy);
    for (let k = 999; k > 0; k--) {
      busy.key = k;
      heap.update(busy);
    }
    expect(heap.size).toBe(1);
  });
});
