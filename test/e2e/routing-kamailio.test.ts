import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { seedMembers } from '../support/routing.js';
import { describeWithComponents } from '../support/routing-e2e/components.js';
import { startRoutingProxy, type RoutingProxy } from '../support/routing-e2e/kamailio.js';
import { freeUdpPorts } from '../support/routing-e2e/ports.js';
import { stopAll, tail } from '../support/routing-e2e/processes.js';
import { call, startPhone, type Phone } from '../support/routing-e2e/sipp.js';

/**
 * Kamailio asks Presence Hub's routing API for each INVITE (kamailio/routing-proxy.cfg, rtjson) and forks
 * to the answer; SIPp plays the caller, the members' phones and the voicemail box.
 */
describeWithComponents(['kamailio', 'sipp'], 'routing end to end: Kamailio forks on the rtjson answer', () => {
  let h: TestHub;
  let pbx: PbxKey;
  let proxy: RoutingProxy;
  let phones: Record<'alice' | 'bob' | 'carol' | 'dave' | 'vm', Phone>;
  let callerPort: number;

  const invites = () => Object.fromEntries(Object.entries(phones).map(([k, p]) => [k, p.invites()]));
  const logs = () => [proxy?.process, ...Object.values(phones ?? {}).map((p) => p.process)].filter(Boolean).map((c) => tail(c!)).join('\n');
  async function dial(dialled: string, expect: 'answered' | 480 | 486 | 503, via = proxy): Promise<void> {
    const r = await call({ proxyPort: via.port, port: callerPort, dialled, expect });
    if (r.code !== 0) throw new Error(`call to ${dialled} ended with ${r.code}, expected ${expect}\n${r.output}\n${logs()}`);
  }

  beforeAll(async () => {
    const [proxyPort, alicePort, bobPort, carolPort, davePort, vmPort, caller] = await freeUdpPorts(7);
    callerPort = caller!;
    h = await startTestHub();
    const base = await h.listen();
    // Filled one by one, so that afterAll stops the phones already started if a later one fails.
    phones = {} as typeof phones;
    phones.alice = await startPhone('alice', alicePort!, 'answer');
    phones.bob = await startPhone('bob', bobPort!, 'answer');
    phones.carol = await startPhone('carol', carolPort!, 'busy');
    phones.dave = await startPhone('dave', davePort!, 'no-answer');
    phones.vm = await startPhone('vm', vmPort!, 'answer');
    pbx = await seedMembers(h, [
      { id: 'alice', contact: phones.alice.uri },
      { id: 'bob', contact: phones.bob.uri },
      { id: 'carol', contact: phones.carol.uri },
      { id: 'dave', contact: phones.dave.uri },
    ]);
    await h
      .put('/v1/groups/support', {
        name: 'Support',
        extension: '2000',
        strategy: 'simultaneous',
        ringTimeoutSeconds: 10,
        members: [{ personId: 'alice' }, { personId: 'bob' }],
        fallback: [{ type: 'voicemail', box: '2000', uri: phones.vm.uri }],
      })
      .expect(201);
    await h
      .put('/v1/groups/line', {
        name: 'Line',
        extension: '3000',
        strategy: 'sequential',
        members: [{ personId: 'carol' }, { personId: 'bob' }],
        fallback: [{ type: 'hangup', message: 'Nobody could answer', sipCode: 486 }],
      })
      .expect(201);
    await h
      .put('/v1/groups/hunt', {
        name: 'Hunt',
        extension: '4000',
        strategy: 'sequential',
        members: [{ personId: 'dave', ringTimeoutSeconds: 1 }, { personId: 'bob' }],
      })
      .expect(201);
    const key = (await h.post('/v1/keys', { name: 'kamailio', role: 'pbx' }).expect(201)).body.secret as string;
    proxy = await startRoutingProxy({ port: proxyPort!, hubUrl: base, hubKey: key });
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    for (const p of Object.values(phones ?? {})) await p.stop();
    await stopAll();
    await h?.stop();
  });

  it('with alice on a call and bob available, the call rings bob only', async () => {
    await h.pbx([{ type: 'answered', device: 'alice-desk', at: h.clock.now(), callId: 'outside-call' }], pbx).expect(200);
    const before = invites();
    await dial('2000', 'answered');
    expect(invites()).toEqual({ ...before, bob: before.bob! + 1 });
  });

  it('with everyone busy or in DND, the call reaches the voicemail', async () => {
    await h.put('/v1/people/bob/status', { activity: 'dnd' }).expect(200);
    const before = invites();
    await dial('2000', 'answered');
    expect(invites()).toEqual({ ...before, vm: before.vm! + 1 });
  });

  it('after alice hangs up, the next call can ring her', async () => {
    await h.clock.advance(60_000);
    await h.pbx([{ type: 'hangup', device: 'alice-desk', at: h.clock.now(), callId: 'outside-call' }], pbx).expect(200);
    const before = invites();
    await dial('2000', 'answered');
    expect(invites()).toEqual({ ...before, alice: before.alice! + 1 });
  });

  it("a sequential group rings the next member when the first one's ring time is over", async () => {
    await h.del('/v1/people/bob/status').expect(200);
    const before = invites();
    const started = Date.now();
    await dial('4000', 'answered');
    expect(invites()).toEqual({ ...before, dave: before.dave! + 1, bob: before.bob! + 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('a sequential group steps to the next member when the first phone is busy, then hangs up as configured', async () => {
    let before = invites();
    await dial('3000', 'answered');
    expect(invites()).toEqual({ ...before, carol: before.carol! + 1, bob: before.bob! + 1 });
    await h.put('/v1/people/bob/status', { activity: 'dnd' }).expect(200);
    before = invites();
    await dial('3000', 486);
    expect(invites()).toEqual({ ...before, carol: before.carol! + 1 });
  });

  it('answers 503 when the routing API cannot be reached', async () => {
    const [port, deadApi] = await freeUdpPorts(2);
    const orphan = await startRoutingProxy({ port: port!, hubUrl: `http://127.0.0.1:${deadApi}`, hubKey: 'none' });
    try {
      const before = invites();
      await dial('2000', 503, orphan);
      expect(invites()).toEqual(before);
    } finally {
      await orphan.stop();
    }
  });
});
