import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys, seedAlice, startTestHub, type TestHub } from '../support/hub.js';

const DNS: Record<string, string> = { 'pbx.example.test': '93.184.216.34', 'redis.internal.test': '10.0.0.7', 'metadata.test': '169.254.169.254' };
// Disabled: each SIP request goes to the address these names resolve to, and tests send only to loopback.
const sip = (over: Record<string, unknown>) => ({ kind: 'sip', name: 'PBX', server: 'sip:pbx.example.test:5060', domain: 'example.test', enabled: false, ...over });

describe('what a tenant admin writes never reaches a SIP message raw', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub({ resolve: async (host) => (DNS[host] ? [{ address: DNS[host]!, family: 4 }] : []) });
  });
  afterAll(() => h.stop());

  it('refuses CR/LF in the domain and the digest username (they go into SIP headers as they are)', async () => {
    for (const over of [{ domain: 'example.test\r\nFLUSHALL' }, { domain: 'example.test>;x=1' }, { username: 'pbx\r\nVia: SIP/2.0/UDP evil' }]) {
      const r = await h.put('/v1/targets/pbx', sip(over)).expect(400);
      expect(r.body.error.code).toBe('invalid_body');
    }
    await h.put('/v1/targets/pbx', sip({ domain: '[2001:db8::1]:5060', username: 'pbx user' })).expect(201);
    await h.put('/v1/targets/pbx', sip({})).expect(200);
  });

  it("refuses whitespace and control characters in a device's contact, from a member or a PBX: routing sends it to the proxy as a Request-URI", async () => {
    const pbx = await seedAlice(h);
    const { alice } = await createKeys(h, { alice: { role: 'member', personId: 'alice' } });
    const forged = 'sip:alice@192.0.2.10\r\nRoute: <sip:premium@evil.example>';
    expect((await h.put('/v1/people/alice/devices/alice-soft', { kind: 'desk', contact: forged }, alice).expect(400)).body.error.code).toBe('invalid_body');
    expect((await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now(), contact: forged }], pbx).expect(400)).body.error.code).toBe('invalid_body');
    expect((await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now(), contact: 'sip:alice@192.0.2.10 x' }], pbx).expect(400)).body.error.code).toBe('invalid_body');
    await h.put('/v1/people/alice/devices/alice-soft', { kind: 'mobile', contact: '+4930123456' }, alice).expect(201);
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now(), contact: 'sip:alice@192.0.2.10:5062;transport=tcp' }], pbx).expect(200);
  });

  it("refuses CR/LF in a group's hang-up message: Kamailio sends it as the reason phrase of its final response", async () => {
    const group = (message: string) => ({ name: 'Sales', fallback: [{ type: 'hangup', message, sipCode: 480 }] });
    const r = await h.put('/v1/groups/sales', group('Closed\r\nContact: <sip:premium@evil.example>')).expect(400);
    expect(r.body.error.code).toBe('invalid_body');
    await h.put('/v1/groups/sales', group('Closed – call again tomorrow')).expect(201);
  });
});

describe('SIP targets: the SSRF guard checks the server as it does webhook URLs', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub({ resolve: async (host) => (DNS[host] ? [{ address: DNS[host]!, family: 4 }] : []) });
  });
  afterAll(() => h.stop());

  it('private servers need settings.allowPrivateTargets; link-local and unresolvable ones are never allowed', async () => {
    for (const server of ['sip:redis.internal.test:6379', 'sip:127.0.0.1:6379', 'sip:[::1]:5060']) {
      expect((await h.put('/v1/targets/pbx', sip({ server, transport: 'tcp' })).expect(422)).body.error.code).toBe('target_address_forbidden');
    }
    await h.put('/v1/tenant', { name: 'Acme', settings: { allowPrivateTargets: true, wrapUpSeconds: 0 } }).expect(200);
    await h.put('/v1/targets/pbx', sip({ server: 'sip:redis.internal.test:6379' })).expect(201);
    expect((await h.put('/v1/targets/pbx', sip({ server: 'sip:metadata.test' })).expect(422)).body.error.code).toBe('target_address_forbidden');
    expect((await h.put('/v1/targets/pbx', sip({ server: 'sips:169.254.169.254' })).expect(422)).body.error.code).toBe('target_address_forbidden');
    expect((await h.put('/v1/targets/pbx', sip({ server: 'sip:nowhere.test' })).expect(422)).body.error.code).toBe('unresolvable_host');
    expect((await h.get('/v1/targets/pbx').expect(200)).body.server).toBe('sip:redis.internal.test:6379');
  });
});

describe('SIP targets located by DNS SRV: the guard checks every server the records name', () => {
  let h: TestHub;
  const srv: Record<string, Array<{ name: string; port: number; priority: number; weight: number }>> = {
    '_sip._udp.pbx.example.test': [
      { name: 'ghost.example.test', port: 5060, priority: 10, weight: 0 },
      { name: 'sip1.example.test', port: 5060, priority: 20, weight: 0 },
    ],
    '_sip._tcp.pbx.example.test': [
      { name: 'sip1.example.test', port: 5060, priority: 10, weight: 0 },
      { name: 'metadata.test', port: 5060, priority: 20, weight: 0 },
    ],
    '_sip._udp.nowhere.test': [{ name: 'ghost.example.test', port: 5060, priority: 10, weight: 0 }],
  };
  const dns: Record<string, string> = { ...DNS, 'sip1.example.test': '93.184.216.35' };
  beforeAll(async () => {
    h = await startTestHub({ resolve: async (host) => (dns[host] ? [{ address: dns[host]!, family: 4 }] : []), srvResolve: async (name) => srv[name] ?? [] });
  });
  afterAll(() => h.stop());

  it('a name with SRV records is checked by the servers they name (one not yet in DNS is no reason to refuse, every address that resolves must be allowed)', async () => {
    // No A record of its own is needed: sip1 resolves (ghost does not).
    delete dns['pbx.example.test'];
    await h.put('/v1/targets/pbx', sip({ server: 'sip:pbx.example.test' })).expect(201);
    // Over TCP the records name a cloud-metadata address.
    expect((await h.put('/v1/targets/pbx', sip({ server: 'sip:pbx.example.test', transport: 'tcp' })).expect(422)).body.error.code).toBe('target_address_forbidden');
    expect((await h.put('/v1/targets/pbx', sip({ server: 'sip:nowhere.test' })).expect(422)).body.error.code).toBe('unresolvable_host');
  });
});
