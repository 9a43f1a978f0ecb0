import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith } from '../support/components.js';
import { startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { startKamailio, type RunningKamailio } from '../support/kamailio.js';
import { freePorts } from '../support/ports.js';
import { seedMembers } from '../support/routing.js';
import { finalResponse, runSipp, spawnSipp, summarize, type SippProcess } from '../support/sipp.js';

const ROUTING_PROXY_CFG = fileURLToPath(new URL('../../kamailio/routing-proxy.cfg', import.meta.url));

type Phone = 'alice' | 'bob' | 'carol' | 'dave' | 'vm';
const SCENARIOS: Record<Phone, string> = {
  alice: 'routing-phone-answer.xml',
  bob: 'routing-phone-answer.xml',
  carol: 'routing-phone-busy.xml',
  dave: 'routing-phone-no-answer.xml',
  vm: 'routing-phone-answer.xml',
};

/**
 * Kamailio asks Presence Hub's routing API for each INVITE (kamailio/routing-proxy.cfg, rtjson) and forks
 * to the answer; SIPp plays the caller, the members' phones and the voicemail box.
 */
describeWith(['kamailio', 'sipp'], 'routing end to end: Kamailio forks on the rtjson answer', () => {
  let h: TestHub;
  let pbx: PbxKey;
  let proxy: RunningKamailio;
  const phones: Partial<Record<Phone, SippProcess>> = {};
  const uri = (who: Phone) => `sip:${who}@127.0.0.1:${phones[who]!.localPort}`;

  const startProxy = (hubUrl: string, hubKey: string) =>
    startKamailio({ cfg: ROUTING_PROXY_CFG, env: { PRESENCE_HUB_URL: hubUrl, PRESENCE_HUB_KEY: hubKey } });

  /** Calls each phone has been offered so far (distinct Call-IDs, so retransmissions do not count). */
  const offered = () =>
    Object.fromEntries(
      (Object.keys(SCENARIOS) as Phone[]).map((who) => {
        const invites = phones[who]!.messages().filter((m) => m.direction === 'received' && m.method === 'INVITE');
        return [who, new Set(invites.map((m) => m.header('Call-ID'))).size];
      }),
    ) as Record<Phone, number>;

  async function dial(dialled: string, expected: 'answered' | 486 | 503, via: RunningKamailio = proxy): Promise<void> {
    const remote = { host: via.host, port: via.port };
    const r =
      expected === 'answered'
        ? await runSipp({ scenario: 'caller.xml', remote, keys: { callee: dialled, domain: 'example.test' }, pauseMs: 100, timeoutMs: 20_000 })
        : await runSipp({ scenario: `routing-caller-rejected-${expected}.xml`, remote, extraArgs: ['-s', dialled], timeoutMs: 20_000 });
    const final = finalResponse(r.messages.filter((m) => m.method === undefined && /INVITE/.test(m.header('CSeq') ?? '')));
    if (r.exitCode !== 0) throw new Error(`call to ${dialled}: SIPp exited ${r.exitCode}, final ${final?.status}\n${summarize(r.messages)}\n${r.output.join('\n')}`);
  }

  beforeAll(async () => {
    h = await startTestHub();
    const base = await h.listen();
    const ports = await freePorts(Object.keys(SCENARIOS).length);
    for (const [i, who] of (Object.keys(SCENARIOS) as Phone[]).entries()) {
      phones[who] = await spawnSipp({ scenario: SCENARIOS[who], localPort: ports[i]!, calls: 100, timeoutMs: 120_000 });
    }
    pbx = await seedMembers(h, [
      { id: 'alice', contact: uri('alice') },
      { id: 'bob', contact: uri('bob') },
      { id: 'carol', contact: uri('carol') },
      { id: 'dave', contact: uri('dave') },
    ]);
    await h
      .put('/v1/groups/support', {
        name: 'Support',
        extension: '2000',
        strategy: 'simultaneous',
        ringTimeoutSeconds: 10,
        members: [{ personId: 'alice' }, { personId: 'bob' }],
        fallback: [{ type: 'voicemail', box: '2000', uri: uri('vm') }],
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
      .put('/v1/groups/hunt', { name: 'Hunt', extension: '4000', strategy: 'sequential', members: [{ personId: 'dave', ringTimeoutSeconds: 1 }, { personId: 'bob' }] })
      .expect(201);
    const key = (await h.post('/v1/keys', { name: 'kamailio', role: 'pbx' }).expect(201)).body.secret as string;
    proxy = await startProxy(base, key);
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    for (const p of Object.values(phones)) await p.stop();
    await h?.stop();
  });

  it('with alice on a call and bob available, the call rings bob only', async () => {
    await h.pbx([{ type: 'answered', device: 'alice-desk', at: h.clock.now(), callId: 'outside-call' }], pbx).expect(200);
    const before = offered();
    await dial('2000', 'answered');
    expect(offered()).toEqual({ ...before, bob: before.bob + 1 });
  });

  it('with everyone busy or in DND, the call reaches the voicemail', async () => {
    await h.put('/v1/people/bob/status', { activity: 'dnd' }).expect(200);
    const before = offered();
    await dial('2000', 'answered');
    expect(offered()).toEqual({ ...before, vm: before.vm + 1 });
  });

  it('after alice hangs up, the next call can ring her', async () => {
    await h.clock.advance(60_000);
    await h.pbx([{ type: 'hangup', device: 'alice-desk', at: h.clock.now(), callId: 'outside-call' }], pbx).expect(200);
    const before = offered();
    await dial('2000', 'answered');
    expect(offered()).toEqual({ ...before, alice: before.alice + 1 });
  });

  it("a sequential group rings the next member when the first one's ring time is over", async () => {
    await h.del('/v1/people/bob/status').expect(200);
    const before = offered();
    const started = performance.now();
    await dial('4000', 'answered');
    expect(offered()).toEqual({ ...before, dave: before.dave + 1, bob: before.bob + 1 });
    // Dave's phone rang for his 1 s, not tm's default 30 s: the route's fr_inv_timer applied.
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('a sequential group steps to the next member when the first phone is busy, then hangs up as configured', async () => {
    let before = offered();
    await dial('3000', 'answered');
    expect(offered()).toEqual({ ...before, carol: before.carol + 1, bob: before.bob + 1 });
    await h.put('/v1/people/bob/status', { activity: 'dnd' }).expect(200);
    before = offered();
    await dial('3000', 486);
    expect(offered()).toEqual({ ...before, carol: before.carol + 1 });
  });

  it('answers 503 when the routing API cannot be reached', async () => {
    const [deadApi] = await freePorts(1);
    const orphan = await startProxy(`http://127.0.0.1:${deadApi}`, 'none');
    try {
      const before = offered();
      await dial('2000', 503, orphan);
      expect(offered()).toEqual(before);
    } finally {
      await orphan.stop();
    }
  });
});
