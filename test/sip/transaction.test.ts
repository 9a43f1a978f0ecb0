import { describe, expect, it } from 'vitest';
import { SipTransportError } from '../../shared/sip/errors.js';
import { SipHeaders, type SipRequest } from '../../shared/sip/message.js';
import type { RequestOutcome, RequestSpec } from '../../shared/sip/user-agent-core.js';
import { setup, T0, TARGET } from './helpers.js';

const SPEC: RequestSpec = {
  method: 'PUBLISH',
  requestUri: 'sip:alice@example.test',
  from: 'sip:alice@example.test',
  fromTag: 'f1',
  to: 'sip:alice@example.test',
  callId: 'call-1',
  cseq: 1,
  headers: [['Event', 'presence']],
};

function harness(protocols?: Parameters<typeof setup>[0]) {
  const h = setup(protocols);
  const times: number[] = [];
  const send = h.transport.send.bind(h.transport);
  h.transport.send = (message, to) => {
    if (message.kind === 'request') times.push(h.clock.now() - T0);
    return send(message, to);
  };
  let outcome: RequestOutcome | undefined;
  const start = (destination = TARGET) => {
    void h.core.request(SPEC, destination).then((o) => (outcome = o));
  };
  return { ...h, times, start, outcome: () => outcome };
}

describe('non-INVITE client transaction (RFC 3261 §17.1.2)', () => {
  it('over UDP retransmits at 0.5, 1, 2, 4, 4… s intervals and times out at 32 s', async () => {
    const h = harness();
    h.start();
    await h.clock.advance(31_999);
    expect(h.times).toEqual([0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]);
    expect(h.outcome()).toBeUndefined();
    await h.clock.advance(1);
    expect(h.outcome()?.kind).toBe('timeout');
    await h.clock.advance(60_000);
    expect(h.times).toHaveLength(11);
  });

  it('over TCP never retransmits but still times out at 32 s', async () => {
    const h = harness();
    h.start({ ...TARGET, protocol: 'tcp' });
    await h.clock.advance(31_999);
    expect(h.times).toEqual([0]);
    expect(h.outcome()).toBeUndefined();
    await h.clock.advance(1);
    expect(h.outcome()?.kind).toBe('timeout');
    expect(h.transport.lastRequest().headers.get('via')).toMatch(/^SIP\/2\.0\/TCP /);
  });

  it('after a provisional response retransmits every T2', async () => {
    const h = harness();
    h.start();
    await h.clock.advance(600);
    h.transport.respond(h.transport.lastRequest(), 100);
    await h.clock.advance(20_000);
    expect(h.times).toEqual([0, 500, 1500, 5500, 9500, 13_500, 17_500]);
    expect(h.outcome()).toBeUndefined();
  });

  it('stops on a final response and absorbs its retransmissions', async () => {
    const h = harness();
    h.start();
    await h.clock.advance(0);
    const request = h.transport.lastRequest();
    h.transport.respond(request, 200);
    await h.clock.advance(0);
    expect(h.outcome()).toMatchObject({ kind: 'response', response: { status: 200 } });
    h.transport.respond(request, 500);
    await h.clock.advance(40_000);
    expect(h.outcome()).toMatchObject({ kind: 'response', response: { status: 200 } });
    expect(h.times).toEqual([0]);
  });

  it('matches responses by branch and method', async () => {
    const h = harness();
    h.start();
    await h.clock.advance(0);
    const request = h.transport.lastRequest();
    h.transport.respond(variant(request, 'Via', 'SIP/2.0/UDP x;branch=z9hG4bKother'), 200);
    h.transport.respond(variant(request, 'CSeq', '1 SUBSCRIBE'), 200);
    await h.clock.advance(0);
    expect(h.outcome()).toBeUndefined();
    h.transport.respond(request, 202);
    await h.clock.advance(0);
    expect(h.outcome()).toMatchObject({ kind: 'response', response: { status: 202 } });
  });

  it('reports transport errors', async () => {
    const h = harness();
    h.transport.failure = new SipTransportError('connection refused');
    h.start();
    await h.clock.advance(0);
    expect(h.outcome()).toMatchObject({ kind: 'transport-error' });
  });

  it('reports a missing transport for the protocol', async () => {
    const h = harness(['udp']);
    h.start({ ...TARGET, protocol: 'tls' });
    await h.clock.advance(0);
    expect(h.outcome()).toMatchObject({ kind: 'transport-error' });
    expect(h.times).toEqual([]);
  });
});

function variant(request: SipRequest, name: string, value: string): SipRequest {
  const entries = request.headers.entries().map(([n, v]): [string, string] => [n, n === name ? value : v]);
  return { ...request, headers: new SipHeaders(entries) };
}
