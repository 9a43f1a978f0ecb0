import { describe, expect, it } from 'vitest';
import type { FallbackStep } from '../../shared/domain/group.js';
import type { LeftOut, RingEntry, RouteDecision } from '../../services/routing/decision.js';
import { resolveChain, type ChainContext } from '../../services/routing/fallback-chain.js';
import { toRtjson } from '../../services/routing/rtjson.js';

const AT = Date.parse('2026-03-02T10:00:00Z');
const entry = (personId: string, step: number, uris: string[], ringTimeoutSeconds = 15): RingEntry => ({
  step,
  personId,
  name: personId,
  priority: 0,
  ringTimeoutSeconds,
  contacts: uris.map((uri, i) => ({ endpointId: `${personId}-${i}`, kind: uri.startsWith('sip:') ? 'desk' : 'mobile', uri })),
});
const busy = (personId: string, code: LeftOut['code'], predictedFreeAt?: number): LeftOut => ({
  personId,
  code,
  reason: code,
  detail: 'activity',
  ...(predictedFreeAt !== undefined ? { predictedFreeAt } : {}),
});

function chain(steps: FallbackStep[], over: Partial<ChainContext> = {}) {
  return resolveChain(steps, {
    at: AT,
    ring: [],
    leftOut: [],
    overflow: async (groupId) => ({ name: `Group ${groupId}`, strategy: 'sequential', ring: [entry('olga', 0, ['sip:olga@example.test'])] }),
    ...over,
  });
}

describe('fallback chain steps', () => {
  const queue: FallbackStep = { type: 'queue', maxWaitSeconds: 300, uri: 'sip:queue-support@pbx.example.test' };

  it('queue: hints the predicted wait from the first member expected to be free', async () => {
    const leftOut = [busy('ann', 'in-meeting', AT + 240_000), busy('ben', 'on-call', AT + 90_000), busy('cat', 'no-reachable-device')];
    expect(await chain([queue], { leftOut })).toEqual([{ type: 'queue', maxWaitSeconds: 300, uri: 'sip:queue-support@pbx.example.test', predictedWaitSeconds: 90 }]);
  });

  it('queue: skipped when everyone expected back comes back later than the caller may wait', async () => {
    const leftOut = [busy('ann', 'in-meeting', AT + 3_600_000), busy('ben', 'off-work', AT + 7_200_000)];
    const [q] = await chain([queue], { leftOut });
    expect(q).toMatchObject({ predictedWaitSeconds: 3600, skipped: 'predicted wait 1 h is longer than the maximum 5 min' });
  });

  it("queue: a sensitive member's expected end weighs in, but is not shown as the hint", async () => {
    const leftOut: LeftOut[] = [{ ...busy('ann', 'in-meeting', AT + 3_600_000), detail: 'availability' }];
    expect(await chain([queue], { leftOut })).toEqual([{ type: 'queue', maxWaitSeconds: 300, uri: 'sip:queue-support@pbx.example.test', skipped: 'predicted wait is longer than the maximum 5 min' }]);
  });

  it('queue: skipped when nobody can become free, kept when someone busy has no prediction or people are ringing', async () => {
    expect((await chain([queue], { leftOut: [busy('cat', 'no-reachable-device')] }))[0]).toMatchObject({ skipped: 'nobody in the group is expected to become free' });
    const unsure = [busy('ann', 'in-meeting', AT + 3_600_000), busy('ben', 'on-call')];
    expect((await chain([queue], { leftOut: unsure }))[0]).not.toHaveProperty('skipped');
    expect((await chain([queue], { ring: [entry('ann', 0, ['sip:ann@x.test'])] }))[0]).not.toHaveProperty('skipped');
  });

  it('queue: someone paused with an end counts as someone busy would once it ends; with no end, or no device after it, not', async () => {
    const paused = (afterPause?: LeftOut['code'], until: number | null = AT + 60_000): LeftOut => ({
      ...busy('ann', 'paused'),
      ...(until === null ? {} : { until }),
      ...(afterPause === undefined ? {} : { afterPause }),
    });
    const skipped = async (l: LeftOut) => ((await chain([queue], { leftOut: [l] }))[0] as { skipped?: string }).skipped;
    // On a call with no typical length known: expected back, at an unknown time, as if not paused.
    expect(await skipped(paused('on-call'))).toBeUndefined();
    expect(await skipped(paused('away'))).toBeUndefined();
    expect(await skipped(paused())).toBeUndefined();
    expect(await skipped(paused('no-reachable-device'))).toBe('nobody in the group is expected to become free');
    expect(await skipped(paused(undefined, null))).toBe('nobody in the group is expected to become free');
  });

  it('overflow: the other group ring list, or why it cannot help', async () => {
    expect(await chain([{ type: 'overflow', groupId: 'sales' }])).toEqual([
      { type: 'overflow', groupId: 'sales', name: 'Group sales', strategy: 'sequential', ring: [entry('olga', 0, ['sip:olga@example.test'])] },
    ]);
    const closed = await chain([{ type: 'overflow', groupId: 'sales' }], { overflow: async () => ({ name: 'Sales', ring: [], skipped: 'Sales is closed: outside opening hours' }) });
    expect(closed[0]).toMatchObject({ skipped: 'Sales is closed: outside opening hours' });
  });

  it('voicemail, forward to a duty phone and hang up with a message are passed on in order', async () => {
    const steps: FallbackStep[] = [
      { type: 'voicemail', box: '2000', uri: 'sip:vm-2000@pbx.example.test' },
      { type: 'forward', number: '+4915112345678', label: 'duty phone' },
      { type: 'hangup', message: 'Please call again during opening hours', sipCode: 480 },
    ];
    expect(await chain(steps)).toEqual(steps);
  });
});

describe('the Kamailio rtjson routing document', () => {
  const decision = (over: Partial<RouteDecision>): RouteDecision => ({
    at: AT,
    dryRun: false,
    target: { kind: 'group', id: 'support', name: 'Support', timeZone: 'UTC' },
    status: 'ringing',
    open: true,
    strategy: 'sequential',
    ringTimeoutSeconds: 15,
    totalRingSeconds: 0,
    ring: [],
    fallback: [],
    leftOut: [],
    ...over,
  });

  it('serial routes, one step per ring step, all contacts of a step together, then each fallback with a SIP destination', () => {
    const doc = toRtjson(
      decision({
        ring: [entry('ann', 0, ['sip:ann@10.0.0.1', '+4930111'], 20), entry('ben', 1, ['sip:ben@10.0.0.2'])],
        fallback: [
          { type: 'queue', maxWaitSeconds: 60, uri: 'sip:q@pbx.test' },
          { type: 'overflow', groupId: 'sales', name: 'Sales', ring: [entry('olga', 0, ['sip:olga@10.0.0.3'])] },
          { type: 'voicemail', box: '2000' },
          { type: 'forward', number: '+4915112345678' },
          { type: 'voicemail', box: '2000', uri: 'sip:vm@pbx.test' },
          { type: 'hangup', message: 'Closed for today', sipCode: 486 },
          { type: 'voicemail', box: 'never', uri: 'sip:never@pbx.test' },
        ],
      }),
      { pstnGateway: 'gw.example.test:5060' },
    );
    expect(doc).toEqual({
      version: '1.0',
      routing: 'serial',
      routes: [
        { uri: 'sip:ann@10.0.0.1', fr_inv_timer: 20_000, fr_timer: 5_000, step: 0, kind: 'member', person: 'ann' },
        { uri: 'sip:+4930111@gw.example.test:5060', fr_inv_timer: 20_000, fr_timer: 5_000, step: 0, kind: 'member', person: 'ann' },
        { uri: 'sip:ben@10.0.0.2', fr_inv_timer: 15_000, fr_timer: 5_000, step: 1, kind: 'member', person: 'ben' },
        { uri: 'sip:q@pbx.test', fr_inv_timer: 60_000, fr_timer: 5_000, step: 2, kind: 'queue' },
        { uri: 'sip:olga@10.0.0.3', fr_inv_timer: 15_000, fr_timer: 5_000, step: 3, kind: 'overflow', person: 'olga' },
        { uri: 'sip:+4915112345678@gw.example.test:5060', fr_inv_timer: 30_000, fr_timer: 5_000, step: 4, kind: 'forward' },
        { uri: 'sip:vm@pbx.test', fr_inv_timer: 30_000, fr_timer: 5_000, step: 5, kind: 'voicemail' },
      ],
      step_sizes: '2,1,1,1,1,1',
      // 20 + 15 + 60 + 15 + 30 + 30 s of ringing, and 32 s for the last answer.
      max_lifetime_ms: 202_000,
      hangup_code: 486,
      hangup_reason: 'Closed for today',
      status: 'ringing',
      target: 'support',
    });
  });

  it('a simultaneous step forks to everyone in it; numbers without a gateway stay out', () => {
    const doc = toRtjson(decision({ strategy: 'simultaneous', ring: [entry('ann', 0, ['sip:ann@10.0.0.1', '+4930111']), entry('ben', 0, ['sip:ben@10.0.0.2'])] }));
    expect(doc.routes.map((r) => r.uri)).toEqual(['sip:ann@10.0.0.1', 'sip:ben@10.0.0.2']);
    expect(doc.step_sizes).toBe('2');
  });

  it('nothing to ring and no hang-up step: 480, worded for a closed group', () => {
    expect(toRtjson(decision({ status: 'fallback' }))).toMatchObject({ routes: [], step_sizes: '', max_lifetime_ms: 32_000, hangup_code: 480, hangup_reason: 'Temporarily Unavailable' });
    expect(toRtjson(decision({ status: 'closed', open: false }))).toMatchObject({ hangup_code: 480, hangup_reason: 'Closed' });
  });

  it('skipped queue and overflow steps are not routed', () => {
    const doc = toRtjson(
      decision({
        fallback: [
          { type: 'queue', maxWaitSeconds: 60, uri: 'sip:q@pbx.test', skipped: 'nobody in the group is expected to become free' },
          { type: 'overflow', groupId: 'sales', name: 'Sales', ring: [], skipped: 'nobody in Sales can take the call' },
          { type: 'voicemail', box: '1', uri: 'sip:vm@pbx.test' },
        ],
      }),
    );
    expect(doc.routes.map((r) => r.kind)).toEqual(['voicemail']);
  });
});
