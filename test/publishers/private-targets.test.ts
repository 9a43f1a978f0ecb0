import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';

const DNS: Record<string, string> = { 'pbx.internal.test': '10.0.0.7' };
const resolve = async (host: string) => (DNS[host] ? [{ address: DNS[host]!, family: 4 }] : []);
const OPT_IN = { name: 'Acme', settings: { allowPrivateTargets: true, wrapUpSeconds: 0 } };

describe("private push targets: the tenant's opt-in counts only while the operator lets tenants choose (PRIVATE_TARGETS)", () => {
  let h: TestHub;
  afterEach(() => h.stop());

  it('with PRIVATE_TARGETS=false a tenant that opted in still cannot point webhooks, ARI or SIP at private addresses', async () => {
    h = await startTestHub({ env: { PRIVATE_TARGETS: 'false' }, resolve });
    await h.put('/v1/tenant', OPT_IN).expect(200);
    const refused = [
      { kind: 'webhook', name: 'Redis', url: 'http://127.0.0.1:6379/' },
      { kind: 'ari', name: 'PBX', baseUrl: 'http://pbx.internal.test:8088', username: 'u', password: 'p' },
      { kind: 'sip', name: 'PBX', server: 'sip:pbx.internal.test', domain: 'example.test' },
    ];
    for (const body of refused) expect((await h.put('/v1/targets/t', body).expect(422)).body.error.code).toBe('target_address_forbidden');
    await h.put('/v1/targets/t', { kind: 'webhook', name: 'Public', url: 'https://93.184.216.34/hook', enabled: false }).expect(201);
  });

  it('a SIP target saved while private targets were allowed does not start once PRIVATE_TARGETS=false, and its status says why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ph-private-'));
    const SIP = { SIP_HOST: '127.0.0.1', SIP_PORT: '0' };
    try {
      h = await startTestHub({ dir, env: SIP, resolve });
      await h.put('/v1/tenant', OPT_IN).expect(200);
      // No one has a SIP address: nothing is sent to the (unused) loopback port.
      await h.put('/v1/targets/pbx', { kind: 'sip', name: 'PBX', server: 'sip:127.0.0.1:9', domain: 'example.test' }).expect(201);
      expect((await h.get('/v1/targets/pbx/status').expect(200)).body.lastError).toBeNull();
      await h.stop();
      h = await startTestHub({ dir, env: { ...SIP, PRIVATE_TARGETS: 'false' }, resolve });
      const status = (await h.get('/v1/targets/pbx/status').expect(200)).body;
      expect(status).toMatchObject({ state: 'failing', lastError: expect.stringContaining('private address 127.0.0.1') });
    } finally {
      await h.stop();
      rmSync(dir, { recursive: true, force: true });
      h = { stop: async () => {} } as TestHub;
    }
  });

  it('by default a tenant that opted in may (PBXs often live on private networks)', async () => {
    h = await startTestHub({ resolve });
    await h.put('/v1/tenant', OPT_IN).expect(200);
    await h.put('/v1/targets/t', { kind: 'sip', name: 'PBX', server: 'sip:pbx.internal.test', domain: 'example.test', enabled: false }).expect(201);
  });
});
