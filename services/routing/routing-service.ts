import { DateTime } from 'luxon';
import type { Clock } from '../../shared/clock/clock.js';
import type { Person } from '../../shared/domain/directory.js';
import type { Group } from '../../shared/domain/group.js';
import { AppError, notFound, unprocessable } from '../../shared/errors/errors.js';
import type { Store } from '../../shared/store/port.js';
import type { GroupRoutingState, RoutingStateStore } from '../../shared/store/routing-state.js';
import { seesActivity, type Detail } from '../api/views.js';
import type { CallOutcome, CallOutcomeListener } from '../connectors/pbx/call-outcomes.js';
import type { DirectoryService } from '../directory/directory-service.js';
import { applyOutcomeToAgent, applyOutcomeToMember } from './call-outcomes.js';
import type { LeftOut, RouteDecision } from './decision.js';
import { judgeMember, type EligibilityRules, type MemberFacts } from './eligibility.js';
import { resolveChain, type OverflowResult } from './fallback-chain.js';
import { withOffer } from './offers.js';
import { presenceAt } from './presence-at.js';
import { byTier, ringList, totalRingSeconds, type Ringable } from './ring-list.js';
import { scheduleAt } from './schedule.js';
import { STRATEGY_IMPLEMENTATIONS } from './strategies/index.js';
import type { Candidate } from './strategies/strategy.js';
import { closedReason } from './wording.js';
import { own } from '../../shared/domain/own.js';

export type RouteTargetRef = { group: string } | { person: string } | { dialled: string };

export interface RouteRequest {
  target: RouteTargetRef;
  caller?: string;
  /** Minimum skill levels the call needs. */
  skills: Record<string, number>;
  /** Epoch ms; absent means now. */
  at?: number;
  dryRun: boolean;
}

export interface DecideOptions {
  detailFor: (person: Person) => Detail;
  /** Whether the caller may see which of someone's endpoints are reachable now (absent: yes). */
  seesEndpoints?: (person: Person) => boolean;
  /** Whether a live decision may change strategy state (the PBX's and administrators' calls do). */
  mayCommit: boolean;
}

/** A dialled person is routed like a group of one, ringing all their reachable devices at once. */
export const PERSON_RING_TIMEOUT_SECONDS = 20;
/** An instant this far in the past still means "now" (clock skew between the PBX and us). */
const PAST_TOLERANCE_MS = 60_000;
/** A dry run looks at most this far ahead, the longest the merge looks ahead. */
const MAX_AHEAD_MS = 31 * 86_400_000;

interface EvalOptions extends DecideOptions {
  tenantId: string;
  at: number;
  now: number;
  commit: boolean;
  caller?: string;
  skills: Record<string, number>;
  /** An overflow group evaluated for another group's chain: its own chain is not followed. */
  nested: boolean;
  /** The zone times are worded in when it is not the group's own: an overflow's, in the asking group's zone. */
  wordIn?: string;
}

/** Both requirements hold: a call cannot lower the level its group asks for. */
function strictest(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = { ...a };
  for (const [skill, level] of Object.entries(b)) out[skill] = Math.max(own(out, skill) ?? 0, level);
  return out;
}

function personAsGroup(p: Person): Group {
  return {
    id: p.id,
    tenantId: p.tenantId,
    name: p.name,
    kind: 'hunt',
    timeZone: p.timeZone,
    strategy: 'simultaneous',
    ringTimeoutSeconds: PERSON_RING_TIMEOUT_SECONDS,
    leaveWhen: { dnd: true, meeting: true },
    requiredSkills: {},
    members: [{ personId: p.id, priority: 0, skills: {} }],
    fallback: [],
    afterHours: [],
  };
}

/**
 * Presence-aware call routing: who to ring for a call to a group or person, in what order and for how
 * long, what happens when nobody answers, and why everyone else is left out. It reads canonical presence
 * and the directory, and changes nothing but the group's strategy state (never on a dry run).
 */
export class RoutingService implements CallOutcomeListener {
  constructor(
    private readonly deps: { store: Store; routingState: RoutingStateStore; directory: DirectoryService; clock: Clock },
  ) {}

  async resolveTarget(tenantId: string, ref: RouteTargetRef): Promise<{ kind: 'group'; group: Group } | { kind: 'person'; person: Person }> {
    const { directory: docs } = this.deps.store;
    if ('group' in ref) {
      const g = await docs.get('groups', tenantId, ref.group);
      if (!g) throw notFound('group', ref.group);
      return { kind: 'group', group: g };
    }
    if ('person' in ref) {
      const p = await docs.get('people', tenantId, ref.person);
      if (!p) throw notFound('person', ref.person);
      return { kind: 'person', person: p };
    }
    // A dialled string is a group id or extension first, then a person id or extension.
    const d = ref.dialled;
    const group = (await docs.get('groups', tenantId, d)) ?? (await docs.findUnique('groups', 'extension', d, tenantId));
    if (group) return { kind: 'group', group };
    const person = (await docs.get('people', tenantId, d)) ?? (await docs.findUnique('people', 'extension', d, tenantId));
    if (person) return { kind: 'person', person };
    throw new AppError(404, 'route_target_not_found', `nothing is dialled as ${d}: no group or person has that id or extension`);
  }

  async decide(tenantId: string, req: RouteRequest, opts: DecideOptions): Promise<RouteDecision> {
    const now = this.deps.clock.now();
    let at = req.at ?? now;
    if (at < now - PAST_TOLERANCE_MS) throw unprocessable('instant_in_past', 'routing can only be asked for now or a future instant');
    if (at > now + MAX_AHEAD_MS) throw unprocessable('instant_too_far', 'a dry run looks at most 31 days ahead');
    if (at < now) at = now;
    // A caller that may not move strategy state (a supervisor) always gets a dry run.
    const dryRun = req.dryRun || at > now || !opts.mayCommit;
    const target = await this.resolveTarget(tenantId, req.target);
    const group = target.kind === 'group' ? target.group : personAsGroup(target.person);
    const e: EvalOptions = { ...opts, tenantId, at, now, commit: !dryRun, skills: req.skills, nested: false };
    if (req.caller !== undefined) e.caller = req.caller;
    const decision = await this.evaluate(group, target.kind, e);
    decision.dryRun = dryRun;
    return decision;
  }

  private async evaluate(group: Group, kind: 'group' | 'person', o: EvalOptions): Promise<RouteDecision> {
    const { store, routingState, directory } = this.deps;
    const { tenantId, at, now } = o;
    const zone = group.timeZone;
    // One answer, one zone: an overflow group's "opens 08:00" in its own zone would read as the asking group's time.
    const wordIn = o.wordIn ?? zone;
    const decision: RouteDecision = {
      at,
      dryRun: false,
      target: { kind, id: group.id, name: group.name, timeZone: zone },
      status: 'fallback',
      open: true,
      strategy: group.strategy,
      ringTimeoutSeconds: group.ringTimeoutSeconds,
      totalRingSeconds: 0,
      ring: [],
      fallback: [],
      leftOut: [],
    };

    const schedule = scheduleAt(group.schedule, zone, at);
    if (schedule.changesAt !== undefined) decision.scheduleChangesAt = schedule.changesAt;
    if (!schedule.open) {
      decision.open = false;
      decision.status = 'closed';
      decision.closedReason = closedReason(schedule.closedBy!, schedule.changesAt, at, wordIn);
      if (!o.nested) decision.fallback = await resolveChain(group.afterHours, this.chainContext(decision, o));
      return decision;
    }

    const ids = group.members.map((m) => m.personId);
    const [people, states, agents, groupState, policy, tenant, pauses] = await Promise.all([
      Promise.all(ids.map((id) => store.directory.get('people', tenantId, id))),
      Promise.all(ids.map((id) => store.state.read(tenantId, id))),
      routingState.readAgents(tenantId, ids),
      kind === 'group' ? routingState.readGroup(tenantId, group.id) : Promise.resolve<GroupRoutingState>({ seq: 0, members: {} }),
      directory.policyFor(tenantId),
      directory.getTenant(tenantId),
      kind === 'group' ? Promise.all(ids.map((id) => store.directory.get('queuePauses', tenantId, id))) : Promise.resolve([]),
    ]);

    const rules: EligibilityRules = {
      at,
      zone: wordIn,
      leaveWhen: group.leaveWhen,
      requiredSkills: strictest(group.requiredSkills, o.skills),
      wrapUpSeconds: group.wrapUpSeconds ?? tenant.settings.wrapUpSeconds,
      detailFor: o.detailFor,
    };
    if (o.caller !== undefined) rules.caller = o.caller;
    if (kind === 'group') rules.groupId = group.id;

    const candidates: Candidate[] = [];
    const ringable = new Map<string, Ringable>();
    const leftOut: LeftOut[] = [];
    group.members.forEach((member, position) => {
      const facts: MemberFacts = {
        member,
        person: people[position],
        presence: presenceAt(states[position]!, policy, at, now),
        agent: agents.get(member.personId)!,
        memberState: own(groupState.members, member.personId),
        pause: pauses[position],
      };
      const j = judgeMember(facts, rules);
      if (!j.eligible) {
        leftOut.push(j.leftOut);
        return;
      }
      candidates.push({ personId: member.personId, position, priority: member.priority, ringTimeoutSeconds: member.ringTimeoutSeconds ?? group.ringTimeoutSeconds });
      const person = facts.person!;
      // Design §6: whoever sees only a sensitive person's availability learns neither which of their
      // endpoints are reachable now (a live mobile app) nor that they ring despite a meeting or DND.
      const r: Ringable = { name: person.name, contacts: (o.seesEndpoints?.(person) ?? true) ? j.contacts : [] };
      if (j.note && seesActivity(o.detailFor(person))) r.note = j.note;
      ringable.set(member.personId, r);
    });

    const strategy = STRATEGY_IMPLEMENTATIONS[group.strategy];
    const ctx = { agents, now: at, day: DateTime.fromMillis(at, { zone }).toISODate()!, members: ids };
    let ordered: Candidate[];
    if (o.commit && strategy.stateful && candidates.length > 0) {
      // Choosing and recording the choice is one atomic step, so concurrent calls spread over the members.
      ordered = await routingState.updateGroup(tenantId, group.id, (state) => {
        const order = byTier(strategy.order(candidates, { ...ctx, state }));
        return { next: withOffer(state, order, now), result: order };
      });
    } else {
      ordered = byTier(strategy.order(candidates, { ...ctx, state: groupState }));
    }

    decision.ring = ringList(ordered, strategy, ringable);
    decision.totalRingSeconds = totalRingSeconds(decision.ring);
    decision.leftOut = leftOut;
    decision.status = decision.ring.length > 0 ? 'ringing' : 'fallback';
    if (!o.nested) decision.fallback = await resolveChain(group.fallback, this.chainContext(decision, o));
    return decision;
  }

  private chainContext(decision: RouteDecision, o: EvalOptions) {
    return {
      at: o.at,
      ring: decision.ring,
      leftOut: decision.leftOut,
      overflow: async (groupId: string): Promise<OverflowResult> => {
        const g = await this.deps.store.directory.get('groups', o.tenantId, groupId);
        if (!g) return { name: groupId, ring: [], skipped: `group ${groupId} no longer exists` };
        // An overflow is a look, not a call to that group: its strategy state stays as it is.
        const d = await this.evaluate(g, 'group', { ...o, commit: false, nested: true, wordIn: decision.target.timeZone });
        const r: OverflowResult = { name: g.name, strategy: g.strategy, ring: d.ring };
        if (!d.open) r.skipped = `${g.name} is ${d.closedReason}`;
        else if (d.ring.length === 0) r.skipped = `nobody in ${g.name} can take the call`;
        return r;
      },
    };
  }

  // ── call outcomes (from the PBX connector) ────────────────────────────────

  private async groupFor(tenantId: string, queue: string): Promise<Group | undefined> {
    const docs = this.deps.store.directory;
    return (await docs.get('groups', tenantId, queue)) ?? (await docs.findUnique('groups', 'extension', queue, tenantId));
  }

  async wrapUpSeconds(tenantId: string, queue: string): Promise<number | undefined> {
    return (await this.groupFor(tenantId, queue))?.wrapUpSeconds;
  }

  async callOutcome(o: CallOutcome): Promise<void> {
    const { routingState } = this.deps;
    const ended = await routingState.updateAgent(o.tenantId, o.personId, (s) => {
      const r = applyOutcomeToAgent(s, o);
      return { next: r.next, result: r.ended };
    });
    if (o.queue === undefined) return;
    const group = await this.groupFor(o.tenantId, o.queue);
    if (!group || !group.members.some((m) => m.personId === o.personId)) return;
    const day = DateTime.fromMillis(o.at, { zone: group.timeZone }).toISODate()!;
    await routingState.updateGroup(o.tenantId, group.id, (s) => ({ next: applyOutcomeToMember(s, o, day, ended), result: undefined }));
  }
}
