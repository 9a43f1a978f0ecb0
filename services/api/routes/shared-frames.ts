import type { Person } from '../../../shared/domain/directory.js';
import type { FeedEvent } from '../../../shared/store/feed.js';

/**
 * The frames stream clients rendered for the change being fanned out, by view kind (`viewKind`), so clients
 * that see the same view of a change serialize it once. An entry is only reused for the same person record
 * (a client that looked up a newer one renders its own), and everything is dropped on the next task, so
 * nothing outlives the fan-out of a change.
 */
const frames = new Map<FeedEvent, { person: Person; byKind: Map<string, string> }>();
let clearing = false;

const clear = () => {
  frames.clear();
  clearing = false;
};

export function sharedFrame(e: FeedEvent, person: Person, kind: string, render: () => string): string {
  let entry = frames.get(e);
  if (!entry || entry.person !== person) {
    entry = { person, byKind: new Map() };
    frames.set(e, entry);
    if (!clearing) {
      clearing = true;
      setImmediate(clear);
    }
  }
  let frame = entry.byKind.get(kind);
  if (frame === undefined) {
    frame = render();
    entry.byKind.set(kind, frame);
  }
  return frame;
}
