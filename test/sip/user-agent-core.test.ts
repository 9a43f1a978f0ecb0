import { describe, expect, it } from 'vitest';
import { createSipIds } from '../../shared/sip/ids.js';
import { tagOf } from '../../shared/sip/address.js';
import { digestResponse, DigestSession, parseChallenges } from '../../shared/sip/digest.js';
import { FAKE_PEER } from '../../shared/sip/fake-transport.js';
import { createRequest, parseCSeq, type SipRequest, type SipResponse } from '../../shared/sip/message.js';
import type { RequestOutcome, RequestSpec } from '../../shared/sip/user-agent-core.js';
import { parseVia } from '../../shared/sip/via.js';
import { setup, TARGET } from './helpers.js';

const SPEC: RequestSpec = {
  method: 'PUBLISH',
  requestUri: 'sip:alice@example.test',
  from: 'sip:alice@example.test',
  fromTag: 'f1',
  to: 'sip:alice@example.test',
  callId: 'call-1',
  cseq: 5,
  headers: [['Event', 'presence']],
};

function incoming(method: string, extra: Array<[string, string]> = [], branch = 'z9hG4bKin1'): SipRequest {
  const request = createRequest(method, 'sip:192.0.2.100:5060', [
    ['Via', `SIP/2.0/UDP 192.0.2.1:5060;branch=${branch}`],
    ['From', '<sip:presence@example.test>;tag=srv'],
    ['To', '<sip:watcher@example.test>'],
    ['Call-ID', 'in-1'],
    ['CSeq', `1 ${method}`],
  ]);
  for (const [name, value] of extra) request.headers.set(name, value);
  return request;
}

const responses = (h: ReturnType<typeof setup>) =>
  h.transport.sent.map((s) => s.message).filter((m): m is SipResponse => m.kind === 'response');

describe('user agent core: incoming requests', () => {
  it.each([
    ['OPTIONS', 200],
    ['INFO', 405],
    ['FOO', 501],
  ])('answers %s with %i', async (method, status) => {
    const h = setup();
    h.transport.inject(incoming(method));
    await h.clock.advance(0);
    const [response] = responses(h);
    expect(response?.status).toBe(status);
    expect(response && tagOf(response.headers.get('to'))).toBeDefined();
    if (status !== 501) expect(response?.headers.get('allow')).toContain('NOTIFY');
    expect(h.transport.sent[0]?.to).toEqual(FAKE_PEER);
  });

  it('answers 481 to a NOTIFY for a dialog it does not know, and nothing to ACK', async () => {
    const h = setup();
    h.transport.inject(incoming('NOTIFY', [['To', '<sip:watcher@example.test>;tag=unknown']]));
    h.transport.inject(incoming('ACK'));
    await h.clock.advance(0);
    expect(responses(h).map((r) => r.status)).toEqual([481]);
  });

  it('routes in-dialog requests by Call-ID and To tag, and stops after unregistration', async () => {
    const h = setup();
    const seen: string[] = [];
    const unregister = h.core.addDialog('in-1', 'mine', (request) => {
      seen.push(request.method);
      return { status: 200 };
    });
    const notify = (branch: string) => incoming('NOTIFY', [['To', '<sip:watcher@example.test>;tag=mine']], branch);
    h.transport.inject(notify('z9hG4bK1'));
    await h.clock.advance(0);
    unregister();
    h.transport.inject(notify('z9hG4bK2'));
    await h.clock.advance(0);
    expect(seen).toEqual(['NOTIFY']);
    expect(responses(h).map((r) => r.status)).toEqual([200, 481]);
  });

  it('absorbs retransmitted requests: one handler call, the same answer resent until Timer J', async () => {
    const h = setup();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    h.core.onRequest('MESSAGE', async () => {
      calls += 1;
      await gate;
      return { status: 202 };
    });
    h.transport.inject(incoming('MESSAGE'));
    h.transport.inject(incoming('MESSAGE'));
    await h.clock.advance(0);
    expect(responses(h)).toHaveLength(0);
    release();
    await h.clock.advance(0);
    h.transport.inject(incoming('MESSAGE'));
    await h.clock.advance(0);
    expect(calls).toBe(1);
    expect(responses(h).map((r) => r.status)).toEqual([202, 202]);
    await h.clock.advance(32_000);
    h.transport.inject(incoming('MESSAGE'));
    await h.clock.advance(0);
    expect(calls).toBe(2);
  });

  it('answers 500 when a handler throws', async () => {
    const h = setup();
    h.core.onRequest('MESSAGE', () => {
      throw new Error('boom');
    });
    h.transport.inject(incoming('MESSAGE'));
    await h.clock.advance(0);
    expect(responses(h).map((r) => r.status)).toEqual([500]);
  });
});

describe('user agent core: requests', () => {
  it('moves a request over 1300 bytes to TCP when the target takes TCP', async () => {
    const h = setup();
    const big: RequestSpec = { ...SPEC, body: 'x'.repeat(1300) };
    void h.core.request(big, { ...TARGET, allowsTcp: true });
    void h.core.request(big, TARGET);
    void h.core.request(SPEC, { ...TARGET, allowsTcp: true });
    await h.clock.advance(0);
    expect(h.transport.sent.map((s) => s.to.protocol)).toEqual(['tcp', 'udp', 'udp']);
    expect(h.transport.sent.map((s) => parseVia(s.message.headers.get('via'))?.transport)).toEqual(['TCP', 'UDP', 'UDP']);
  });

  it.each([
    [401, 'WWW-Authenticate', 'Authorization'],
    [407, 'Proxy-Authenticate', 'Proxy-Authorization'],
  ] as const)('retries once on %i with %s: CSeq+1, same Call-ID and From tag, new branch', async (status, challengeHeader, credentialsHeader) => {
    const h = setup();
    const auth = new DigestSession({ username: 'alice', password: 's3cret' }, () => 'cnonce-1');
    let outcome: RequestOutcome | undefined;
    void h.core.request(SPEC, TARGET, auth).then((o) => (outcome = o));
    await h.clock.advance(0);
    const first = h.transport.lastRequest();
    expect(first.headers.has(credentialsHeader)).toBe(false);
    const challenge = 'Digest realm="example.test", nonce="n-1", qop="auth", algorithm=SHA-256, opaque="op"';
    h.transport.respond(first, status, [[challengeHeader, challenge]]);
    await h.clock.advance(0);

    const second = h.transport.lastRequest();
    expect(h.transport.requests()).toHaveLength(2);
    expect(parseCSeq(second.headers.get('cseq'))).toEqual({ seq: 6, method: 'PUBLISH' });
    expect(second.headers.get('call-id')).toBe(first.headers.get('call-id'));
    expect(tagOf(second.headers.get('from'))).toBe('f1');
    expect(parseVia(second.headers.get('via'))?.params['branch']).not.toBe(parseVia(first.headers.get('via'))?.params['branch']);
    const credentials = second.headers.get(credentialsHeader) ?? '';
    const expected = digestResponse(parseChallenges([challenge])[0]!, { username: 'alice', password: 's3cret' }, {
      method: 'PUBLISH',
      uri: 'sip:alice@example.test',
      nc: 1,
      cnonce: 'cnonce-1',
    });
    expect(credentials).toContain(`response="${expected}"`);
    expect(credentials).toContain('algorithm=SHA-256, qop=auth, nc=00000001, cnonce="cnonce-1", opaque="op"');

    h.transport.respond(second, 200);
    await h.clock.advance(0);
    expect(outcome).toMatchObject({ kind: 'response', response: { status: 200 } });
    expect(parseCSeq(outcome?.request.headers.get('cseq'))?.seq).toBe(6);
  });

  it('returns the second challenge instead of looping when the password is wrong', async () => {
    const h = setup();
    const auth = new DigestSession({ username: 'alice', password: 'wrong' }, () => 'c');
    let outcome: RequestOutcome | undefined;
    void h.core.request(SPEC, TARGET, auth).then((o) => (outcome = o));
    await h.clock.advance(0);
    h.transport.respond(h.transport.lastRequest(), 401, [['WWW-Authenticate', 'Digest realm="r", nonce="1"']]);
    await h.clock.advance(0);
    h.transport.respond(h.transport.lastRequest(), 401, [['WWW-Authenticate', 'Digest realm="r", nonce="2"']]);
    await h.clock.advance(0);
    expect(outcome).toMatchObject({ kind: 'response', response: { status: 401 } });
    expect(h.transport.requests()).toHaveLength(2);
  });

  it('returns a 401 untouched without credentials', async () => {
    const h = setup();
    let outcome: RequestOutcome | undefined;
    void h.core.request(SPEC, TARGET).then((o) => (outcome = o));
    await h.clock.advance(0);
    h.transport.respond(h.transport.lastRequest(), 401, [['WWW-Authenticate', 'Digest realm="r", nonce="1"']]);
    await h.clock.advance(0);
    expect(outcome).toMatchObject({ kind: 'response', response: { status: 401 } });
  });
});

describe('default ids', () => {
  it('are fresh every time, with the branch cookie, across refills of the random pool', () => {
    const ids = createSipIds();
    const branches = Array.from({ length: 1200 }, () => ids.branch());
    expect(new Set(branches).size).toBe(branches.length);
    for (const b of branches) expect(b).toMatch(/^z9hG4bK[0-9a-f]{16}$/);
    const cnonces = Array.from({ length: 600 }, () => ids.cnonce());
    expect(new Set([...cnonces, ...branches.map((b) => b.slice(7))]).size).toBe(cnonces.length + branches.length);
  });
});
