import { describe, expect, it } from 'vitest';
import type { Person } from '../../shared/domain/directory.js';
import { DEFAULT_POLICY } from '../../shared/domain/policy.js';
import type { Signal } from '../../shared/domain/signal.js';
import type { QueuePause } from '../../shared/domain/queue-pause.js';
import { merge } from '../../shared/merge/merge.js';
import { emptyAgentState, type AgentCallState, type MemberRoutingState } from '../../shared/store/routing-state.js';
import type { Detail } from '../../services/api/views.js';
import { leftOutView } from '../../services/routing/decision-view.js';
import { judgeMember, type EligibilityRules, type MemberFacts } from '../../services/routing/eligibility.js';
import { presenceAt } from '../../services/routing/presence-at.js';
import { call, desk, dnd, HOUR, manual, meeting, MIN, mobile, T0, teams, unregistered, workingHours, wrapUp } from '../support/signals.js';

const alice: Person = { id: 'alice', tenantId: 'acme', name: 'Alice', extension: '1001', timeZone: 'UTC', teams: [], skills: { french: 2 }, sensitive: false };

const rules = (over: Partial<EligibilityRules> = {}): EligibilityRules => ({
  at: T0,
  zone: 'UTC',
  leaveWhen: { dnd: true, meeting: true },
  requiredSkills: {},
  wrapUpSeconds: 0,
  detailFor: (): Detail => 'full',
  ...over,
});

function judge(
  signals: Signal[],
  o: { rules?: Partial<EligibilityRules>; agent?: AgentCallState; memberState?: MemberRoutingState; skills?: Record<string, number>; person?: Person | null; at?: number; pause?: QueuePause } = {},
) {
  const at = o.at ?? T0;
  const facts: MemberFacts = {
    member: { personId: 'alice', priority: 0, skills: o.skills ?? {} },
    person: o.person === null ? undefined : (o.person ?? alice),
    presence: presenceAt({ signals, presence: signals.length ? { ...merge(signals, DEFAULT_POLICY, at), personId: 'alice', since: at, version: 1 } : undefined }, DEFAULT_POLICY, at, at),
    agent: o.agent ?? emptyAgentState(),
    memberState: o.memberState,
    pause: o.pause,
  };
  return judgeMember(facts, rules({ at, ...o.rules }));
}

const out = (r: ReturnType<typeof judge>) => (r.eligible ? { eligible: true } : { code: r.leftOut.code, reason: r.leftOut.reason });

describe('eligibility from every presence state', () => {
  it.each<[string, Signal[], { eligible: true } | { code: string; reason: string }]>([
    ['available on a desk phone', [desk()], { eligible: true }],
    ['available on the mobile app only', [mobile()], { eligible: true }],
    ['on a call', [desk(), call('on-call')], { code: 'on-call', reason: 'on a call since 09:59 (PBX)' }],
    ['ringing', [desk(), call('ringing')], { code: 'on-call', reason: 'ringing since 09:59 (PBX)' }],
    ['on hold', [desk(), call('on-hold')], { code: 'on-call', reason: 'on hold since 09:59 (PBX)' }],
    ['manual DND with an end', [desk(), dnd('manual', { until: T0 + 2.5 * HOUR })], { code: 'dnd', reason: 'DND until 12:30 (manual)' }],
    ['DND from the phone', [desk(), dnd('pbx')], { code: 'dnd', reason: 'DND (PBX)' }],
    ['in an Outlook meeting', [desk(), meeting('in-meeting', T0 - 30 * MIN, T0 + 5 * HOUR)], { code: 'in-meeting', reason: 'in meeting until 15:00 (Outlook)' }],
    ['presenting in Teams', [desk(), teams('presenting')], { code: 'in-meeting', reason: 'presenting (Teams)' }],
    ['Google focus time', [desk(), meeting('focus', T0 - HOUR, T0 + HOUR, { source: 'google' })], { code: 'in-meeting', reason: 'focus time until 11:00 (Google)' }],
    ['wrap-up after a queue call', [desk(), wrapUp(T0 + 30_000)], { code: 'wrap-up', reason: 'wrap-up until 10:00:30 (PBX)' }],
    ['away', [desk(), manual('away')], { code: 'away', reason: 'away (manual)' }],
    ['on a break', [desk(), manual('break', { until: T0 + 15 * MIN })], { code: 'away', reason: 'on a break until 10:15 (manual)' }],
    ['out of office', [desk(), meeting('out-of-office', T0 - HOUR, Date.parse('2026-03-06T17:00:00Z'))], { code: 'away', reason: 'out of office until Fri 17:00 (Outlook)' }],
    ['a custom busy reason', [desk(), manual('lunch', { until: T0 + 3 * HOUR })], { code: 'busy', reason: 'lunch until 13:00 (manual)' }],
    ['unregistered desk phone', [unregistered()], { code: 'no-reachable-device', reason: 'no reachable device' }],
    ['app heartbeat expired', [mobile({ until: T0 - 1 })], { code: 'no-reachable-device', reason: 'no reachable device' }],
    ['manual "available" without any device', [manual('available')], { code: 'unknown', reason: 'presence unknown: no source has said anything recent' }],
    ['nothing known', [], { code: 'unknown', reason: 'presence unknown: no source has said anything recent' }],
  ])('%s', (_name, signals, expected) => {
    expect(out(judge(signals))).toEqual(expected);
  });

  it('off work outside working hours, back at the next start', () => {
    const evening = Date.parse('2026-03-02T18:00:00Z');
    expect(out(judge([desk(), workingHours()], { at: evening }))).toEqual({ code: 'off-work', reason: 'off work until Tue 09:00 (working hours)' });
    expect(out(judge([desk(), workingHours()], { at: Date.parse('2026-03-03T09:00:00Z') }))).toEqual({ eligible: true });
  });

  it('rings every reachable contact, and none without an address', () => {
    const r = judge([desk(), mobile()]);
    expect(r.eligible && r.contacts).toEqual([
      { endpointId: 'desk-1', kind: 'desk', uri: 'sip:alice@example.test' },
      { endpointId: 'phone-1', kind: 'mobile', uri: '+4930123' },
    ]);
    const bare = desk({ claim: { kind: 'endpoint', endpoint: { id: 'desk-1', kind: 'desk' }, reachable: true } });
    expect(out(judge([bare]))).toEqual({ code: 'no-reachable-device', reason: 'no contact address for its reachable devices' });
  });

  it('keeps members in DND or meetings when the group says so, and only those', () => {
    const inMeeting = [desk(), meeting('in-meeting', T0 - HOUR, T0 + HOUR)];
    const r = judge(inMeeting, { rules: { leaveWhen: { dnd: true, meeting: false } } });
    expect(r).toMatchObject({ eligible: true, note: 'rings during meetings in this group' });
    expect(judge([desk(), dnd()], { rules: { leaveWhen: { dnd: false, meeting: true } } })).toMatchObject({ eligible: true, note: 'rings despite DND in this group' });
    expect(out(judge([desk(), dnd()], { rules: { leaveWhen: { dnd: true, meeting: false } } }))).toMatchObject({ code: 'dnd' });
    expect(out(judge([unregistered(), dnd()], { rules: { leaveWhen: { dnd: false, meeting: false } } }))).toMatchObject({ code: 'dnd' });
  });

  it('matches skills: the member level for this group over the person level', () => {
    expect(out(judge([desk()], { rules: { requiredSkills: { french: 3 } } }))).toEqual({ code: 'missing-skill', reason: 'skill french at level 2, needs 3' });
    expect(out(judge([desk()], { rules: { requiredSkills: { german: 1 } } }))).toEqual({ code: 'missing-skill', reason: 'lacks skill german' });
    expect(out(judge([desk()], { rules: { requiredSkills: { french: 3 } }, skills: { french: 4 } }))).toEqual({ eligible: true });
    expect(out(judge([desk()], { rules: { requiredSkills: { french: 2 } } }))).toEqual({ eligible: true });
  });

  it('does not ring the caller, nor someone missing from the directory', () => {
    expect(out(judge([desk()], { rules: { caller: '1001' } }))).toEqual({ code: 'caller', reason: 'is the caller' });
    expect(out(judge([desk()], { person: null }))).toEqual({ code: 'not-in-directory', reason: 'not in the directory' });
  });

  it("applies the group's wrap-up after a call it delivered", () => {
    const memberState = { callsToday: 1, offers: [], lastCallEndAt: T0 - 10_000 };
    expect(out(judge([desk()], { rules: { wrapUpSeconds: 30 }, memberState }))).toEqual({ code: 'wrap-up', reason: 'wrap-up until 10:00:20 (after a call from this group)' });
    expect(out(judge([desk()], { rules: { wrapUpSeconds: 10 }, memberState }))).toEqual({ eligible: true });
  });

  it("ends the group's wrap-up when the member says they are ready (manual available) after the call, not before", () => {
    const memberState = { callsToday: 1, offers: [], lastCallEndAt: T0 - 10_000 };
    const wrap = { rules: { wrapUpSeconds: 30 }, memberState };
    expect(out(judge([desk(), manual('available', { observedAt: T0 - 5_000 })], wrap))).toEqual({ eligible: true });
    expect(out(judge([desk(), manual('available', { observedAt: T0 - 10_000 })], wrap))).toEqual({ eligible: true });
    // "Available" from before the call is what they were when the call came, not the end of its wrap-up.
    expect(out(judge([desk(), manual('available', { observedAt: T0 - HOUR })], wrap))).toEqual({ code: 'wrap-up', reason: 'wrap-up until 10:00:20 (after a call from this group)' });
    // Only "available" by hand says ready: a phone that is merely registered does not.
    expect(out(judge([desk({ observedAt: T0 - 5_000 })], wrap))).toMatchObject({ code: 'wrap-up' });
    // Available said over a meeting, in a group that rings during meetings: the call's wrap-up still keeps them out.
    const overMeeting = [desk(), manual('available', { observedAt: T0 - HOUR }), meeting('in-meeting', T0 - HOUR, T0 + HOUR), wrapUp(T0 + 20_000, { observedAt: T0 - 10_000 })];
    expect(out(judge(overMeeting, { ...wrap, rules: { wrapUpSeconds: 30, leaveWhen: { dnd: true, meeting: false } } }))).toMatchObject({ code: 'wrap-up' });
  });

  it('predicts when a busy person is free: the end of the meeting, or the call start plus their typical call length', () => {
    const m = judge([desk(), meeting('in-meeting', T0 - HOUR, T0 + HOUR)]);
    expect(!m.eligible && m.leftOut.predictedFreeAt).toBe(T0 + HOUR);
    const agent: AgentCallState = { talkMs: 10 * MIN, talkCalls: 2, callStartedAt: T0 - MIN };
    const c = judge([desk(), call('on-call')], { agent });
    expect(!c.eligible && c.leftOut.predictedFreeAt).toBe(T0 + 4 * MIN);
    // A call already longer than usual: free any moment.
    const long = judge([desk(), call('on-call')], { agent: { ...agent, callStartedAt: T0 - HOUR } });
    expect(!long.eligible && long.leftOut.predictedFreeAt).toBe(T0);
    // Ringing: the call has not begun, so a typical call from now, not from when it began to ring.
    const ringing = judge([desk(), call('ringing')], { agent: { talkMs: 10 * MIN, talkCalls: 2 } });
    expect(!ringing.eligible && ringing.leftOut.predictedFreeAt).toBe(T0 + 5 * MIN);
    // No history: no guess.
    const none = judge([desk(), call('on-call')]);
    expect(!none.eligible && none.leftOut.predictedFreeAt).toBeUndefined();
  });

  it('predicts when someone paused with an end is free: once both the pause and what keeps them busy are over', () => {
    const pause = (until: number): QueuePause => ({ tenantId: 'acme', id: 'alice', personId: 'alice', since: T0, until, setBy: 'self' });
    const freeAt = (signals: Signal[], until: number, agent?: AgentCallState) => {
      const r = judge(signals, { pause: pause(until), rules: { groupId: 'support' }, ...(agent ? { agent } : {}) });
      return r.eligible ? 'eligible' : { code: r.leftOut.code, predictedFreeAt: r.leftOut.predictedFreeAt };
    };
    expect(freeAt([desk()], T0 + 10 * MIN)).toEqual({ code: 'paused', predictedFreeAt: T0 + 10 * MIN });
    expect(freeAt([desk(), meeting('in-meeting', T0 - HOUR, T0 + HOUR)], T0 + 10 * MIN)).toEqual({ code: 'paused', predictedFreeAt: T0 + HOUR });
    // On a call: its typical length counts as it does for someone not paused.
    const agent: AgentCallState = { talkMs: 10 * MIN, talkCalls: 2, callStartedAt: T0 - MIN };
    expect(freeAt([desk(), call('on-call')], T0 + 2 * MIN, agent)).toEqual({ code: 'paused', predictedFreeAt: T0 + 4 * MIN });
    expect(freeAt([desk(), call('on-call')], T0 + 10 * MIN, agent)).toEqual({ code: 'paused', predictedFreeAt: T0 + 10 * MIN });
    // Away with no end, or no device: not expected back.
    expect(freeAt([desk(), manual('away')], T0 + 10 * MIN)).toEqual({ code: 'paused', predictedFreeAt: undefined });
    expect(freeAt([unregistered()], T0 + 10 * MIN)).toEqual({ code: 'paused', predictedFreeAt: undefined });
    // What would keep them out once the pause ends, for the queue's judgement (nothing, when they are free).
    const after = (signals: Signal[]) => {
      const r = judge(signals, { pause: pause(T0 + 10 * MIN), rules: { groupId: 'support' } });
      return r.eligible ? 'eligible' : r.leftOut.afterPause;
    };
    expect([after([desk()]), after([desk(), call('on-call')]), after([unregistered()])]).toEqual([undefined, 'on-call', 'no-reachable-device']);
  });
});

describe('what each caller sees of someone left out', () => {
  const inMeeting = [desk(), meeting('in-meeting', T0 - HOUR, T0 + HOUR)];
  const leftOut = (detail: Detail) => {
    const r = judge(inMeeting, { rules: { detailFor: () => detail } });
    if (r.eligible) throw new Error('expected left out');
    return leftOutView(r.leftOut);
  };

  it('an administrator sees the source', () => {
    expect(leftOut('full')).toEqual({
      personId: 'alice',
      name: 'Alice',
      code: 'in-meeting',
      reason: 'in meeting until 11:00 (Outlook)',
      availability: 'busy',
      activity: 'in-meeting',
      source: 'outlook',
      until: '2026-03-02T11:00:00.000Z',
      predictedFreeAt: '2026-03-02T11:00:00.000Z',
    });
  });

  it('the PBX and supervisors see the reason and until when', () => {
    expect(leftOut('activity')).not.toHaveProperty('source');
    expect(leftOut('activity')).toMatchObject({ code: 'in-meeting', until: '2026-03-02T11:00:00.000Z' });
  });

  it('for a sensitive person, only the availability', () => {
    expect(leftOut('availability')).toEqual({ personId: 'alice', name: 'Alice', code: 'busy', reason: 'busy', availability: 'busy' });
  });
});

describe('presence at an instant', () => {
  it('merges afresh when the stored state is due to change and its timer has not run yet', () => {
    const signals = [desk(), dnd('manual', { until: T0 + MIN })];
    const stored = { ...merge(signals, DEFAULT_POLICY, T0), personId: 'alice', since: T0, version: 1 };
    expect(presenceAt({ signals, presence: stored }, DEFAULT_POLICY, T0, T0).activity).toBe('dnd');
    expect(presenceAt({ signals, presence: stored }, DEFAULT_POLICY, T0 + MIN, T0 + MIN).activity).toBe('available');
  });
});
