import type { Policy } from '../../shared/domain/policy.js';
import type { Decision } from '../../shared/domain/presence.js';
import type { Signal } from '../../shared/domain/signal.js';
import { judge } from '../../shared/merge/freshness.js';
import { mergeUnexplained, withoutExplanation } from '../../shared/merge/merge.js';
import type { PersonState } from '../../shared/store/port.js';

/** Routing reads no explanation; a stored presence works its explanation out only when read. */
export interface PresenceAt extends Omit<Decision, 'explanation'> {
  /** Since when the deciding fact holds (the answer of a call, the start of a meeting). */
  decidedSince?: number;
}

const NOTHING: Decision = { availability: 'unknown', activity: 'unknown', routable: false, endpoints: [], explanation: [] };

/**
 * Endpoints reachable now are assumed to stay reachable (registrations and app heartbeats keep being
 * refreshed), as the merge's own look-ahead assumes; planned facts (meetings, manual statuses, wrap-up,
 * working hours) move as they will.
 */
function steady(signals: readonly Signal[], policy: Policy, now: number): Signal[] {
  return signals.map((s) => {
    if (s.claim.kind !== 'endpoint' || s.until === undefined || judge(s, policy, now).state !== 'live') return s;
    const { until: _ttl, ...rest } = s;
    return rest;
  });
}

function decidedSince(d: Decision, signals: readonly Signal[]): number | undefined {
  const s = d.signal === undefined ? undefined : signals.find((x) => x.id === d.signal);
  return s ? (s.from ?? s.observedAt) : undefined;
}

function current(state: PersonState, policy: Policy, now: number): Decision {
  const stored = state.presence;
  // A stored state whose next change is already due (its timer has not run yet) is merged afresh.
  if (stored && (stored.wakeAt === undefined || stored.wakeAt > now)) return stored;
  return state.signals.length > 0 ? mergeUnexplained(state.signals, policy, now) : (stored ?? NOTHING);
}

/**
 * A person's presence at `at`. At `now` it is the stored canonical state; at a later instant (a dry
 * run) it is the pure merge of their current signals at that instant, so calendar transitions known now
 * are reflected. Nothing is written.
 */
export function presenceAt(state: PersonState, policy: Policy, at: number, now: number): PresenceAt {
  const d = at <= now ? current(state, policy, now) : mergeUnexplained(steady(state.signals, policy, now), policy, at);
  const since = decidedSince(d, state.signals);
  return withoutExplanation(d, since === undefined ? {} : { decidedSince: since });
}
