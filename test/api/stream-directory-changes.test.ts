import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../services/cli/apply-command.js';
import { describeWith } from '../support/components.js';
import { ADMIN_KEY, seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { sharedRedis } from '../support/redis.js';
import { openStream, type SseClient } from '../support/sse.js';

/** Where a directory edit is made (`writer`) and where a stream watches (`reader`): one hub, or two replicas. */
interface Replicas {
  writer: TestHub;
  reader: TestHub;
  stop(): Promise<void>;
}

const ALICE = { name: 'Alice', extension: '1001', sipUri: 'sip:alice@example.test', teams: ['support'] };

/**
 * Directory edits reach open streams at once, through the change feed: a team stream gains a new member
 * and loses one who left, a supervisor stops seeing detail of someone just marked sensitive, with no
 * state change, and publish targets get nothing for it.
 */
function directoryChangesReachStreams(start: () => Promise<Replicas>): void {
  let r: Replicas;
  let pbx: PbxKey;
  let readerUrl: string;
  const streams: SseClient[] = [];
  const receivers: Receiver[] = [];
  const open = async (query: string, key = ADMIN_KEY, lastEventId?: string) => {
    const s = await openStream(`${readerUrl}/v1/stream${query}`, key, lastEventId);
    streams.push(s);
    return s;
  };
  const putAlice = (over: Record<string, unknown>) => r.writer.put('/v1/people/alice', { ...ALICE, ...over }).expect(200);
  const versionOfAlice = async () => (await r.writer.get('/v1/presence/alice').expect(200)).body.version as number;
  const data = (s: SseClient, event: string) => s.events.filter((e) => e.event === event).map((e) => e.data);

  beforeEach(async () => {
    r = await start();
    // A replica's feed reader follows Redis a moment behind: streams open once it has caught up.
    let reachedReader!: () => void;
    const caughtUp = new Promise<void>((resolve) => (reachedReader = resolve));
    const sub = await r.reader.hub.feed.subscribe('acme', (e) => e.personId === 'alice' && e.presence?.availability === 'available' && reachedReader());
    pbx = await seedAlice(r.writer);
    await r.writer.put('/v1/people/bob', { name: 'Bob', teams: ['support'] }).expect(201);
    await r.writer.pbx([{ type: 'registered', device: 'alice-desk', at: r.writer.clock.now() - 1000 }], pbx).expect(200);
    await caughtUp;
    sub.close();
    readerUrl = await r.reader.listen();
  });
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await r.stop();
    for (const rx of receivers.splice(0)) await rx.close();
  });

  it('a team stream shows a new member right after the PUT, and says `removed` once right after they leave', async () => {
    const version = await versionOfAlice();
    const stream = await open('?team=sales');
    expect((await stream.waitFor((e) => e.event === 'snapshot')).data.presence).toEqual([]);

    await putAlice({ teams: ['support', 'sales'] });
    const joined = await stream.waitFor((e) => e.event === 'presence');
    expect(joined.data).toMatchObject({ personId: 'alice', availability: 'available', activity: 'available', version });
    expect(joined.id).toBeTruthy();

    await putAlice({ teams: ['support'] });
    await stream.waitFor((e) => e.event === 'removed');
    // Edits of someone outside the team show nothing; bob joining marks the end of what arrived.
    await putAlice({ teams: ['support'], name: 'Alice Smith' });
    await r.writer.put('/v1/people/bob', { name: 'Bob', teams: ['sales'] }).expect(200);
    await stream.waitFor((e) => e.event === 'presence' && e.data.personId === 'bob');
    expect(stream.events.map((e) => [e.event, e.data.personId])).toEqual([
      ['snapshot', undefined],
      ['presence', 'alice'],
      ['removed', 'alice'],
      ['presence', 'bob'],
    ]);
    expect(await versionOfAlice()).toBe(version);
  });

  it('a supervisor stops seeing the reason of someone just marked sensitive, and sees a new name, at once', async () => {
    const supervisor = (await r.writer.post('/v1/keys', { name: 's', role: 'supervisor' }).expect(201)).body.secret as string;
    const version = await versionOfAlice();
    const stream = await open('', supervisor);
    const snap = await stream.waitFor((e) => e.event === 'snapshot');
    expect(snap.data.presence.find((p: { personId: string }) => p.personId === 'alice')).toMatchObject({ activity: 'available', routable: true });

    await putAlice({ sensitive: true });
    const hidden = await stream.waitFor((e) => e.event === 'presence');
    expect(hidden.data).toEqual({ personId: 'alice', name: 'Alice', availability: 'available', version, since: expect.any(String) });

    await putAlice({ sensitive: true, name: 'Alice Smith' });
    await stream.waitFor((e) => e.event === 'presence' && e.data.name === 'Alice Smith');
    // What no stream shows (the extension) sends nothing; bob's rename marks the end of what arrived.
    await putAlice({ sensitive: true, name: 'Alice Smith', extension: '1009' });
    await r.writer.put('/v1/people/bob', { name: 'Robert', teams: ['support'] }).expect(200);
    await stream.waitFor((e) => e.event === 'presence' && e.data.personId === 'bob');
    expect(data(stream, 'presence').map((p) => [p.personId, p.name, p.activity])).toEqual([
      ['alice', 'Alice', undefined],
      ['alice', 'Alice Smith', undefined],
      ['bob', 'Robert', expect.any(String)],
    ]);
  });

  it('a supervisor stops seeing the reason of someone marked sensitive at once even when the same edit changes their state', async () => {
    const supervisor = (await r.writer.post('/v1/keys', { name: 's', role: 'supervisor' }).expect(201)).body.secret as string;
    const stream = await open('', supervisor);
    const snapshot = await stream.waitFor((e) => e.event === 'snapshot');
    const held = snapshot.data.presence.find((p: { personId: string }) => p.personId === 'alice').version as number;
    // Working hours give her a next transition (off work at 18:00): a new state, the same availability.
    await r.writer.clock.advance(60_000);
    await putAlice({ sensitive: true, timeZone: 'Europe/Berlin', workingHours: { mon: [['08:00', '18:00']] } });
    const hidden = await stream.waitFor((e) => e.event === 'presence' && e.data.personId === 'alice');
    // At the edit's instant, which the supervisor sees anyway: above the version it holds, and no earlier instant of the state behind it.
    const edit = r.writer.clock.now();
    expect(edit).toBeGreaterThan(held);
    expect(hidden.data).toEqual({ personId: 'alice', name: 'Alice', availability: 'available', version: edit, since: expect.any(String) });
  });

  it('a client resuming by Last-Event-ID gets the directory changes it missed, and no `removed` for someone never in the team', async () => {
    await r.writer.put('/v1/people/carol', { name: 'Carol', teams: ['support'] }).expect(201);
    await r.writer.put('/v1/people/dave', { name: 'Dave', teams: ['sales'] }).expect(201);
    const first = await open('?team=sales');
    await first.waitFor((e) => e.event === 'snapshot');
    await r.writer.put('/v1/people/bob', { name: 'Bob', teams: ['sales'] }).expect(200);
    // Bob's, not Dave's creation: on Redis a change written before the stream opened may still come after its snapshot.
    const last = await first.waitFor((e) => e.event === 'presence' && e.data.personId === 'bob');
    first.close();

    // Carol, of another team, changes while the client is away: a live team stream shows her nothing, nor may a resumed one.
    await r.writer.put('/v1/people/carol/status', { activity: 'away' }).expect(200);
    await putAlice({ teams: ['sales'] });
    await r.writer.put('/v1/people/bob', { name: 'Bob', teams: ['support'] }).expect(200);
    await r.writer.del('/v1/people/dave').expect(204);
    const again = await open('?team=sales', ADMIN_KEY, last.id);
    await again.waitFor((e) => e.event === 'removed' && e.data.personId === 'dave');
    expect(again.events.map((e) => [e.event, e.data.personId])).toEqual([
      ['presence', 'alice'],
      ['removed', 'bob'],
      ['removed', 'dave'],
    ]);
  });

  it('a directory edit re-renders the current state for every target that covers the person, once, at the same version', async () => {
    await r.writer.put('/v1/tenant', { name: 'Acme', settings: { allowPrivateTargets: true, wrapUpSeconds: 0 } }).expect(200);
    const everyone = await startReceiver();
    const sales = await startReceiver();
    receivers.push(everyone, sales);
    await r.writer.put('/v1/targets/all', { kind: 'webhook', name: 'all', url: `${everyone.url}/all`, people: ['alice'], coalesceMs: 0 }).expect(201);
    await r.writer.put('/v1/targets/sales', { kind: 'webhook', name: 'sales', url: `${sales.url}/sales`, teams: ['sales'], coalesceMs: 0 }).expect(201);
    await everyone.waitFor(1);
    const version = await versionOfAlice();
    const stream = await open('');
    await stream.waitFor((e) => e.event === 'snapshot');

    await putAlice({ teams: ['support', 'sales'], sensitive: true, name: 'Alice Smith' });
    await stream.waitFor((e) => e.event === 'presence' && e.data.name === 'Alice Smith');
    // The target that had her state gets it again, as a sensitive person reads (her activity gone), under a
    // message id of its own; the sales target now covers her and gets it for the first time.
    await everyone.waitFor(2);
    await sales.waitFor(1);
    const payload = (rx: Receiver, i: number) => JSON.parse(rx.received[i]!.body);
    expect(payload(everyone, 0)).toMatchObject({ version, person: { name: 'Alice' }, presence: { activity: 'available' } });
    expect(payload(everyone, 1)).toMatchObject({ version, person: { name: 'Alice Smith' } });
    expect(payload(everyone, 1).presence).not.toHaveProperty('activity');
    expect(everyone.received[1]!.headers['webhook-id']).toMatch(new RegExp(`^msg_acme_alice_${version}_r\\d+$`));
    expect(everyone.received[0]!.headers['webhook-id']).toBe(`msg_acme_alice_${version}`);
    expect(payload(sales, 0)).toMatchObject({ version, person: { name: 'Alice Smith' } });

    // A team-only edit changes nothing a receiver reads: no message. A real change afterwards goes out once to each.
    await putAlice({ teams: ['sales'], sensitive: true, name: 'Alice Smith' });
    await r.writer.clock.advance(1000);
    await r.writer.pbx([{ type: 'ringing', device: 'alice-desk', at: r.writer.clock.now(), callId: 'c1' }], pbx).expect(200);
    const states = (rx: Receiver) => rx.received.map((x) => `${JSON.parse(x.body).version === version ? 'v' : 'v+'}:${JSON.parse(x.body).presence.availability as string}`);
    await everyone.waitFor(3);
    await sales.waitFor(2);
    expect(states(everyone)).toEqual(['v:available', 'v:available', 'v+:busy']);
    expect(states(sales)).toEqual(['v:available', 'v+:busy']);

    // She leaves the sales team: its target withdraws what it published for her instead of leaving it to go
    // stale; back in the team, she is sent afresh.
    await putAlice({ teams: ['support'], sensitive: true, name: 'Alice Smith' });
    await sales.waitFor(3);
    // At the version the target had, under an id of its own: back in the team, her state at that version is
    // taken again by a receiver that drops only older versions.
    const busy = payload(sales, 1).version as number;
    expect(payload(sales, 2)).toMatchObject({ type: 'presence.removed', personId: 'alice', reason: 'out-of-scope', version: busy });
    expect(sales.received[2]!.headers['webhook-id']).toMatch(new RegExp(`^msg_acme_alice_${busy}_w\\d+$`));
    await putAlice({ teams: ['sales'], sensitive: true, name: 'Alice Smith' });
    await sales.waitFor(4);
    expect(payload(sales, 3)).toMatchObject({ type: 'presence.updated', personId: 'alice', version: busy, presence: { availability: 'busy' } });
    expect(sales.received[3]!.headers['webhook-id']).toMatch(new RegExp(`^msg_acme_alice_${busy}_r\\d+$`));
    // Edits within one millisecond are still messages of their own: a receiver deduplicating by id takes each.
    expect(new Set(sales.received.map((x) => x.headers['webhook-id'])).size).toBe(4);
    // Nothing more was sent meanwhile.
    expect(everyone.received).toHaveLength(3);
    // The target that covers her by name was never out of scope: re-renders only.
    expect(everyone.received.map((x) => JSON.parse(x.body).type as string)).not.toContain('presence.removed');
  });

  it('`presence-hub apply -f` with a changed team shows the change on a team stream', async () => {
    const writerUrl = await r.writer.listen();
    const file = join(r.writer.dir, 'directory.yaml');
    const stream = await open('?team=sales');
    await stream.waitFor((e) => e.event === 'snapshot');
    writeFileSync(
      file,
      `tenant: acme
people:
  - { id: alice, name: Alice, extension: "1001", sipUri: "sip:alice@example.test", teams: [support, sales], devices: [{ id: alice-desk, kind: desk, contact: "sip:alice@192.0.2.10" }] }
  - { id: bob, name: Bob, teams: [support] }
`,
    );
    const lines: string[] = [];
    expect(await run(['apply', '-f', file, '--url', writerUrl], { PRESENCE_HUB_KEY: ADMIN_KEY }, (s) => lines.push(s))).toBe(0);
    expect(lines.join('\n')).toMatch(/"updated": \[\s*"alice"\s*\]/);
    const joined = await stream.waitFor((e) => e.event === 'presence');
    expect(joined.data).toMatchObject({ personId: 'alice', version: await versionOfAlice() });
  });
}

describe('directory changes on live streams: one embedded hub', () => {
  directoryChangesReachStreams(async () => {
    const h = await startTestHub();
    return { writer: h, reader: h, stop: () => h.stop() };
  });
});

describe('directory changes on live streams: someone with no state yet', () => {
  it('joins a team stream as a snapshot shows them (unknown), as their first state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ph-test-'));
    const first = await startTestHub({ dir });
    await first.put('/v1/people/bob', { name: 'Bob', teams: ['support'] }).expect(201);
    await first.stop();
    // Bob said nothing that outlives a restart: the restarted hub holds no state of him.
    const h = await startTestHub({ dir });
    try {
      expect((await h.hub.store.state.read('acme', 'bob')).presence).toBeUndefined();
      const stream = await openStream(`${await h.listen()}/v1/stream?team=sales`, ADMIN_KEY);
      await stream.waitFor((e) => e.event === 'snapshot');
      await h.put('/v1/people/bob', { name: 'Bob', teams: ['sales'] }).expect(200);
      const joined = await stream.waitFor((e) => e.event === 'presence');
      expect(joined.data).toMatchObject({ personId: 'bob', availability: 'unknown', activity: 'unknown' });
      expect((await h.get('/v1/presence/bob').expect(200)).body.version).toBe(joined.data.version);
      stream.close();
    } finally {
      await h.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeWith(['redis'], 'directory changes on live streams: edited on one replica, streamed from another (Redis)', () => {
  const redisEnv = sharedRedis('dir');

  directoryChangesReachStreams(async () => {
    // A key prefix per test: a dataset of its own on the one server.
    const env = redisEnv();
    const writer = await startTestHub({ env });
    const reader = await startTestHub({ env });
    return {
      writer,
      reader,
      async stop() {
        await reader.stop();
        await writer.stop();
      },
    };
  });
});
