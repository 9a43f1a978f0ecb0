import type { WriteOp } from '../../shared/store/port.js';
import type { TestHub } from './hub.js';

/**
 * Holds the hub's next directory write with an op `matches` until `release()`; `reached` settles once it
 * waits. Stages a race: whatever runs meanwhile lands between that write's reads and the write.
 */
export function holdWrite(h: TestHub, matches: (op: WriteOp) => boolean) {
  const docs = h.hub.store.directory;
  const write = docs.write.bind(docs);
  let release!: () => void;
  let reach!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const reached = new Promise<void>((r) => (reach = r));
  let armed = true;
  docs.write = (async (ops, conditions) => {
    if (armed && ops.some(matches)) {
      armed = false;
      reach();
      await released;
    }
    return write(ops, conditions);
  }) as typeof docs.write;
  return { reached, release };
}

/** Matches a write that puts a document of `collection`. */
export const puts = (collection: WriteOp['collection']) => (op: WriteOp) => op.op === 'put' && op.collection === collection;

/**
 * Runs `then` once the hub's next directory write with an op `matches` has landed, before its caller
 * goes on: stages what happens between that write and the caller's next step.
 */
export function afterWrite(h: TestHub, matches: (op: WriteOp) => boolean, then: () => PromiseLike<unknown>): void {
  const docs = h.hub.store.directory;
  const write = docs.write.bind(docs);
  let armed = true;
  docs.write = (async (ops, conditions) => {
    await write(ops, conditions);
    if (armed && ops.some(matches)) {
      armed = false;
      await then();
    }
  }) as typeof docs.write;
}
