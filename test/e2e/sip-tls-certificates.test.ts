import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { certificateAuthority, type CertificateAuthority, type CertificateFiles } from '../support/certificate.js';
import { describeWith } from '../support/components.js';
import { eventually } from '../support/receiver.js';
import { hubCall } from '../support/scale-out.js';
import { startSipService, type ServiceProcess } from '../support/service-process.js';
import { startTlsPresenceServer, type TlsPresenceServer } from '../support/tls-presence-server.js';

const ADMIN = 'sip-tls-cert-admin-key-0123456789abcdef';
const DOMAIN = 'example.test';

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * What the README promises of a PBX's certificate, checked by the real service (NODE_EXTRA_CA_CERTS names a
 * private CA, as an operator would set it) against loopback presence servers presenting certificates that CA
 * issued: it must name the host of the target's server (IP address: an IP subjectAltName; DNS name: sent
 * as SNI), and be current. A refusal sends nothing and shows in the target's status.
 */
describeWith(['openssl'], "SIP over TLS: the PBX's certificate is verified against its CA, host name and dates", () => {
  let ca: CertificateAuthority;
  let svc: ServiceProcess;
  let server: TlsPresenceServer | undefined;
  let targets = 0;
  const call = (method: string, path: string, body?: unknown) => hubCall(svc.url, method, path, body, ADMIN);

  beforeAll(async () => {
    ca = certificateAuthority();
    svc = await startSipService(ADMIN, { NODE_EXTRA_CA_CERTS: ca.cert });
    expect((await call('PUT', '/v1/people/alice', { name: 'Alice', extension: '1001' })).status).toBe(201);
  });
  afterAll(async () => {
    await svc?.stop();
  });
  afterEach(async () => {
    await call('DELETE', `/v1/targets/t${targets}`);
    await server?.close();
    server = undefined;
  });

  /** A presence server with `certificate`, and a target publishing to it at `host` over TLS; the target's status once `settled`. */
  async function publishTo(host: string, certificate: CertificateFiles, chain: readonly string[] = []) {
    server = await startTlsPresenceServer(certificate, chain);
    const id = `t${++targets}`;
    const target = { kind: 'sip', name: 'PBX', server: `sips:${host}:${server.port}`, domain: DOMAIN, expiresSec: 120, coalesceMs: 0 };
    expect((await call('PUT', `/v1/targets/${id}`, target)).status).toBe(201);
    const status = () => call('GET', `/v1/targets/${id}/status`).then((r) => r.body);
    return { port: server.port, server, status };
  }

  /** The status once the first PUBLISH has failed: nothing reached the server, and `lastError` says why. */
  async function refusal(host: string, certificate: CertificateFiles, chain: readonly string[] = []) {
    const { port, server, status } = await publishTo(host, certificate, chain);
    const failed = await eventually(async () => {
      const s = await status();
      expect(s.lastError).toEqual(expect.any(String));
      return s;
    }, 30_000);
    expect(failed).toMatchObject({ delivered: 0, lastSuccessAt: null });
    expect(server.publishes).toEqual([]);
    return { lastError: failed.lastError as string, prefix: `PUBLISH for sip:1001@${DOMAIN} failed (cannot connect to ${host}:${port} over TLS: ` };
  }

  it('publishes to a server named by a DNS name (sips:localhost), sending that name as SNI', async () => {
    const { server, status } = await publishTo('localhost', ca.issue({ commonName: 'localhost', altNames: ['DNS:localhost'] }));
    await eventually(async () => expect(await status()).toMatchObject({ state: 'healthy', lastError: null, details: { publications: { published: 1 } } }), 30_000);
    expect(server.publishes.map((r) => r.uri)).toContain(`sip:1001@${DOMAIN}`);
    expect(server.serverNames).toContain('localhost');
  }, 60_000);

  it.each([
    { what: 'another IP address', altNames: ['IP:127.0.0.2'], reason: "IP: 127.0.0.1 is not in the cert's list: 127.0.0.2" },
    { what: 'a DNS name only', altNames: ['DNS:pbx.example.com'], reason: "IP: 127.0.0.1 is not in the cert's list: " },
    { what: 'the right IP address in its common name only', altNames: [], reason: "IP: 127.0.0.1 is not in the cert's list: " },
  ])('refuses a certificate naming $what when the server is sips:127.0.0.1', async ({ altNames, reason }) => {
    const { lastError, prefix } = await refusal('127.0.0.1', ca.issue({ commonName: '127.0.0.1', altNames }));
    expect(lastError).toMatch(new RegExp(`^${escaped(`${prefix}Hostname/IP does not match certificate's altnames: ${reason}`)}(\\)|;)`));
  }, 60_000);

  it('refuses a certificate for another DNS name when the server is sips:localhost', async () => {
    const { lastError, prefix } = await refusal('localhost', ca.issue({ commonName: 'pbx.example.com', altNames: ['DNS:pbx.example.com'] }));
    const reason = "Hostname/IP does not match certificate's altnames: Host: localhost. is not in the cert's altnames: DNS:pbx.example.com";
    expect(lastError).toMatch(new RegExp(`^${escaped(prefix + reason)}(\\)|;)`));
  }, 60_000);

  it('refuses an expired certificate', async () => {
    const { lastError, prefix } = await refusal('127.0.0.1', ca.issue({ commonName: '127.0.0.1', altNames: ['IP:127.0.0.1'], validity: 'expired' }));
    expect(lastError).toMatch(new RegExp(`^${escaped(`${prefix}certificate has expired`)}(\\)|;)`));
  }, 60_000);

  it.each([
    { what: 'alone', sendsCa: false, reason: 'unable to verify the first certificate' },
    { what: 'with its CA', sendsCa: true, reason: 'self-signed certificate in certificate chain' },
  ])('refuses a certificate from a CA it does not trust, sent $what', async ({ sendsCa, reason }) => {
    const other = certificateAuthority('Another CA');
    const certificate = other.issue({ commonName: '127.0.0.1', altNames: ['IP:127.0.0.1'] });
    const { lastError, prefix } = await refusal('127.0.0.1', certificate, sendsCa ? [other.cert] : []);
    // Node 26 appends a hint to its own message ("; if the root CA is installed locally, try …").
    expect(lastError).toMatch(new RegExp(`^${escaped(prefix + reason)}(\\)|;)`));
  }, 60_000);
});
