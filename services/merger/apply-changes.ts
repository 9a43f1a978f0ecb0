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

function sameClaim(a: Signal, b: Signal): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Applies changes in order. Sources report their own observation instants, so an event older than what
 * is already known for the same id is out of order and ignored, and an identical one is a duplicate.
 */
export function applyChanges(current: readonly Signal[], changes: readonly SignalChange[]): Applied {
  const byId = new Map<string, Signal>();
  for (const s of current) byId.set(s.id, s);
  let applied = 0;
  let ignored = 0;
  for (const c of changes) {
    if (c.op === 'remove') {
      if (byId.delete(c.id)) applied++;
      else ignored++;
      continue;
    }
    if (c.op === 'clear') {
      let hit = false;
      for (const [id, s] of byId) {
        if (!id.startsWith(c.prefix) || s.observedAt > c.observedAt || s.claim.kind === 'cleared') continue;
        byId.set(id, { id, source: c.source, claim: { kind: 'cleared' }, observedAt: c.observedAt, until: c.observedAt + c.keepMs });
        hit = true;
      }
      if (hit) applied++;
      else ignored++;
      continue;
    }
    const old = byId.get(c.signal.id);
    if (old && (old.observedAt > c.signal.observedAt || (old.observedAt === c.signal.observedAt && sameClaim(old, c.signal)))) {
      ignored++;
      continue;
    }
    byId.set(c.signal.id, c.signal);
    applied++;
  }
  return { signals: [...byId.values()], applied, ignored };
}

/** Drops signals that ended long enough ago to matter no more. Endpoints stay: they are evidence of "offline". */
export function collectGarbage(signals: Signal[], now: number, graceMs: number): Signal[] {
  const keep = signals.filter((s) => s.claim.kind === 'endpoint' || s.until === undefined || s.until + graceMs > now);
  return keep.length === signals.length ? signals : keep;
}
