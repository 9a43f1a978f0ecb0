import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PbxKey } from '../support/hub.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import { firstRung, seedMembers } from '../support/routing.js';

/**
 * `constructor` is a valid person id and skill name, and also a property every plain object inherits:
 * routing state and skill tables keyed by such names must read only what was stored under them.
 */
describe('routing with names that plain objects inherit', () => {
  let h: TestHub;
  let pbx: PbxKey;
  beforeEach(async () => {
    h = await startTestHub();
    pbx = await seedMembers(h, [{ id: 'constructor' }, { id: 'alice' }]);
  });
  afterEach(() => h.stop());

  it.each(['round-robin', 'longest-idle', 'fewest-calls'])('a member called constructor takes part in %s like anyone', async (strategy) => {
    await h.put('/v1/groups/support', { name: 'Support', kind: 'queue', strategy, members: [{ personId: 'constructor' }, { personId: 'alice' }] }).expect(201);
    const first = await h.post('/v1/route', { group: 'support', callId: 'c1' }).expect(200);
    expect(firstRung(first.body)).toBe('constructor');
    // The offer and then the call's outcome are kept under the member's own name.
    await h.pbx([{ type: 'answered', device: 'constructor-desk', at: h.clock.now(), queue: 'support', callId: 'c1' }], pbx).expect(200);
    await h.clock.advance(60_000);
    await h.pbx([{ type: 'hangup', device: 'constructor-desk', at: h.clock.now(), queue: 'support', callId: 'c1' }], pbx).expect(200);
    const next = await h.post('/v1/route', { group: 'support' }).expect(200);
    expect(firstRung(next.body)).toBe('alice');
  });
});

describe('skills named like what plain objects inherit', () => {
  let h: TestHub;
  beforeEach(async () => {
    h = await startTestHub();
    await seedMembers(h, [{ id: 'alice' }, { id: 'bob', skills: { constructor: 2 } }]);
  });
  afterEach(() => h.stop());

  it('only someone who has the skill constructor is rung for it', async () => {
    await h.put('/v1/groups/support', { name: 'Support', members: [{ personId: 'alice' }, { personId: 'bob' }], requiredSkills: ['constructor'] }).expect(201);
    const group = await h.post('/v1/route', { group: 'support' }).expect(200);
    expect(group.body.ring.map((r: { personId: string }) => r.personId)).toEqual(['bob']);
    expect(group.body.leftOut).toEqual([expect.objectContaining({ personId: 'alice', code: 'missing-skill' })]);
    const asked = await h.post('/v1/route', { person: 'alice', skills: { constructor: 1 } }).expect(200);
    expect(asked.body.ring).toEqual([]);
    await h.put('/v1/groups/sales', { name: 'Sales', members: [{ personId: 'alice' }, { personId: 'bob' }] }).expect(201);
    const call = await h.post('/v1/route', { group: 'sales', skills: { constructor: 3 } }).expect(200);
    expect(call.body.leftOut.map((l: { personId: string; code: string }) => [l.personId, l.code])).toEqual([
      ['alice', 'missing-skill'],
      ['bob', 'missing-skill'],
    ]);
  });
});
