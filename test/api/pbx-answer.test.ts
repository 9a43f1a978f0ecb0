import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pbxSignalIds } from '../../services/connectors/pbx/map.js';
import { PBX_EVENT_TYPES } from '../../services/connectors/pbx/schema.js';
import type { PersonState } from '../../shared/store/port.js';
import { describeWith } from '../support/components.js';
import { seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { sharedRedis } from '../support/redis.js';

const OUT_OF_ORDER = { code: 'out_of_order', message: 'older than what is already known for the same device or call' };
const DUPLICATE = { code: 'duplicate', message: 'repeats what is already known for the same device or call at the same instant' };

interface Answer {
  received: number;
  applied: number;
  ignored: number;
  ignoredEvents: Array<{ index: number; code: string; message: string }>;
  rejected: Array<{ index: number; code: string; message: string }>;
}

function batchAnswers(start: () => Promise<TestHub>) {
  let h: TestHub;
  let key: PbxKey;
  const at = (offsetMs: number) => h.clock.now() + offsetMs;

  beforeEach(async () => {
    h = await start();
    key = await seedAlice(h);
    await h.put('/v1/people/bob', { name: 'Bob', extension: '1002' }).expect(201);
    await h.put('/v1/people/bob/devices/bob-desk', { kind: 'desk', contact: 'sip:bob@192.0.2.11' }).expect(201);
  });
  afterEach(() => h.stop());

  const send = async (events: unknown[]): Promise<Answer> => (await h.pbx(events, key).expect(200)).body as Answer;

  it('counts events, not signal changes: a hangup that starts a wrap-up is one applied event', async () => {
    await send([{ type: 'answered', device: 'alice-desk', at: at(-2000), callId: 'c1' }]);
    expect(await send([{ type: 'hangup', device: 'alice-desk', at: at(-1000), callId: 'c1', queue: 'support', wrapUpSeconds: 30 }])).toEqual({
      received: 1,
      applied: 1,
      ignored: 0,
      ignoredEvents: [],
      rejected: [],
    });
    expect((await h.get('/v1/presence/alice')).body.activity).toBe('wrap-up');
  });

  it('a mixed batch: each event applied, ignored (out of order or duplicate, by index) or rejected, adding up to received', async () => {
    await send([
      { type: 'registered', device: 'alice-desk', at: at(-5000) },
      { type: 'answered', device: 'alice-desk', at: at(-3000), callId: 'c1' },
      { type: 'hangup', device: 'alice-desk', at: at(-1000), callId: 'c1' },
    ]);
    const wrapUp = { type: 'hangup', device: 'alice-desk', at: at(1000), callId: 'c2', queue: 'support', wrapUpSeconds: 30 };
    const answer = await send([
      /* 0 */ { type: 'answered', device: 'alice-desk', at: at(0), callId: 'c2' },
      /* 1 */ { type: 'answered', device: 'alice-desk', at: at(0), callId: 'c2' },
      /* 2 */ { type: 'answered', device: 'alice-desk', at: at(-2000), callId: 'c1' },
      /* 3 */ { type: 'registered', device: 'nope', at: at(0) },
      /* 4 */ wrapUp,
      /* 5 */ wrapUp,
      // Its call's end repeats what is known, and a call already over starts no wrap-up: a repeat.
      /* 6 */ { type: 'hangup', device: 'alice-desk', at: at(-1000), callId: 'c1', wrapUpSeconds: 30 },
      /* 7 */ { type: 'registered', device: 'alice-desk', at: at(-5000) },
      /* 8 */ { type: 'ringing', extension: '9999', at: at(0) },
      /* 9 */ { type: 'held', device: 'alice-desk', at: at(500), callId: 'c2' },
      /* 10 */ { type: 'registered', device: 'bob-desk', at: at(0) },
    ]);
    expect(answer).toEqual({
      received: 11,
      applied: 3,
      ignored: 6,
      ignoredEvents: [
        { index: 1, ...DUPLICATE },
        { index: 2, ...OUT_OF_ORDER },
        { index: 5, ...DUPLICATE },
        { index: 6, ...DUPLICATE },
        { index: 7, ...DUPLICATE },
        { index: 9, ...OUT_OF_ORDER },
      ],
      rejected: [
        { index: 3, code: 'unknown_device', message: 'no device nope in the directory' },
        { index: 8, code: 'unknown_extension', message: 'no extension 9999 in the directory' },
      ],
    });
    expect((await h.get('/v1/presence/alice')).body.activity).toBe('wrap-up');
    expect((await h.get('/v1/presence/bob')).body.availability).toBe('available');
  });

  it("refuses an event of a type it does not know (a newer PBX's) on its own, naming the type, and applies the rest", async () => {
    const known = `known: ${PBX_EVENT_TYPES.join(', ')}`;
    expect(
      await send([
        { type: 'registered', device: 'alice-desk', at: at(-2000) },
        { type: 'transferred', device: 'alice-desk', at: at(-1500), target: '1002', whatever: { nested: true } },
        { type: 'answered', device: 'alice-desk', at: at(-1000), callId: 'c1' },
      ]),
    ).toEqual({ received: 3, applied: 2, ignored: 0, ignoredEvents: [], rejected: [{ index: 1, code: 'unknown_type', message: `unknown event type "transferred"; ${known}` }] });
    expect((await h.get('/v1/presence/alice')).body.activity).toBe('on-call');
    expect(await send([{ type: 'parked', extension: '1001', at: at(0) }])).toMatchObject({ received: 1, applied: 0, rejected: [{ index: 0, code: 'unknown_type' }] });
    // A malformed event of a known type still refuses the batch, named by its place in the batch sent.
    const refused = await h.pbx([{ type: 'parked', device: 'alice-desk', at: at(0) }, { type: 'hangup', device: 'alice-desk', at: 'yesterday' }], key).expect(400);
    expect(refused.body.error.code).toBe('invalid_body');
    expect(JSON.stringify(refused.body.error)).toContain('events.1.at');
    expect((await h.get('/v1/presence/alice')).body.activity).toBe('on-call');
  });

  it('a hangup without a call id that ends no call is still judged by its own tombstone', async () => {
    await send([
      { type: 'ringing', device: 'alice-desk', at: at(-3000), callId: 'c1' },
      { type: 'hangup', device: 'alice-desk', at: at(-2000) },
    ]);
    const answer = await send([
      { type: 'hangup', device: 'alice-desk', at: at(-2000) },
      { type: 'hangup', device: 'alice-desk', at: at(-2500) },
      { type: 'hangup', device: 'alice-desk', at: at(-1000) },
    ]);
    expect(answer).toMatchObject({ applied: 1, ignored: 2, ignoredEvents: [{ index: 0, code: 'duplicate' }, { index: 1, code: 'out_of_order' }] });
  });

  it('answers what the write that counted found, when the store runs the update again', async () => {
    await send([{ type: 'hangup', device: 'alice-desk', at: at(-1000), callId: 'c1' }]);
    // As a shared store does when another replica wrote first: the first run (here on a made-up state)
    // is thrown away and the update runs again on the state that is stored.
    let firstRunOn: PersonState = { signals: [] };
    const state = h.hub.store.state;
    const update = state.update.bind(state);
    state.update = (tenantId, personId, fn) =>
      update(tenantId, personId, (current) => {
        fn(firstRunOn);
        return fn(current);
      });
    // Applied on the made-up empty state, older on the stored one.
    expect(
      await send([
        { type: 'answered', device: 'alice-desk', at: at(-2000), callId: 'c1' },
        { type: 'ringing', device: 'alice-desk', at: at(0), callId: 'c2' },
      ]),
    ).toMatchObject({ received: 2, applied: 1, ignored: 1, ignoredEvents: [{ index: 0, code: 'out_of_order' }] });
    // Older on the made-up state, which knows a later end of call c3; applied on the stored one.
    firstRunOn = { signals: [{ id: pbxSignalIds.call('alice-desk', 'c3'), source: 'pbx', claim: { kind: 'cleared' }, observedAt: at(5000), until: at(60_000) }] };
    expect(await send([{ type: 'answered', device: 'alice-desk', at: at(-500), callId: 'c3' }])).toMatchObject({ applied: 1, ignored: 0, ignoredEvents: [] });
    expect((await h.get('/v1/presence/alice')).body.activity).toBe('on-call');
  });

  it('on any batch, applied + ignored + rejected = received, each event listed at most once', async () => {
    const T0 = h.clock.now();
    const event = fc.record(
      {
        type: fc.constantFrom(...PBX_EVENT_TYPES),
        target: fc.constantFrom({ device: 'alice-desk' }, { device: 'bob-desk' }, { device: 'nope' }, { extension: '1001' }, { extension: '9999' }),
        // Few distinct instants, so repeats and events older than what is known are common.
        at: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: -4, max: 4 }).map((s) => T0 + s * 1000) }, fc.constant(Math.floor(T0 / 1000)), fc.constant(T0 + 3_600_000)),
        callId: fc.constantFrom('c1', 'c2'),
        wrapUpSeconds: fc.constantFrom(0, 30),
        queue: fc.constant('support'),
      },
      { requiredKeys: ['type', 'target', 'at'] },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 12 }), async (drawn) => {
        const events = drawn.map(({ target, type, wrapUpSeconds, queue, ...rest }) => ({
          type,
          ...target,
          ...rest,
          ...(type === 'hangup' ? { wrapUpSeconds, queue } : {}),
        }));
        // A new second each time: an identical body must not be refused as a replay.
        await h.clock.advance(1000);
        const a = await send(events);
        expect(a.received).toBe(events.length);
        expect(a.applied + a.ignored + a.rejected.length).toBe(a.received);
        expect(a.ignored).toBe(a.ignoredEvents.length);
        const listed = [...a.ignoredEvents, ...a.rejected].map((e) => e.index);
        expect(new Set(listed).size).toBe(listed.length);
        expect(listed.every((i) => Number.isInteger(i) && i >= 0 && i < events.length)).toBe(true);
        expect(a.ignoredEvents.every((e) => e.code === 'out_of_order' || e.code === 'duplicate')).toBe(true);
        expect(a.ignoredEvents.map((e) => e.index)).toEqual([...a.ignoredEvents.map((e) => e.index)].sort((x, y) => x - y));
      }),
      { numRuns: 60, seed: 20261207 },
    );
  });
}

describe('the PBX batch answer (embedded store)', () => batchAnswers(() => startTestHub()));

describeWith(['redis'], 'the PBX batch answer (Redis)', () => {
  const redisEnv = sharedRedis('pbx-answer');
  batchAnswers(() => startTestHub({ env: redisEnv() }));
});
