import type { Person } from '../../../shared/domain/directory.js';
import type { FeedEvent } from '../../../shared/store/feed.js';

/**
 * The frames stream clients rendered for the change being fanned out, by view kind (`viewKind`), so clients
 * that see the same view of a change serialize it once. An entry is only reused for the same person record
 * (a client that looked up a newer one renders its own), and everything is dropped on the next task, so
 * nothing outlives the fan-out of a change.
 */
interface Rendered {
  person: Person;
  /** The first kind rendered and its frame; further kinds (other roles) in `more`. */
  kind: string;
  frame: string;
  more?: Map<string, string>;
}

const frames = new Map<FeedEvent, Rendered>();
let clearing = false;

const clear = () => {
  frames.clear();
  clearing = false;
};

export function sharedFrame(e: FeedEvent, person: Person, kind: string, render: () => string): string {
  const known = frames.get(e);
  if (!known || known.person !== person) {
    const frame = render();
    frames.set(e, { person, kind, frame });
    if (!clearing) {
      clearing = true;
      setImmediate(clear);
    }
    return frame;
  }
  if (known.kind === kind) return known.frame;
  let frame = known.more?.get(kind);
  if (frame === undefined) {
    frame = render();
    (known.more ??= new Map()).set(kind, frame);
  }
  return frame;
}
