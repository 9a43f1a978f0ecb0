import type { Signal } from '../../shared/domain/signal.js';

/** What a connector asks of a person's signal set. */
export type SignalChange =
  /** `when`: put only if it holds of the signals as the changes before it left them (else the change repeats what is stored). */
  | { op: 'put'; signal: Signal; when?: (signals: readonly Signal[]) => boolean }
  | { op: 'remove'; id: string }
  /** Replaces every signal whose id starts with `prefix` and is not newer than `observedAt` by a tombstone. */
  | { op: 'clear'; prefix: string; observedAt: number; keepMs: number; source: Signal['source'] };

export interface Applied {
  signals: Signal[];
  applied: number;
  ignored: number;
}

/** Equal as JSON would write them (absent and undefined alike), without writing them. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function indexOf(list: readonly Signal[], id: string): number {
  for (let i = 0; i < list.length; i++) if (list[i]!.id === id) return i;
  return -1;
}

function keep(s: Signal, now: number, graceMs: number): boolean {
  return s.claim.kind === 'endpoint' || s.until === undefined || s.until + graceMs > now;
}

/**
 * What became of one change, written into the array a caller passes to `applyChanges` (one number per
 * change, so the hot path allocates nothing for it). `same`: it says what is already stored (an
 * identical signal at the same instant, or nothing left to remove or clear). `older`: what it touches is
 * already known from a later instant (it is out of order). Ordered so that the largest outcome among
 * the changes one event made says what became of the event: one applied change applies it, else one
 * older change makes it out of order; only an event whose every change repeats what is stored is a repeat.
 */
export const Outcome = { same: 1, older: 2, applied: 3 } as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/**
 * Applies changes in order. Sources report their own observation instants, so an event older than what
 * is already known for the same id is out of order and ignored, and an identical one is a duplicate.
 * A person holds a handful of signals, so a scan beats building a map. `current` is never modified:
 * it is copied on the first change, and returned as it is when nothing applies. Each change's outcome
 * goes into `outcomes[k]` when given (every entry is written, so a retried update leaves the last run's).
 */
export function applyChanges(current: readonly Signal[], changes: readonly SignalChange[], outcomes?: Uint8Array): Applied {
  let signals: Signal[] | undefined;
  let applied = 0;
  for (let k = 0; k < changes.length; k++) {
    const c = changes[k]!;
    const list = signals ?? current;
    let outcome: Outcome = Outcome.applied;
    if (c.op === 'remove') {
      const i = indexOf(list, c.id);
      if (i >= 0) (signals ??= current.slice()).splice(i, 1);
      else outcome = Outcome.same;
    } else if (c.op === 'clear') {
      let hit = false;
      let newer = false;
      for (let i = 0; i < list.length; i++) {
        const s = list[i]!;
        if (!s.id.startsWith(c.prefix)) continue;
        if (s.observedAt > c.observedAt) newer = true;
        else if (s.claim.kind !== 'cleared') {
          (signals ??= current.slice())[i] = { id: s.id, source: c.source, claim: { kind: 'cleared' }, observedAt: c.observedAt, until: c.observedAt + c.keepMs };
          hit = true;
        }
      }
      if (!hit) outcome = newer ? Outcome.older : Outcome.same;
    } else if (c.when && !c.when(list)) {
      outcome = Outcome.same;
    } else {
      const i = indexOf(list, c.signal.id);
      const old = i >= 0 ? list[i] : undefined;
      if (old && old.observedAt > c.signal.observedAt) outcome = Outcome.older;
      else if (old && old.observedAt === c.signal.observedAt && sameJson(old, c.signal)) outcome = Outcome.same;
      else {
        signals ??= current.slice();
        if (i >= 0) signals[i] = c.signal;
        else signals.push(c.signal);
      }
    }
    if (outcome === Outcome.applied) applied++;
    if (outcomes) outcomes[k] = outcome;
  }
  return { signals: signals ?? (current as Signal[]), applied, ignored: changes.length - applied };
}

/** Drops signals that ended long enough ago to matter no more. Endpoints stay: they are evidence of "offline". */
export function collectGarbage(signals: Signal[], now: number, graceMs: number): Signal[] {
  let kept: Signal[] | undefined;
  for (let i = 0; i < signals.length; i++) {
    const s = signals[i]!;
    if (keep(s, now, graceMs)) kept?.push(s);
    else kept ??= signals.slice(0, i);
  }
  return kept ?? signals;
}
