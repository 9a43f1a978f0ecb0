import type { Strategy } from '../../../shared/domain/group.js';
import type { AgentCallState, GroupRoutingState, MemberRoutingState } from '../../../shared/store/routing-state.js';

/** An eligible member, with their place in the group's configured member list. */
export interface Candidate {
  personId: string;
  position: number;
  priority: number;
  ringTimeoutSeconds: number;
}

export interface StrategyContext {
  state: GroupRoutingState;
  agents: ReadonlyMap<string, AgentCallState>;
  now: number;
  /** The group's local date at `now` (`YYYY-MM-DD`), for calls today. */
  day: string;
  /** Every configured member in order, eligible or not (round robin cycles through all of them). */
  members: readonly string[];
}

/** One ring strategy: a pure ordering of eligible members. */
export interface RingStrategy {
  readonly name: Strategy;
  /** Rings a whole priority tier at once (else one member per step). */
  readonly ringsTogether: boolean;
  /** Each call is remembered (pointer, offer in flight), so concurrent calls spread over the members. */
  readonly stateful: boolean;
  order(candidates: readonly Candidate[], ctx: StrategyContext): Candidate[];
}

export const byPosition = (a: Candidate, b: Candidate) => a.position - b.position;

/** Offers made to this member that may still be ringing at `now`. */
export function activeOffers(m: MemberRoutingState | undefined, now: number): number {
  if (!m) return 0;
  let n = 0;
  for (const until of m.offers) if (until > now) n++;
  return n;
}

/** Calls completed on `day`: yesterday's count does not carry over. */
export function callsOn(m: MemberRoutingState | undefined, day: string): number {
  return m && m.day === day ? m.callsToday : 0;
}
