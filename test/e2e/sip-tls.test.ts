import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { parsePidf } from '../../shared/sip/pidf.js';
import { certificateAuthority, type CertificateAuthority } from '../support/certificate.js';
import { describeWith } from '../support/components.js';
import { sipTargetOf, startKamailio, type RunningKamailio } from '../support/kamailio.js';
import { eventually } from '../support/receiver.js';
import { hubCall } from '../support/scale-out.js';
import { startSipService, type ServiceProcess } from '../support/service-process.js';
import { publishDialogStates, startWatcher, type Watcher } from '../support/sipp.js';

const ADMIN = 'sip-tls-admin-key-0123456789abcdef';

/**
 * The real service publishes to Kamailio's TLS listener, whose certificate is self-signed or issued by a
 * private CA (as a PBX's often is): trusted through NODE_EXTRA_CA_CERTS, which Node itself reads at start.
 * A SIPp watcher subscribed over UDP reads what Kamailio holds (one presentity store for every transport).
 */
describeWith(['kamailio-tls', 'sipp', 'openssl'], 'SIP over TLS to a real Kamailio with a self-signed or a private CA certificate', () => {
  /** Self-signed. */
  let kam: RunningKamailio;
  /** A certificate for its IP address from a private CA; Kamailio sends it alone, without the CA. */
  let kamCa: RunningKamailio;
  let ca: CertificateAuthority;
  let svc: ServiceProcess | undefined;
  let watcher: Watcher | undefined;

  beforeAll(async () => {
    kam = await startKamailio({ tls: true });
    ca = certificateAuthority();
    kamCa = await startKamailio({ tls: true, certificate: ca.issue({ commonName: '127.0.0.1', altNames: ['IP:127.0.0.1'] }) });
  });
  afterAll(async () => {
    await kam?.stop();
    await kamCa?.stop();
  });
  afterEach(async () => {
    await watcher?.stop().catch(() => {});
    await svc?.stop();
    watcher = svc = undefined;
  });

  /** The service with alice, publishing to `server` over TLS; `env` adds to its environment, `over` to the target. */
  async function serviceWithTlsTarget(server: RunningKamailio, env: Record<string, string>, over: Record<string, unknown> = {}) {
    svc = await startSipService(ADMIN, env);
    const call = (method: string, path: string, body?: unknown) => hubCall(svc!.url, method, path, body, ADMIN);
    expect((await call('PUT', '/v1/people/alice', { name: 'Alice', extension: '1001', sipUri: server.aor('alice') })).status).toBe(201);
    expect((await call('PUT', '/v1/targets/kam', sipTargetOf(server, { server: server.tls!.uri, transport: 'tls', ...over }))).status).toBe(201);
    return call;
  }

  /** The watcher's latest PIDF that Presence Hub published (our tuple id). */
  const latest = () => {
    const ours = watcher!.bodies().filter((b) => b.includes('presence-hub'));
    const pidf = ours.length ? parsePidf(ours[ours.length - 1]!) : undefined;
    return pidf?.ok ? { basic: pidf.value.basic, activities: pidf.value.activities, note: pidf.value.note } : undefined;
  };

  // What the operator trusts: the self-signed certificate itself, or the CA that issued the PBX's certificate.
  const certificates = [
    { which: 'self-signed', server: () => kam, trusted: () => kam.tls!.certificate, refusal: 'self-signed certificate' },
    { which: 'issued by a private CA', server: () => kamCa, trusted: () => ca.cert, refusal: 'unable to verify the first certificate' },
  ];

  it.each(certificates)('publishes a state change over TLS when a certificate $which is trusted through NODE_EXTRA_CA_CERTS', async ({ server, trusted }) => {
    watcher = await startWatcher(server(), { user: 'alice', expires: 300 });
    const call = await serviceWithTlsTarget(server(), { NODE_EXTRA_CA_CERTS: trusted() });
    // Nothing is known of alice yet: the first publication says so.
    await eventually(() => expect(latest()).toMatchObject({ basic: 'closed', activities: ['unknown'] }), 30_000);
    expect((await call('PUT', '/v1/people/alice/status', { activity: 'dnd' })).status).toBe(200);
    await eventually(() => expect(latest()).toMatchObject({ basic: 'closed', activities: ['busy'], note: 'Do not disturb' }), 30_000);
    // The watcher's NOTIFY can come before our side has handled the PUBLISH's 200 (then the publication reads `modifying`).
    await eventually(async () => {
      const status = (await call('GET', '/v1/targets/kam/status')).body;
      expect(status).toMatchObject({ state: 'healthy', lastError: null, details: { server: server().tls!.uri, transport: 'tls', publications: { published: 1 } } });
    }, 10_000);
  }, 90_000);

  it.each(certificates)("refuses a certificate $which when it is not trusted, and the target's status says so", async ({ server, refusal }) => {
    const kamailio = server();
    const call = await serviceWithTlsTarget(kamailio, {});
    const status = await eventually(async () => {
      const s = (await call('GET', '/v1/targets/kam/status')).body;
      expect(s.lastError).toEqual(expect.any(String));
      return s;
    }, 30_000);
    expect(status).toMatchObject({ delivered: 0, lastSuccessAt: null });
    // Node 26 appends a hint to its own message ("; if the root CA is installed locally, try …").
    expect(status.lastError).toMatch(
      new RegExp(`^PUBLISH for ${kamailio.aor('alice')} failed \\(cannot connect to ${kamailio.host}:${kamailio.tls!.port} over TLS: ${refusal}(\\)|;)`),
    );
  }, 90_000);

  it('subscribes to the dialog package over TLS, and the NOTIFYs come back over that connection', async () => {
    // The hub listens for no TLS: Kamailio can reach it only over the connection the SUBSCRIBE came on.
    const call = await serviceWithTlsTarget(kamCa, { NODE_EXTRA_CA_CERTS: ca.cert }, { subscribeDialog: true });
    // Active only once a NOTIFY saying so has arrived: the 200 to the SUBSCRIBE alone leaves it pending.
    await eventually(async () => expect((await call('GET', '/v1/targets/kam/status')).body.details.dialogSubscriptions).toEqual({ active: 1 }), 30_000);
    const results = await publishDialogStates(kamCa, { user: '1001', states: ['early'], direction: 'recipient', dialogId: 'call-1' });
    expect(results.map((r) => r.status)).toEqual([200]);
    await eventually(async () => expect((await call('GET', '/v1/presence/alice')).body).toMatchObject({ activity: 'ringing', source: 'pbx' }), 30_000);
  }, 90_000);
});
