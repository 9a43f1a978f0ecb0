import { Outcome, type SignalChange } from '../../merger/apply-changes.js';

/** An event of the batch that changed nothing, and why: refused before merging, or ignored by it. */
export interface EventNote {
  index: number;
  code: string;
  message: string;
}

/** Counts events, never signal changes: `applied + ignored + rejected.length === received`. */
export interface BatchAnswer {
  received: number;
  /** Events at least one of whose changes applied. */
  applied: number;
  /** Events all of whose changes were ignored, each listed in `ignoredEvents`. */
  ignored: number;
  ignoredEvents: EventNote[];
  rejected: EventNote[];
}

/** One person's share of a batch: their changes in event order, and the event each change came from. */
export interface PersonChanges {
  personId: string;
  changes: SignalChange[];
  events: number[];
  outcomes?: Uint8Array;
}

const IGNORED: Record<Exclude<Outcome, typeof Outcome.applied>, Omit<EventNote, 'index'>> = {
  [Outcome.older]: { code: 'out_of_order', message: 'older than what is already known for the same device or call' },
  [Outcome.same]: { code: 'duplicate', message: 'repeats what is already known for the same device or call at the same instant' },
};

/** The answer, from the outcomes `engine.apply` wrote for each person's changes. */
export function batchAnswer(received: number, people: readonly PersonChanges[], rejected: EventNote[]): BatchAnswer {
  // Per event, the largest outcome among its changes (0: refused, it made none).
  const best = new Uint8Array(received);
  for (const { events, outcomes } of people) {
    for (let k = 0; k < events.length; k++) {
      const e = events[k]!;
      best[e] = Math.max(best[e]!, outcomes![k]!);
    }
  }
  let applied = 0;
  const ignoredEvents: EventNote[] = [];
  for (let index = 0; index < received; index++) {
    const o = best[index] as Outcome | 0;
    if (o === Outcome.applied) applied++;
    else if (o !== 0) ignoredEvents.push({ index, ...IGNORED[o] });
  }
  return { received, applied, ignored: ignoredEvents.length, ignoredEvents, rejected };
}
