import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys, seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';

describe('the instants a state began, on a replica whose clock is behind', () => {
  let h: TestHub;
  let pbx: PbxKey;
  let keys: Record<string, string>;

  beforeAll(async () => {
    h = await startTestHub();
    pbx = await seedAlice(h);
    await h.put('/v1/people/bob', { name: 'Bob', extension: '1002' }).expect(201);
    keys = await createKeys(h, { bob: { role: 'member', personId: 'bob' }, external: { role: 'external' } });
  });
  afterAll(() => h.stop());

  it('never go back, so the version a colleague or partner is shown only grows', async () => {
    const t0 = h.clock.now();
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: t0 }], pbx).expect(200);
    const shown = async () => ({
      colleague: (await h.get('/v1/presence/alice', keys.bob).expect(200)).body,
      partner: (await h.get('/v1/presence/alice', keys.external).expect(200)).body,
      admin: (await h.get('/v1/presence/alice').expect(200)).body,
    });
    const before = await shown();
    expect(before.colleague.availability).toBe('available');
    // The next change is merged where the clock reads 5 s earlier (another replica, or a clock stepped back).
    const real = h.clock.now.bind(h.clock);
    h.clock.now = () => real() - 5_000;
    try {
      await h.pbx([{ type: 'ringing', device: 'alice-desk', at: t0 - 4_000, callId: 'c1' }], pbx).expect(200);
    } finally {
      h.clock.now = real;
    }
    const after = await shown();
    expect(after.colleague.availability).toBe('busy');
    expect(after.colleague.version).toBeGreaterThan(before.colleague.version);
    expect(after.partner.version).toBeGreaterThan(before.partner.version);
    expect(Date.parse(after.admin.since)).toBeGreaterThan(Date.parse(before.admin.since));
    expect(Date.parse(after.colleague.since)).toBeGreaterThan(Date.parse(before.colleague.since));
  });

  it('begin after a directory edit made in the same millisecond, so the change it shows has a newer version', async () => {
    const version = async () => (await h.get('/v1/presence/alice', keys.bob).expect(200)).body.version as number;
    await h.pbx([{ type: 'hangup', device: 'alice-desk', at: h.clock.now(), callId: 'c1' }], pbx).expect(200);
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    await h.clock.advance(1000);
    await h.put('/v1/people/alice', { name: 'Alice A.', extension: '1001', sipUri: 'sip:alice@example.test', teams: ['support'] }).expect(200);
    const edited = await version();
    expect(edited).toBe(h.clock.now());
    await h.del('/v1/people/alice/status').expect(200);
    const after = (await h.get('/v1/presence/alice', keys.bob).expect(200)).body;
    expect(after.availability).toBe('available');
    expect(after.version).toBeGreaterThan(edited);
    expect(Date.parse(after.since)).toBeGreaterThan(edited);
  });
});
