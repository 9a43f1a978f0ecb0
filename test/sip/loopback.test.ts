import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../shared/clock/clock.js';
import { StreamTransport } from '../../shared/sip/stream-transport.js';
import { bindUdpAndTcp } from '../../shared/sip/udp-tcp-pair.js';
import type { Destination, Transport } from '../../shared/sip/transport.js';
import { UdpTransport } from '../../shared/sip/udp-transport.js';
import { UserAgentCore, type RequestSpec } from '../../shared/sip/user-agent-core.js';
import { selfSignedCertificate } from '../support/certificate.js';

const HOST = '127.0.0.1';
const open: Transport[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function pair(make: () => Promise<Transport>) {
  const [a, b] = [await make(), await make()];
  open.push(a, b);
  return { a: new UserAgentCore({ transport: a, clock: systemClock }), b, bCore: new UserAgentCore({ transport: b, clock: systemClock }) };
}

const spec = (method: string, body = ''): RequestSpec => ({
  method,
  requestUri: `sip:b@${HOST}`,
  from: `sip:a@${HOST}`,
  fromTag: 'a1',
  to: `sip:b@${HOST}`,
  callId: `loop-${method}-${body.length}`,
  cseq: 1,
  body,
});

describe('loopback transports', () => {
  it('UDP to UDP: a request and its response', async () => {
    const { a, b } = await pair(() => UdpTransport.bind({ host: HOST, port: 0 }));
    const to: Destination = { protocol: 'udp', host: HOST, port: b.localAddress('udp')!.port };
    const outcome = await a.request(spec('OPTIONS'), to);
    expect(outcome).toMatchObject({ kind: 'response', response: { status: 200 } });
  });

  it('TCP to TCP: a request and its response on the same connection, also when large', async () => {
    const { a, b, bCore } = await pair(() => StreamTransport.listen({ protocol: 'tcp', host: HOST, port: 0 }));
    const bodies: string[] = [];
    bCore.onRequest('MESSAGE', (request) => {
      bodies.push(request.body);
      return { status: 202 };
    });
    const to: Destination = { protocol: 'tcp', host: HOST, port: b.localAddress('tcp')!.port };
    const big = 'x'.repeat(60_000);
    const [small, large] = await Promise.all([a.request(spec('MESSAGE', 'hi'), to), a.request(spec('MESSAGE', big), to)]);
    expect(small).toMatchObject({ kind: 'response', response: { status: 202 } });
    expect(large).toMatchObject({ kind: 'response', response: { status: 202 } });
    expect(bodies.sort()).toEqual([big, 'hi'].sort());
  });

  it('UDP with TCP beside it moves a request over 1300 bytes to TCP', async () => {
    const make = () => bindUdpAndTcp({ host: HOST, port: 0 });
    const { a, b, bCore } = await pair(make);
    let via = '';
    bCore.onRequest('MESSAGE', (request) => {
      via = request.headers.get('via') ?? '';
      return { status: 200 };
    });
    const to: Destination = { protocol: 'udp', host: HOST, port: b.localAddress('udp')!.port, allowsTcp: true };
    const outcome = await a.request(spec('MESSAGE', 'y'.repeat(1400)), to);
    expect(outcome).toMatchObject({ kind: 'response', response: { status: 200 } });
    expect(via).toMatch(/^SIP\/2\.0\/TCP /);
  });

  it('TLS: a client that trusts the server certificate exchanges a request and response', async () => {
    const pem = selfSignedCertificate(HOST);
    const key = readFileSync(pem.key);
    const cert = readFileSync(pem.cert);
    const server = await StreamTransport.listen({ protocol: 'tls', host: HOST, port: 0, tlsServer: { key, cert } });
    const client = await StreamTransport.listen({ protocol: 'tls', host: HOST, port: 0, tlsClient: { ca: cert } });
    open.push(server, client);
    new UserAgentCore({ transport: server, clock: systemClock });
    const a = new UserAgentCore({ transport: client, clock: systemClock });
    const outcome = await a.request(spec('OPTIONS'), { protocol: 'tls', host: HOST, port: server.localAddress('tls')!.port });
    expect(outcome).toMatchObject({ kind: 'response', response: { status: 200 } });
    // A client that does not trust the certificate gets no answer, and an error that says why.
    const untrusting = await StreamTransport.listen({ protocol: 'tls', host: HOST, port: 0 });
    open.push(untrusting);
    const b = new UserAgentCore({ transport: untrusting, clock: systemClock });
    const refused = await b.request(spec('INFO'), { protocol: 'tls', host: HOST, port: server.localAddress('tls')!.port });
    // Node 26 appends a hint to its own message ("; if the root CA is installed locally, try …").
    expect(refused).toMatchObject({ kind: 'transport-error', error: { message: expect.stringMatching(new RegExp(`^cannot connect to ${HOST}:${server.localAddress('tls')!.port} over TLS: self-signed certificate($|;)`)) } });
  }, 40_000);
  it('TLS: a client that only connects out names its connection in Via and Contact, and a request to that Contact comes back over it', async () => {
    const pem = selfSignedCertificate(HOST);
    const cert = readFileSync(pem.cert);
    const server = await StreamTransport.listen({ protocol: 'tls', host: HOST, port: 0, tlsServer: { key: readFileSync(pem.key), cert } });
    const client = await StreamTransport.listen({ protocol: 'tls', host: HOST, port: 0, tlsClient: { ca: cert } });
    open.push(server, client);
    const serverCore = new UserAgentCore({ transport: server, clock: systemClock });
    const clientCore = new UserAgentCore({ transport: client, clock: systemClock });
    const arrived: Array<{ via: string; contact: string; from: Destination }> = [];
    serverCore.onRequest('SUBSCRIBE', (request, from) => {
      arrived.push({ via: request.headers.get('via') ?? '', contact: request.headers.get('contact') ?? '', from });
      return { status: 200 };
    });
    const subscribed = await clientCore.request({ ...spec('SUBSCRIBE'), contact: true }, { protocol: 'tls', host: HOST, port: server.localAddress('tls')!.port });
    expect(subscribed).toMatchObject({ kind: 'response', response: { status: 200 } });
    const [{ via, contact, from }] = arrived as [(typeof arrived)[number]];
    // The connection's own source port, not the 0 of a transport without a listening socket.
    expect(from.port).toBeGreaterThan(0);
    expect(via).toMatch(new RegExp(`^SIP/2\\.0/TLS ${HOST}:${from.port};`));
    expect(contact).toBe(`<sip:${HOST}:${from.port};transport=tls>`);
    const notified: string[] = [];
    clientCore.onRequest('NOTIFY', (request) => {
      notified.push(request.body);
      return { status: 200 };
    });
    const notify = await serverCore.request({ ...spec('NOTIFY', 'state'), requestUri: `sip:${HOST}:${from.port};transport=tls` }, { protocol: 'tls', host: HOST, port: from.port });
    expect(notify).toMatchObject({ kind: 'response', response: { status: 200 } });
    expect(notified).toEqual(['state']);
  }, 40_000);
});
