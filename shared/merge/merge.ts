import type { Activity, Availability } from '../domain/activity.js';
import type { Policy, PolicyRule } from '../domain/policy.js';
import type { Decision, ExplanationEntry, NextState } from '../domain/presence.js';
import { own } from '../domain/own.js';
import type { Claim, Endpoint, Signal } from '../domain/signal.js';
import { judge, min } from './freshness.js';
import { endsWrapUp, readySince, type Decider } from './ready.js';
import { workingHoursAt } from './working-hours.js';

interface Candidate {
  signal: Signal;
  rule: PolicyRule;
  ruleIndex: number;
  rank: number;
  activity: Activity;
  availability: Availability;
  until?: number;
}

interface Core {
  availability: Availability;
  activity: Activity;
  endpoints: Endpoint[];
  winner?: Candidate;
  /** Filled only when asked for: the look-ahead and the engine's hot path never read it. */
  explanation: ExplanationEntry[];
  wakeAt?: number;
}

/** The activity a claim asserts, before policy. */
function activityOf(claim: Claim): Activity | undefined {
  switch (claim.kind) {
    case 'dnd':
      return 'dnd';
    case 'call':
      return claim.state;
    case 'status':
    case 'calendar':
      return claim.activity;
    case 'wrap-up':
      return 'wrap-up';
    case 'working-hours':
      return 'off-work';
    default:
      return undefined;
  }
}

function matches(rule: PolicyRule, signal: Signal, activity: Activity): boolean {
  if (rule.claim !== signal.claim.kind) return false;
  if (rule.sources && !rule.sources.includes(signal.source)) return false;
  if (rule.activities && !rule.activities.includes(activity)) return false;
  return true;
}

function byPriority(a: Candidate, b: Candidate): number {
  return (
    a.ruleIndex - b.ruleIndex ||
    a.rank - b.rank ||
    b.signal.observedAt - a.signal.observedAt ||
    (a.signal.id < b.signal.id ? -1 : a.signal.id > b.signal.id ? 1 : 0)
  );
}

function byEndpoint(a: Endpoint, b: Endpoint): number {
  return a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function entry(s: Signal, verdict: ExplanationEntry['verdict'], reason: string, rule?: string): ExplanationEntry {
  const e: ExplanationEntry = { signal: s.id, source: s.source, claim: s.claim.kind, verdict, reason };
  if (rule !== undefined) e.rule = rule;
  return e;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function reach(endpoints: Endpoint[], e: Endpoint): void {
  for (let i = 0; i < endpoints.length; i++) {
    if (endpoints[i]!.id === e.id) {
      endpoints[i] = e;
      return;
    }
  }
  endpoints.push(e);
}

const startOf = (s: Signal): number => s.from ?? s.observedAt;

/** "Ready" set before the call that `wrapUp` follows: the wrap-up outlasts it (ready.ts). */
function saysReadyBefore(c: Candidate, wrapUp: Candidate): boolean {
  const d: Decider = { source: c.signal.source, availability: c.availability, since: startOf(c.signal) };
  return readySince(d) !== undefined && !endsWrapUp(d, startOf(wrapUp.signal));
}

/** The wrap-up that began last, if one is in force and a policy rule ranks it. */
function latestWrapUp(candidates: readonly Candidate[]): Candidate | undefined {
  let latest: Candidate | undefined;
  for (const c of candidates) if (c.signal.claim.kind === 'wrap-up' && (!latest || startOf(c.signal) > startOf(latest.signal))) latest = c;
  return latest;
}

/** One evaluation at one instant, without looking ahead. */
function decide(signals: readonly Signal[], policy: Policy, now: number, explain: boolean): Core {
  const explanation: ExplanationEntry[] = [];
  const candidates: Candidate[] = [];
  // A person has a handful of endpoints: a list replaced by id (the last claim for an id wins) costs less than a Map.
  const endpoints: Endpoint[] = [];
  let endpointEvidence = false;
  let wakeAt: number | undefined;

  for (const s of signals) {
    if (s.claim.kind === 'cleared') continue;
    const j = judge(s, policy, now);
    wakeAt = min(wakeAt, j.changesAt);
    if (j.state !== 'live') {
      if (s.claim.kind === 'endpoint' && j.state === 'expired') endpointEvidence = true;
      if (!explain) continue;
      const reason =
        j.state === 'pending'
          ? `starts at ${iso(s.from!)}`
          : j.state === 'expired'
            ? `ended at ${iso(s.until!)}`
            : `no update since ${iso(s.observedAt)}`;
      explanation.push(entry(s, j.state, reason));
      continue;
    }
    const claim = s.claim;
    if (claim.kind === 'endpoint') {
      endpointEvidence = true;
      if (claim.reachable) reach(endpoints, claim.endpoint);
      if (explain) explanation.push(entry(s, claim.reachable ? 'reachable' : 'unreachable', `${claim.endpoint.kind} ${claim.endpoint.id}`));
      continue;
    }
    let until = s.until;
    if (claim.kind === 'working-hours') {
      const wh = workingHoursAt(claim.zone, claim.week, now);
      wakeAt = min(wakeAt, wh.nextEdge);
      if (wh.inside) {
        if (explain) explanation.push(entry(s, 'inactive', 'inside working hours'));
        continue;
      }
      until = wh.nextEdge;
    }
    const activity = activityOf(claim)!;
    const ruleIndex = policy.rules.findIndex((r) => matches(r, s, activity));
    if (ruleIndex < 0) {
      if (explain) explanation.push(entry(s, 'inactive', activity === 'unknown' ? 'the source cannot say (unknown)' : 'no policy rule matches'));
      continue;
    }
    const rule = policy.rules[ruleIndex]!;
    const rank = rule.activities ? rule.activities.indexOf(activity) : 0;
    // A custom reason the tenant has not mapped counts as busy: never silently available.
    const availability = rule.availability ?? own(policy.activities, activity) ?? 'busy';
    const c: Candidate = { signal: s, rule, ruleIndex, rank, activity, availability };
    if (until !== undefined) c.until = until;
    candidates.push(c);
  }

  if (endpoints.length > 1) endpoints.sort(byEndpoint);
  if (candidates.length > 1) candidates.sort(byPriority);
  const wrapUp = latestWrapUp(candidates);
  let winner: Candidate | undefined;
  for (const c of candidates) {
    if (winner) {
      if (!explain) break;
      if (c !== winner) explanation.push(entry(c.signal, 'lost', `outranked by ${winner.signal.id} (rule ${winner.rule.id})`, c.rule.id));
    } else if (c.availability === 'available' && endpoints.length === 0) {
      if (explain) explanation.push(entry(c.signal, 'lost', 'gives available, but no endpoint is reachable', c.rule.id));
    } else if (wrapUp && saysReadyBefore(c, wrapUp)) {
      // The wrap-up takes the place of the "available" it follows: a meeting or out-of-office the person
      // had said available over, ranked between them, must not show (and ring, where meetings ring) instead.
      winner = wrapUp;
      if (explain) explanation.push(entry(c.signal, 'lost', `set before the call that ${wrapUp.signal.id} wraps up`, c.rule.id));
      if (explain) explanation.push(entry(wrapUp.signal, 'won', `rule ${wrapUp.rule.id}: ${wrapUp.activity} (${wrapUp.availability}), in place of ${c.signal.id}`, wrapUp.rule.id));
    } else {
      winner = c;
      if (explain) explanation.push(entry(c.signal, 'won', `rule ${c.rule.id}: ${c.activity} (${c.availability})`, c.rule.id));
    }
  }

  const core: Core = { availability: 'unknown', activity: 'unknown', endpoints, explanation };
  if (wakeAt !== undefined) core.wakeAt = wakeAt;
  if (winner) {
    core.availability = winner.availability;
    core.activity = winner.activity;
    core.winner = winner;
  } else if (endpoints.length > 0) {
    core.availability = 'available';
    core.activity = 'available';
  } else if (endpointEvidence) {
    core.availability = 'offline';
    core.activity = 'offline';
  }
  return core;
}

/** Whether the look-ahead assumes the signal stays as it is: what is live now, and what is yet to start. */
const holds = (s: Signal, policy: Policy, now: number): boolean => {
  const state = judge(s, policy, now).state;
  return state === 'live' || state === 'pending';
};

interface Planned {
  /** In order, each once. */
  instants: number[];
  beyond?: number;
}

function plan(p: Planned, t: number | undefined, now: number, horizon: number): void {
  if (t === undefined || t <= now) return;
  if (t > horizon) p.beyond = min(p.beyond, t);
  else if (!p.instants.includes(t)) p.instants.push(t);
}

/**
 * Instants at which a scheduled fact (not a TTL or trust window) of a signal that holds (above) starts or
 * ends, after `now` and up to `horizon`; `beyond` is the first such instant past the horizon.
 */
function plannedInstants(signals: readonly Signal[], policy: Policy, now: number, horizon: number): Planned {
  const p: Planned = { instants: [] };
  for (const s of signals) {
    if (s.claim.kind === 'endpoint' || s.claim.kind === 'cleared' || !holds(s, policy, now)) continue;
    plan(p, s.from, now, horizon);
    plan(p, s.until, now, horizon);
    if (s.claim.kind === 'working-hours') {
      let t = Math.max(now, s.from ?? now);
      const end = Math.min(horizon, s.until ?? horizon);
      // A week holds at most a few edges per day; 32 covers any sane schedule.
      for (let i = 0; i < 32; i++) {
        const edge = workingHoursAt(s.claim.zone, s.claim.week, t).nextEdge;
        if (edge === undefined || edge >= end) break;
        plan(p, edge, now, horizon);
        t = edge;
      }
    }
  }
  if (p.instants.length > 1) p.instants.sort((a, b) => a - b);
  return p;
}

/**
 * The signals as the look-ahead assumes they stay: device registrations and app heartbeats keep being
 * refreshed, and no trust window runs out.
 */
function steadySignals(signals: readonly Signal[], policy: Policy, now: number): Signal[] {
  const steady: Signal[] = [];
  for (const s of signals) {
    if (s.claim.kind === 'endpoint') {
      const state = judge(s, policy, now).state;
      // An expired endpoint stays evidence of "offline"; a live one is assumed to keep being refreshed.
      if (state === 'live' && s.until !== undefined) {
        const { until: _ttl, ...rest } = s;
        steady.push(rest);
      } else if (state !== 'stale') steady.push(s);
    } else if (holds(s, policy, now)) steady.push(s);
  }
  return steady;
}

const MAX_LOOKAHEAD_STEPS = 64;
const NOTHING_AHEAD: { next?: NextState; horizonWake?: number } = Object.freeze({});

/**
 * The next known transition, assuming what is live now stays live: device registrations and app
 * heartbeats keep being refreshed and no trust window runs out. Only planned facts move. Most states
 * have none ahead (a call, a registration): then nothing is copied.
 */
function lookahead(signals: readonly Signal[], policy: Policy, now: number, current: Core): { next?: NextState; horizonWake?: number } {
  const { instants, beyond } = plannedInstants(signals, policy, now, now + policy.lookaheadMs);
  if (instants.length === 0 && beyond === undefined) return NOTHING_AHEAD;
  // Wake when the next fact past the horizon comes into view, so `next` is announced in time.
  const out: { next?: NextState; horizonWake?: number } = beyond === undefined ? {} : { horizonWake: beyond - policy.lookaheadMs };
  if (instants.length === 0) return out;
  const steady = steadySignals(signals, policy, now);
  const steadyPolicy: Policy = { ...policy, stale: [] };
  for (let i = 0; i < instants.length && i < MAX_LOOKAHEAD_STEPS; i++) {
    const at = instants[i]!;
    const d = decide(steady, steadyPolicy, at, false);
    if (d.availability !== current.availability || d.activity !== current.activity) {
      out.next = { at, availability: d.availability, activity: d.activity };
      break;
    }
  }
  return out;
}

function evaluate(signals: readonly Signal[], policy: Policy, now: number, explain: boolean): Decision {
  const core = decide(signals, policy, now, explain);
  const d: Decision = {
    availability: core.availability,
    activity: core.activity,
    routable: core.availability === 'available' && core.endpoints.length > 0,
    endpoints: core.endpoints,
    explanation: core.explanation,
  };
  if (core.winner) {
    d.source = core.winner.signal.source;
    d.rule = core.winner.rule.id;
    d.signal = core.winner.signal.id;
    if (core.winner.until !== undefined) d.until = core.winner.until;
    if (core.winner.signal.note !== undefined) d.note = core.winner.signal.note;
  }
  const { next, horizonWake } = lookahead(signals, policy, now, core);
  if (next) d.next = next;
  const wakeAt = min(core.wakeAt, horizonWake);
  if (wakeAt !== undefined) d.wakeAt = wakeAt;
  return d;
}

/**
 * The canonical decision for one person: a pure function of the signals, the tenant's policy and the
 * instant. It reads no clock and does no I/O. The order of `signals` does not matter.
 */
export function merge(signals: readonly Signal[], policy: Policy, now: number): Decision {
  return evaluate(signals, policy, now, true);
}

/**
 * `merge` without the explanation (its `explanation` is empty): what the engine stores and compares.
 * Wording the explanation costs more than deciding, and it is read rarely (an administrator's view), so
 * the engine attaches it lazily with `explainLater`.
 */
export function mergeUnexplained(signals: readonly Signal[], policy: Policy, now: number): Decision {
  return evaluate(signals, policy, now, false);
}

/** The explanation of `merge(signals, policy, now)`, alone: no look-ahead. */
export function explain(signals: readonly Signal[], policy: Policy, now: number): ExplanationEntry[] {
  return decide(signals, policy, now, true).explanation;
}

/** A hidden (non-enumerable) own property holding what decided. */
const INPUTS = Symbol('explanation inputs');

interface Explainable {
  [INPUTS]: { signals: readonly Signal[]; policy: Policy; at: number };
}

/**
 * One getter shared by every lazily explained object, so they all keep one hidden class. The merge is
 * pure, so working the explanation out again from the same signals, policy and instant gives exactly
 * the explanation of what decided.
 */
const LAZY_EXPLANATION: PropertyDescriptor = {
  enumerable: true,
  configurable: true,
  get(this: Explainable): ExplanationEntry[] {
    const { signals, policy, at } = this[INPUTS];
    return explain(signals, policy, at);
  },
  // Writing it stores the array given, as for an ordinary property.
  set(this: Explainable, value: ExplanationEntry[]) {
    Object.defineProperty(this, 'explanation', { value, writable: true, enumerable: true, configurable: true });
  },
};

/**
 * Gives `target` an `explanation` worked out on each read from the inputs of its decision. It stays an
 * own enumerable property (JSON, spreads and clones see an ordinary array); the inputs are hidden. It
 * holds the signal array and the policy, which the person's state holds anyway.
 */
export function explainLater<T extends object>(target: T, signals: readonly Signal[], policy: Policy, at: number): T & { explanation: ExplanationEntry[] } {
  // Two property definitions, not one per input: defining a property is a slow call, and this runs on
  // every merge the engine stores.
  Object.defineProperty(target, INPUTS, { value: { signals, policy, at } });
  Object.defineProperty(target, 'explanation', LAZY_EXPLANATION);
  return target as T & { explanation: ExplanationEntry[] };
}

/** A copy of `target` with `extra` over it; a lazy explanation stays lazy (a spread would work it out). */
export function withFields<T extends object>(target: T, extra: Partial<T>): T {
  const inputs = (target as Partial<Explainable>)[INPUTS];
  if (!inputs) return { ...target, ...extra };
  const copy: Record<string, unknown> = {};
  for (const k of Object.keys(target)) if (k !== 'explanation') copy[k] = (target as Record<string, unknown>)[k];
  return explainLater(Object.assign(copy, extra), inputs.signals, inputs.policy, inputs.at) as T;
}

/** The decision without its explanation, plus `extra`; a lazy explanation is not worked out. */
export function withoutExplanation<T extends object>(d: Decision, extra: T): Omit<Decision, 'explanation'> & T {
  return withDecided({ availability: d.availability, activity: d.activity, routable: d.routable, endpoints: d.endpoints, ...extra }, d);
}

/**
 * Copies the decision's optional fields that are set onto `p` (which holds its required ones), in the
 * order `withoutExplanation` gives them.
 */
export function withDecided<P extends Pick<Decision, 'availability' | 'activity' | 'routable' | 'endpoints'>>(p: P, d: Decision): P & Omit<Decision, 'explanation'> {
  const out: P & Omit<Decision, 'explanation'> = p;
  if (d.source !== undefined) out.source = d.source;
  if (d.rule !== undefined) out.rule = d.rule;
  if (d.signal !== undefined) out.signal = d.signal;
  if (d.until !== undefined) out.until = d.until;
  if (d.note !== undefined) out.note = d.note;
  if (d.next !== undefined) out.next = d.next;
  if (d.wakeAt !== undefined) out.wakeAt = d.wakeAt;
  return out;
}

/** Two decisions that a consumer would see as the same state (explanations aside). */
export function sameState(a: Decision, b: Decision): boolean {
  return (
    a.availability === b.availability &&
    a.activity === b.activity &&
    a.routable === b.routable &&
    a.until === b.until &&
    a.note === b.note &&
    a.source === b.source &&
    a.next?.at === b.next?.at &&
    a.next?.activity === b.next?.activity &&
    a.next?.availability === b.next?.availability &&
    sameEndpoints(a, b)
  );
}

/** Whether a phone system would ring two decisions alike: the same routability and endpoints, in order. */
export function sameRouting(a: Decision, b: Decision): boolean {
  return a.routable === b.routable && sameEndpoints(a, b);
}

/** Whether two decisions name the same endpoints, in the same order, with the same contacts. */
export function sameEndpoints(a: Pick<Decision, 'endpoints'>, b: Pick<Decision, 'endpoints'>): boolean {
  return (
    a.endpoints.length === b.endpoints.length &&
    a.endpoints.every((e, i) => {
      const o = b.endpoints[i]!;
      return e.id === o.id && e.kind === o.kind && e.contact === o.contact;
    })
  );
}
