import type { Contact, RingEntry } from './decision.js';
import type { Candidate, RingStrategy } from './strategies/strategy.js';

export interface Ringable {
  name: string;
  contacts: Contact[];
  note?: string;
}

/** Lower priority first, keeping the strategy's order within a tier (a stable sort). */
export function byTier(ordered: readonly Candidate[]): Candidate[] {
  return [...ordered].sort((a, b) => a.priority - b.priority);
}

/**
 * The ring list: members in ring order with their contacts, grouped into steps. Simultaneous ringing
 * makes each priority tier one step; every other strategy rings one member per step.
 */
export function ringList(ordered: readonly Candidate[], strategy: RingStrategy, people: ReadonlyMap<string, Ringable>): RingEntry[] {
  const out: RingEntry[] = [];
  let step = -1;
  let tier: number | undefined;
  for (const c of ordered) {
    if (!strategy.ringsTogether || c.priority !== tier) step++;
    tier = c.priority;
    const p = people.get(c.personId)!;
    const entry: RingEntry = { step, personId: c.personId, name: p.name, priority: c.priority, ringTimeoutSeconds: c.ringTimeoutSeconds, contacts: p.contacts };
    if (p.note) entry.note = p.note;
    out.push(entry);
  }
  return out;
}

/** How long the caller hears ringing before the fallback chain: each step lasts as long as its longest member. */
export function totalRingSeconds(ring: readonly RingEntry[]): number {
  const steps = new Map<number, number>();
  for (const r of ring) steps.set(r.step, Math.max(steps.get(r.step) ?? 0, r.ringTimeoutSeconds));
  let total = 0;
  for (const s of steps.values()) total += s;
  return total;
}
