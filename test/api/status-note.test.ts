import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, createKeys, seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { openStream } from '../support/sse.js';

const NOTE = 'dentist, back at 15:00';

describe('a manual status note: shown with the status it belongs to, to those who see the activity', () => {
  let h: TestHub;
  let pbx: PbxKey;
  let base: string;
  const keys: Record<string, string> = { admin: ADMIN_KEY };
  const noteOf = async (person: string, key: string) => (await h.get(`/v1/presence/${person}`, keys[key]).expect(200)).body.note as string | undefined;

  beforeAll(async () => {
    h = await startTestHub();
    pbx = await seedAlice(h);
    await h.put('/v1/people/bob', { name: 'Bob', extension: '1002' }).expect(201);
    await h.put('/v1/people/carol', { name: 'Carol', extension: '1003', sensitive: true }).expect(201);
    Object.assign(keys, await createKeys(h));
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() }], pbx).expect(200);
    base = await h.listen();
  });
  afterAll(() => h.stop());

  it('supervisors, phone systems, admins and the person see it; colleagues and partners do not', async () => {
    const set = await h.put('/v1/people/alice/status', { activity: 'away', note: NOTE }, keys.alice).expect(200);
    expect(set.body.note).toBe(NOTE);
    expect({
      admin: await noteOf('alice', 'admin'),
      supervisor: await noteOf('alice', 'supervisor'),
      pbx: await noteOf('alice', 'pbx'),
      self: await noteOf('alice', 'alice'),
      colleague: await noteOf('alice', 'bob'),
      external: await noteOf('alice', 'external'),
    }).toEqual({ admin: NOTE, supervisor: NOTE, pbx: NOTE, self: NOTE, colleague: undefined, external: undefined });
  });

  it('of a sensitive person, only admins and the person see it', async () => {
    await h.put('/v1/people/carol/status', { activity: 'break', note: 'lunch' }).expect(200);
    expect({ admin: await noteOf('carol', 'admin'), supervisor: await noteOf('carol', 'supervisor'), pbx: await noteOf('carol', 'pbx') }).toEqual({
      admin: 'lunch',
      supervisor: undefined,
      pbx: undefined,
    });
  });

  it('goes while something else decides (a call), and comes back with the status', async () => {
    await h.clock.advance(1000);
    await h.pbx([{ type: 'answered', device: 'alice-desk', at: h.clock.now(), callId: 'n1' }], pbx).expect(200);
    expect((await h.get('/v1/presence/alice', keys.supervisor).expect(200)).body).toMatchObject({ activity: 'on-call' });
    expect(await noteOf('alice', 'supervisor')).toBeUndefined();
    await h.clock.advance(1000);
    await h.pbx([{ type: 'hangup', device: 'alice-desk', at: h.clock.now(), callId: 'n1' }], pbx).expect(200);
    expect((await h.get('/v1/presence/alice', keys.supervisor).expect(200)).body).toMatchObject({ activity: 'away', note: NOTE });
    await h.del('/v1/people/alice/status', keys.alice).expect(200);
    expect(await noteOf('alice', 'admin')).toBeUndefined();
  });

  it('a new note is a change to those who see it, and nothing to those who see only the availability', async () => {
    await h.put('/v1/people/alice/status', { activity: 'away', note: 'first' }, keys.alice).expect(200);
    const supervisor = await openStream(`${base}/v1/stream`, keys.supervisor!);
    const colleague = await openStream(`${base}/v1/stream`, keys.bob!);
    await supervisor.waitFor((e) => e.event === 'snapshot');
    await colleague.waitFor((e) => e.event === 'snapshot');
    const before = (await h.get('/v1/presence/alice', keys.admin).expect(200)).body;
    await h.clock.advance(60_000);
    await h.put('/v1/people/alice/status', { activity: 'away', note: 'second' }, keys.alice).expect(200);
    const seen = await supervisor.waitFor((e) => e.event === 'presence' && e.data.personId === 'alice');
    expect(seen.data).toMatchObject({ activity: 'away', note: 'second' });
    expect(seen.data.version).toBeGreaterThan(before.version);
    // A marker change after it: once the colleague has that, the note change would have come before.
    await h.put('/v1/people/bob/status', { activity: 'away' }).expect(200);
    await colleague.waitFor((e) => e.event === 'presence' && e.data.personId === 'bob');
    expect(colleague.events.filter((e) => e.event === 'presence' && e.data.personId === 'alice')).toEqual([]);
    supervisor.close();
    colleague.close();
  });
});
