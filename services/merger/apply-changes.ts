import type { Signal } from '../../shared/domain/signal.js';

/** What a connector asks of a person's signal set. */
export type SignalChange =
  | { op: 'put'; signal: Signal }
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
 * Applies changes in order. Sources report their own observation instants, so an event older than what
 * is already known for the same id is out of order and ignored, and an identical one is a duplicate.
 * A person holds a handful of signals, so a scan beats building a map. `current` is never modified:
 * it is copied on the first change, and returned as it is when nothing applies.
 */
export function applyChanges(current: readonly Signal[], changes: readonly SignalChange[]): Applied {
  let signals: Signal[] | undefined;
  let applied = 0;
  let ignored = 0;
  for (const c of changes) {
    const list = signals ?? current;
    if (c.op === 'remove') {
      const i = indexOf(list, c.id);
      if (i >= 0) {
        (signals ??= current.slice()).splice(i, 1);
        applied++;
      } else ignored++;
      continue;
    }
    if (c.op === 'clear') {
      let hit = false;
      for (let i = 0; i < list.length; i++) {
        const s = list[i]!;
        if (!s.id.startsWith(c.prefix) || s.observedAt > c.observedAt || s.claim.kind === 'cleared') continue;
        (signals ??= current.slice())[i] = { id: s.id, source: c.source, claim: { kind: 'cleared' }, observedAt: c.observedAt, until: c.observedAt + c.keepMs };
        hit = true;
      }
      if (hit) applied++;
      else ignored++;
      continue;
    }
    const i = indexOf(list, c.signal.id);
    const old = i >= 0 ? list[i] : undefined;
    if (old && (old.observedAt > c.signal.observedAt || (old.observedAt === c.signal.observedAt && sameJson(old, c.signal)))) {
      ignored++;
      continue;
    }
    signals ??= current.slice();
    if (i >= 0) signals[i] = c.signal;
    else signals.push(c.signal);
    applied++;
  }
  return { signals: signals ?? (current as Signal[]), applied, ignored };
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
