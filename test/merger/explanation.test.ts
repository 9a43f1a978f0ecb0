import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { merge } from '../../shared/merge/merge.js';
import { seedAlice, startTestHub, type TestHub } from '../support/hub.js';

// The engine stores no explanation: it works it out when read, from the signals, policy and instant of
// the decision. These tests pin that it is still the explanation of what decided.
describe('the stored explanation', () => {
  let h: TestHub;
  const T0 = Date.parse('2026-03-02T09:30:00Z');
  const MEETING = { from: Date.parse('2026-03-02T10:00:00Z'), until: Date.parse('2026-03-02T11:00:00Z') };

  beforeEach(async () => {
    h = await startTestHub({ now: '2026-03-02T09:30:00Z' });
    const key = await seedAlice(h, { timeZone: 'Europe/Berlin', workingHours: { mon: [['08:00', '18:00']] } });
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: T0 - 1000, expiresSec: 3600 }], key).expect(200);
    await h.hub.engine.apply('acme', 'alice', [
      { op: 'put', signal: { id: 'outlook:evt:1', source: 'outlook', claim: { kind: 'calendar', activity: 'in-meeting' }, observedAt: T0, ...MEETING } },
    ]);
  });
  afterEach(() => h.stop());

  const decidedAt = async (at: number) => {
    const { signals } = await h.hub.engine.read('acme', 'alice');
    return merge(signals, await h.hub.directory.policyFor('acme'), at);
  };

  it('is the explanation of the pure merge at the instant that decided, and names what won', async () => {
    const before = (await h.get('/v1/presence/alice').expect(200)).body;
    expect(before.activity).toBe('available');
    expect(before.explanation).toEqual((await decidedAt(T0)).explanation);
    expect(before.explanation).toContainEqual(expect.objectContaining({ signal: 'outlook:evt:1', verdict: 'pending', reason: 'starts at 2026-03-02T10:00:00.000Z' }));
    expect(before.explanation).toContainEqual(expect.objectContaining({ signal: 'pbx:reg:alice-desk', verdict: 'reachable' }));

    await h.clock.advanceTo(MEETING.from);
    const during = (await h.get('/v1/presence/alice').expect(200)).body;
    expect(during.activity).toBe('in-meeting');
    expect(during.explanation).toEqual((await decidedAt(MEETING.from)).explanation);
    expect(during.explanation.filter((e: { verdict: string }) => e.verdict === 'won')).toEqual([
      expect.objectContaining({ signal: 'outlook:evt:1', source: during.source, rule: during.rule }),
    ]);
  });

  it('is an ordinary array to anything that copies or serialises the stored state', async () => {
    const { presence } = await h.hub.engine.read('acme', 'alice');
    const expected = (await decidedAt(T0)).explanation;
    expect(JSON.parse(JSON.stringify(presence)).explanation).toEqual(expected);
    expect(structuredClone(presence)!.explanation).toEqual(expected);
    expect({ ...presence! }.explanation).toEqual(expected);
    expect(Object.keys(presence!)).toContain('explanation');
  });
});
