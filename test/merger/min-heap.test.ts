import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MinHeap } from '../../services/merger/min-heap.js';

describe('MinHeap', () => {
  it('pops in ascending order whatever the pushes and pops in between', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: -50, max: 50 }), fc.constant('pop' as const)), { maxLength: 200 }), (ops) => {
        const heap = new MinHeap<number>((a, b) => a < b);
        const model: number[] = [];
        for (const op of ops) {
          if (op === 'pop') {
            model.sort((a, b) => a - b);
            expect(heap.pop()).toBe(model.shift());
          } else {
            heap.push(op);
            model.push(op);
          }
          expect(heap.size).toBe(model.length);
        }
        const rest: number[] = [];
        for (let x = heap.pop(); x !== undefined; x = heap.pop()) rest.push(x);
        expect(rest).toEqual(model.sort((a, b) => a - b));
      }),
      { numRuns: 500 },
    );
  });
});
