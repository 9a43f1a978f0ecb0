import type { CalendarSource } from '../../shared/domain/calendar.js';
import type { Signal } from '../../shared/domain/signal.js';
import type { SignalChange } from '../merger/apply-changes.js';
import { signalPrefix, type EventVerdict } from './event-facts.js';

/** The marker a broken connection leaves: the calendar is `unknown` until consent is given again. */
export function unknownMarkerId(source: CalendarSource): string {
  return `${source}:connection`;
}

export function unknownMarker(source: CalendarSource, observedAt: number): Signal {
  return { id: unknownMarkerId(source), source, claim: { kind: 'calendar', activity: 'unknown' }, observedAt };
}

function sameFact(a: Signal, b: Signal): boolean {
  return a.from === b.from && a.until === b.until && JSON.stringify(a.claim) === JSON.stringify(b.claim);
}

/**
 * What one sync asks of the person's signals. A full sync replaces the connection's whole set (events
 * not seen any more are removed); an incremental one touches only the events it names. Events past the
 * window end are left for the next full sync of the rolling window. Unchanged events are not rewritten.
 */
export function syncChanges(
  current: readonly Signal[],
  verdicts: readonly EventVerdict[],
  opts: { source: CalendarSource; full: boolean; windowEnd: number },
): SignalChange[] {
  const prefix = signalPrefix(opts.source);
  const mine = new Map(current.filter((s) => s.id.startsWith(prefix) && s.claim.kind !== 'cleared').map((s) => [s.id, s]));
  const changes: SignalChange[] = [];
  // An event named twice in one sync (edited between two pages) counts as its last word.
  const last = new Map(verdicts.map((v) => [v.id, v]));
  const seen = new Set(last.keys());
  for (const v of last.values()) {
    const old = mine.get(v.id);
    if ('signal' in v && (v.signal.from ?? 0) < opts.windowEnd) {
      if (!old || !sameFact(old, v.signal)) changes.push({ op: 'put', signal: v.signal });
    } else if (old) changes.push({ op: 'remove', id: v.id });
  }
  if (opts.full) for (const id of mine.keys()) if (!seen.has(id)) changes.push({ op: 'remove', id });
  // A successful sync means the calendar can be read again.
  const marker = unknownMarkerId(opts.source);
  if (current.some((s) => s.id === marker)) changes.push({ op: 'remove', id: marker });
  return changes;
}

/** Forgets everything a connection said (disconnect); with `unknown`, leaves the marker (broken grant). */
export function forgetChanges(current: readonly Signal[], source: CalendarSource, unknownAt?: number): SignalChange[] {
  const prefix = signalPrefix(source);
  const changes: SignalChange[] = current.filter((s) => s.id.startsWith(prefix)).map((s) => ({ op: 'remove', id: s.id }));
  if (unknownAt !== undefined) changes.push({ op: 'put', signal: unknownMarker(source, unknownAt) });
  else if (current.some((s) => s.id === unknownMarkerId(source))) changes.push({ op: 'remove', id: unknownMarkerId(source) });
  return changes;
}
