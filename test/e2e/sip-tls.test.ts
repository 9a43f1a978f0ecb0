import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { parsePidf } from '../../shared/sip/pidf.js';
import { makeTempDir } from '../support/child-group.js';
import { describeWith } from '../support/components.js';
import { sipTargetOf, startKamailio, type RunningKamailio } from '../support/kamailio.js';
import { eventually } from '../support/receiver.js';
import { hubCall } from '../support/scale-out.js';
import { startService, type ServiceProcess } from '../support/service-process.js';
import { startWatcher, type Watcher } from '../support/sipp.js';

const ADMIN = 'sip-tls-admin-key-0123456789abcdef';

/**
 * The real service publishes to Kamailio's TLS listener, whose certificate is self-signed (as a PBX's often
 * is, or signed by a private CA): trusted through NODE_EXTRA_CA_CERTS, which Node itself reads at start.
 * A SIPp watcher subscribed over UDP reads what Kamailio holds (one presentity store for every transport).
 */
describeWith(['kamailio-tls', 'sipp', 'openssl'], 'SIP PUBLISH over TLS to a real Kamailio with a self-signed certificate', () => {
  let kam: RunningKamailio;
  let svc: ServiceProcess | undefined;
  let watcher: Watcher | undefined;

  beforeAll(async () => {
    kam = await startKamailio({ tls: true });
  });
  afterAll(async () => {
    await kam?.stop();
  });
  afterEach(async () => {
    await watcher?.stop().catch(() => {});
    await svc?.stop();
    watcher = svc = undefined;
  });

  /** The service with alice, publishing to Kamailio over TLS; `env` adds to its environment. */
  async function serviceWithTlsTarget(env: Record<string, string>) {
    svc = await startService({
      DATA_DIR: makeTempDir('ph-sip-tls-'),
      BOOTSTRAP_TENANT: 'acme',
      BOOTSTRAP_ADMIN_KEY: ADMIN,
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      SIP_HOST: '127.0.0.1',
      SIP_PORT: '0',
      ...env,
    });
    const call = (method: string, path: string, body?: unknown) => hubCall(svc!.url, method, path, body, ADMIN);
    expect((await call('PUT', '/v1/people/alice', { name: 'Alice', extension: '1001', sipUri: kam.aor('alice') })).status).toBe(201);
    expect((await call('PUT', '/v1/targets/kam', sipTargetOf(kam, { server: kam.tls!.uri, transport: 'tls' }))).status).toBe(201);
    return call;
  }

  /** The watcher's latest PIDF that Presence Hub published (our tuple id). */
  const latest = () => {
    const ours = watcher!.bodies().filter((b) => b.includes('presence-hub'));
    const pidf = ours.length ? parsePidf(ours[ours.length - 1]!) : undefined;
    return pidf?.ok ? { basic: pidf.value.basic, activities: pidf.value.activities, note: pidf.value.note } : undefined;
  };

  it('publishes a state change over TLS when the certificate is trusted through NODE_EXTRA_CA_CERTS', async () => {
    watcher = await startWatcher(kam, { user: 'alice', expires: 300 });
    const call = await serviceWithTlsTarget({ NODE_EXTRA_CA_CERTS: kam.tls!.certificate });
    // Nothing is known of alice yet: the first publication says so.
    await eventually(() => expect(latest()).toMatchObject({ basic: 'closed', activities: ['unknown'] }), 30_000);
    expect((await call('PUT', '/v1/people/alice/status', { activity: 'dnd' })).status).toBe(200);
    await eventually(() => expect(latest()).toMatchObject({ basic: 'closed', activities: ['busy'], note: 'Do not disturb' }), 30_000);
    const status = (await call('GET', '/v1/targets/kam/status')).body;
    expect(status).toMatchObject({ state: 'healthy', lastError: null, details: { server: kam.tls!.uri, transport: 'tls', publications: { published: 1 } } });
  }, 90_000);

  it("refuses a certificate it cannot verify, and the target's status says so", async () => {
    const call = await serviceWithTlsTarget({});
    const status = await eventually(async () => {
      const s = (await call('GET', '/v1/targets/kam/status')).body;
      expect(s.lastError).toEqual(expect.any(String));
      return s;
    }, 30_000);
    expect(status).toMatchObject({ delivered: 0, lastSuccessAt: null });
    // Node 26 appends a hint to its own message ("; if the root CA is installed locally, try …").
    expect(status.lastError).toMatch(new RegExp(`^PUBLISH for ${kam.aor('alice')} failed \\(cannot connect to ${kam.host}:${kam.tls!.port} over TLS: self-signed certificate(\\)|;)`));
  }, 90_000);
});
