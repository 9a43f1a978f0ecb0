import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, createKeys, ROLE_KEYS, seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { openStream, type SseClient } from '../support/sse.js';

describe('live stream: every client gets its own level of detail of the same change', () => {
  let h: TestHub;
  let pbx: PbxKey;
  let base: string;
  const keys: Record<string, string> = { admin: ADMIN_KEY };

  beforeAll(async () => {
    h = await startTestHub();
    pbx = await seedAlice(h);
    await h.put('/v1/people/bob', { name: 'Bob', extension: '1002' }).expect(201);
    await h.put('/v1/people/carol', { name: 'Carol', extension: '1003', sensitive: true }).expect(201);
    await h.put('/v1/people/carol/devices/carol-desk', { kind: 'desk', contact: 'sip:carol@192.0.2.11' }).expect(201);
    Object.assign(keys, await createKeys(h, { ...ROLE_KEYS, carol: { role: 'member', personId: 'carol' } }));
    base = await h.listen();
  });
  afterAll(() => h.stop());

  it('each stream (two of each role) shows a change exactly as GET /v1/presence shows it to that key', async () => {
    const clients: Array<[string, SseClient]> = [];
    for (const name of Object.keys(keys)) {
      for (let copy = 0; copy < 2; copy++) {
        const c = await openStream(`${base}/v1/stream`, keys[name]!);
        await c.waitFor((e) => e.event === 'snapshot');
        clients.push([name, c]);
      }
    }
    const now = h.clock.now();
    // One batch: both people change in the same task, so the clients render them together.
    await h
      .pbx(
        [
          { type: 'registered', device: 'alice-desk', at: now },
          { type: 'registered', device: 'carol-desk', at: now },
          { type: 'answered', device: 'carol-desk', at: now + 1, callId: 'c1' },
        ],
        pbx,
      )
      .expect(200);
    for (const person of ['alice', 'carol']) {
      for (const [name, c] of clients) {
        const expected = (await h.get(`/v1/presence/${person}`, keys[name]).expect(200)).body;
        if (name === 'external' && person === 'carol') {
          // Unknown before, on a call now: busy either way to a partner, so nothing is sent.
          const shown = c.events.find((e) => e.event === 'snapshot')!.data.presence.find((p: { personId: string }) => p.personId === 'carol');
          expect({ ...shown, version: expected.version }).toEqual(expected);
          continue;
        }
        const seen = await c.waitFor((e) => e.event === 'presence' && e.data.personId === person && e.data.version === expected.version);
        expect({ name, view: seen.data }).toEqual({ name, view: expected });
      }
    }
    for (const [name, c] of clients) {
      if (name === 'external') expect(c.events.filter((e) => e.event === 'presence' && e.data.personId === 'carol')).toEqual([]);
      c.close();
    }
  });

  it('gives those who see only the availability the instant it began, not when the activity behind it last changed', async () => {
    await h.clock.advance(1000);
    await h.pbx([{ type: 'hangup', device: 'carol-desk', at: h.clock.now(), callId: 'c1' }], pbx).expect(200);
    await h.clock.advance(600_000);
    expect((await h.get('/v1/presence/carol', keys.admin).expect(200)).body).toMatchObject({ availability: 'available' });
    const t1 = h.clock.now();
    await h.put('/v1/people/carol/status', { activity: 'away' }).expect(200);
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    await h.clock.advance(60_000);
    const t2 = h.clock.now();
    // Still away, now on a break: only the activity changed.
    await h.put('/v1/people/carol/status', { activity: 'break' }).expect(200);
    await h.put('/v1/people/alice/status', { activity: 'break' }).expect(200);
    const since = async (person: string, key: string) => (await h.get(`/v1/presence/${person}`, keys[key]).expect(200)).body.since as string;
    const iso = (ms: number) => new Date(ms).toISOString();
    expect((await h.get('/v1/presence/carol', keys.admin).expect(200)).body).toMatchObject({ availability: 'away', activity: 'break' });
    // Carol is sensitive: supervisors, PBXs and colleagues see her away since t1; she and admins see the state's own start.
    for (const key of ['supervisor', 'pbx', 'bob']) expect([key, await since('carol', key)]).toEqual([key, iso(t1)]);
    for (const key of ['carol', 'admin']) expect([key, await since('carol', key)]).toEqual([key, iso(t2)]);
    // Alice is not: a supervisor sees what she does and since when; a colleague only her availability's start.
    expect(await since('alice', 'supervisor')).toBe(iso(t2));
    expect(await since('alice', 'bob')).toBe(iso(t1));
  });

  it('shows those who see less a version that does not move when only what they cannot see changed', async () => {
    for (const person of ['alice', 'carol']) await h.del(`/v1/people/${person}/status`).expect(200);
    await h.clock.advance(60_000);
    for (const person of ['alice', 'carol']) await h.put(`/v1/people/${person}/status`, { activity: 'away', note: 'back soon' }).expect(200);
    const version = async (person: string, key: string) => (await h.get(`/v1/presence/${person}`, keys[key]).expect(200)).body.version as number;
    const viewers = { alice: ['bob', 'external'], carol: ['bob', 'external', 'supervisor', 'pbx'] } as const;
    const before = new Map<string, number>();
    for (const [person, keyNames] of Object.entries(viewers)) for (const key of keyNames) before.set(`${person}/${key}`, await version(person, key));
    const adminBefore = await version('alice', 'admin');
    await h.clock.advance(60_000);
    // Still away: only the activity and the note change.
    for (const person of ['alice', 'carol']) await h.put(`/v1/people/${person}/status`, { activity: 'break', note: 'lunch' }).expect(200);
    // The version is seeded from the clock: a new one would tell them to the millisecond when it changed.
    for (const [person, keyNames] of Object.entries(viewers)) {
      for (const key of keyNames) expect([person, key, await version(person, key)]).toEqual([person, key, before.get(`${person}/${key}`)]);
    }
    expect(await version('alice', 'admin')).toBeGreaterThan(adminBefore);
    expect(await version('alice', 'supervisor')).toBe(await version('alice', 'admin'));
  });

  const markAlice = (sensitive: boolean) =>
    h.put('/v1/people/alice', { name: 'Alice', extension: '1001', sipUri: 'sip:alice@example.test', teams: ['support'], ...(sensitive ? { sensitive: true } : {}) }).expect(200);

  /** A supervisor stream that saw Alice go away, then on a break (same availability); the version it holds of her. */
  async function supervisorSawBreak(): Promise<{ c: SseClient; held: number }> {
    for (const person of ['alice', 'carol']) await h.del(`/v1/people/${person}/status`).expect(200);
    const c = await openStream(`${base}/v1/stream`, keys.supervisor!);
    await c.waitFor((e) => e.event === 'snapshot');
    await h.clock.advance(60_000);
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    await h.clock.advance(60_000);
    await h.put('/v1/people/alice/status', { activity: 'break' }).expect(200);
    const held = (await c.waitFor((e) => e.event === 'presence' && e.data.personId === 'alice' && e.data.activity === 'break')).data.version as number;
    return { c, held };
  }

  it('sends a supervisor a person just marked sensitive at a version no lower than the one it holds', async () => {
    const { c, held } = await supervisorSawBreak();
    const at = h.clock.now() + 1000;
    await h.clock.advance(1000);
    await markAlice(true);
    const shown = await c.waitFor((e) => e.event === 'presence' && e.data.personId === 'alice' && e.data.activity === undefined);
    // A client that drops older versions (as the dashboard does) takes it, and stops showing the break.
    expect(shown.data).toEqual({ personId: 'alice', name: 'Alice', availability: 'away', since: expect.any(String), version: at });
    expect(at).toBeGreaterThan(held);
    c.close();
    await markAlice(false);
  });

  it('a supervisor resuming after someone was marked sensitive stops showing their activity, though it drops older versions', async () => {
    const { c: first } = await supervisorSawBreak();
    first.close();
    await markAlice(true);
    const again = await openStream(`${base}/v1/stream`, keys.supervisor!, first.events.at(-1)!.id);
    await again.waitFor((e) => (e.event === 'presence' || e.event === 'snapshot') && JSON.stringify(e.data).includes('"alice"'));
    again.close();
    // As the dashboard holds people: a snapshot replaces them all, a presence older than the one held is dropped.
    const held = new Map<string, { version: number; activity?: string }>();
    for (const e of [...first.events, ...again.events]) {
      if (e.event === 'snapshot') {
        held.clear();
        for (const p of e.data.presence) held.set(p.personId, p);
      } else if (e.event === 'presence' && !(held.get(e.data.personId)!.version > e.data.version)) held.set(e.data.personId, e.data);
    }
    expect(held.get('alice')!.activity).toBeUndefined();
    await markAlice(false);
  });

  it('never shows any key a lower version of someone marked sensitive and back, nor tells one that sees less when the hidden state changed', async () => {
    const viewers = ['admin', 'supervisor', 'pbx', 'bob', 'external'];
    const versions = async () => Object.fromEntries(await Promise.all(viewers.map(async (k) => [k, (await h.get('/v1/presence/alice', keys[k]).expect(200)).body.version as number])));
    const { c } = await supervisorSawBreak();
    c.close();
    const seen = [await versions()];
    for (const sensitive of [true, false, true]) {
      await h.clock.advance(1000);
      const edit = h.clock.now();
      const explained = (await h.get('/v1/presence/alice').expect(200)).body.explanation;
      await markAlice(sensitive);
      // The same state, re-rendered: what decided it is unchanged.
      expect((await h.get('/v1/presence/alice').expect(200)).body.explanation).toEqual(explained);
      const now = await versions();
      // Every view is re-rendered at the edit's instant: no lower than before, and no older instant of the state behind it.
      for (const k of viewers) expect([k, sensitive, now[k]]).toEqual([k, sensitive, edit]);
      seen.push(now);
      // Only the activity changes: those who see it get a newer version, the others keep the edit's.
      await h.clock.advance(1000);
      await h.put('/v1/people/alice/status', { activity: sensitive ? 'away' : 'break' }).expect(200);
      const after = await versions();
      for (const k of viewers) expect([k, sensitive, after[k]! > edit]).toEqual([k, sensitive, k === 'admin' || (!sensitive && ['supervisor', 'pbx'].includes(k))]);
      seen.push(after);
    }
    for (const k of viewers) {
      const series = seen.map((v) => v[k]!);
      expect([k, series]).toEqual([k, [...series].sort((a, b) => a - b)]);
    }
    await markAlice(false);
  });

  it('sends those who see only the availability nothing when only the activity behind it changed', async () => {
    for (const person of ['alice', 'carol']) await h.del(`/v1/people/${person}/status`).expect(200);
    const names = ['bob', 'external', 'supervisor', 'pbx'];
    const clients = new Map<string, SseClient>();
    for (const name of names) {
      const c = await openStream(`${base}/v1/stream`, keys[name]!);
      await c.waitFor((e) => e.event === 'snapshot');
      clients.set(name, c);
    }
    await h.clock.advance(60_000);
    for (const person of ['alice', 'carol']) await h.put(`/v1/people/${person}/status`, { activity: 'away' }).expect(200);
    await h.clock.advance(60_000);
    // Still away: only the activity changes.
    for (const person of ['alice', 'carol']) await h.put(`/v1/people/${person}/status`, { activity: 'break' }).expect(200);
    await h.clock.advance(60_000);
    for (const person of ['alice', 'carol']) await h.del(`/v1/people/${person}/status`).expect(200);
    // The supervisor sees Alice's activity, so all three of her changes; the last change reaches everyone.
    for (const c of clients.values()) await c.waitFor((e) => e.event === 'presence' && e.data.personId === 'carol' && e.data.availability !== 'away');
    await clients.get('supervisor')!.waitFor((e) => e.event === 'presence' && e.data.personId === 'alice' && e.data.availability === 'available');
    const seen = (name: string, person: string) =>
      clients
        .get(name)!
        .events.filter((e) => e.event === 'presence' && e.data.personId === person)
        .map((e) => (e.data.activity ?? e.data.availability) as string);
    expect(seen('supervisor', 'alice')).toEqual(['away', 'break', 'available']);
    expect(seen('pbx', 'alice')).toEqual(['away', 'break', 'available']);
    expect(seen('bob', 'alice')).toEqual(['away', 'available']);
    expect(seen('external', 'alice')).toEqual(['busy', 'available']);
    // Carol is sensitive: a supervisor sees her availability only, so her break is no news to them either.
    expect(seen('supervisor', 'carol')).toEqual(['away', 'available']);
    expect(seen('bob', 'carol')).toEqual(['away', 'available']);
    // A PBX sees whether and where to ring her too, and neither changed with her break.
    expect(seen('pbx', 'carol')).toEqual(['away', 'available']);
    for (const c of clients.values()) c.close();
  });

  it('sends an external partner nothing while someone stays on the same side of available and busy', async () => {
    for (const person of ['alice', 'carol']) await h.del(`/v1/people/${person}/status`).expect(200);
    const clients = new Map<string, SseClient>();
    for (const name of ['external', 'bob']) {
      const c = await openStream(`${base}/v1/stream`, keys[name]!);
      await c.waitFor((e) => e.event === 'snapshot');
      clients.set(name, c);
    }
    await h.clock.advance(60_000);
    await h.put('/v1/people/alice/status', { activity: 'dnd' }).expect(200);
    const partnerVersion = async () => (await h.get('/v1/presence/alice', keys.external).expect(200)).body.version as number;
    const busySince = await partnerVersion();
    await h.clock.advance(60_000);
    // Another availability, but busy either way to a partner: nor does the version they are shown move.
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    expect(await partnerVersion()).toBe(busySince);
    await h.clock.advance(60_000);
    await h.del('/v1/people/alice/status').expect(200);
    expect(await partnerVersion()).toBeGreaterThan(busySince);
    for (const c of clients.values()) await c.waitFor((e) => e.event === 'presence' && e.data.personId === 'alice' && e.data.availability === 'available');
    const seen = (name: string) => clients.get(name)!.events.filter((e) => e.event === 'presence' && e.data.personId === 'alice').map((e) => e.data.availability as string);
    expect(seen('bob')).toEqual(['dnd', 'away', 'available']);
    expect(seen('external')).toEqual(['busy', 'available']);
    for (const c of clients.values()) c.close();
  });

  it('still sends a phone system a sensitive person whose endpoints changed while the availability held', async () => {
    await h.del('/v1/people/carol/status').expect(200);
    const c = await openStream(`${base}/v1/stream`, keys.pbx!);
    await c.waitFor((e) => e.event === 'snapshot');
    await h.clock.advance(1000);
    await h.pbx([{ type: 'registered', device: 'carol-desk', at: h.clock.now(), contact: 'sip:carol@192.0.2.99' }], pbx).expect(200);
    const e = await c.waitFor((x) => x.event === 'presence' && x.data.personId === 'carol');
    expect(e.data.endpoints).toEqual([expect.objectContaining({ contact: 'sip:carol@192.0.2.99' })]);
    c.close();
  });
});
