import type { Policy } from '../domain/policy.js';
import type { Signal } from '../domain/signal.js';

export type Freshness = 'live' | 'pending' | 'expired' | 'stale';

export interface Judgement {
  state: Freshness;
  /** The instant at which this judgement next changes, if one is known. */
  changesAt?: number;
}

/** The staleness window the policy sets for a signal, if any. */
export function staleAfter(signal: Signal, policy: Policy): number | undefined {
  const claim = signal.claim;
  const state =
    claim.kind === 'call' ? claim.state : claim.kind === 'status' || claim.kind === 'calendar' ? claim.activity : undefined;
  for (const rule of policy.stale) {
    if (rule.claim !== claim.kind) continue;
    if (rule.state !== undefined && rule.state !== state) continue;
    if (rule.source !== undefined && rule.source !== signal.source) continue;
    return rule.afterMs;
  }
  return undefined;
}

// Judgements without an instant are shared (and frozen): the merge judges every signal several times.
const EXPIRED: Judgement = Object.freeze({ state: 'expired' });
const STALE: Judgement = Object.freeze({ state: 'stale' });
const LIVE: Judgement = Object.freeze({ state: 'live' });

/**
 * The one place that decides whether a signal may be believed at `now`: not started yet (pending),
 * past its `until` (expired), past the policy's trust window since it was observed (stale), or live.
 */
export function judge(signal: Signal, policy: Policy, now: number): Judgement {
  if (signal.from !== undefined && now < signal.from) return { state: 'pending', changesAt: signal.from };
  if (signal.until !== undefined && now >= signal.until) return EXPIRED;
  const window = staleAfter(signal, policy);
  const staleAt = window === undefined ? undefined : signal.observedAt + window;
  if (staleAt !== undefined && now >= staleAt) return STALE;
  const changesAt = min(signal.until, staleAt);
  return changesAt === undefined ? LIVE : { state: 'live', changesAt };
}

export function min(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}
