import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import type { Tenant } from '../../shared/domain/directory.js';
import type { SipTarget } from '../../shared/domain/target.js';
import type { Store } from '../../shared/store/port.js';
import type { Sink } from '../../services/publishers/sink.js';
import { sinkFactory } from '../../services/publishers/sink-factory.js';
import { TargetsService } from '../../services/publishers/targets-service.js';
import type { DirectoryService } from '../../services/directory/directory-service.js';
import type { SecretBox } from '../../shared/crypto/secrets.js';

const DNS: Record<string, string> = { 'pbx.internal.test': '10.0.0.7', 'pbx.example.test': '93.184.216.34' };
const resolve = async (host: string) => (DNS[host] ? [{ address: DNS[host]!, family: 4 }] : []);
const target = (server: string) => ({ id: 'pbx', tenantId: 't1', kind: 'sip', name: 'PBX', enabled: true, server, domain: 'example.test', transport: 'udp' }) as unknown as SipTarget;

/** A factory over a stored tenant that opted into private targets, under the operator's PRIVATE_TARGETS. */
function factory(privateTargets: boolean) {
  const tenant = { id: 't1', name: 'Acme', settings: { allowPrivateTargets: true, wrapUpSeconds: 0 } } as unknown as Tenant;
  const store = { directory: { get: async () => tenant } } as unknown as Store;
  const targets = new TargetsService(store, {} as DirectoryService, {} as SecretBox, resolve, privateTargets);
  const started: string[] = [];
  const make = sinkFactory({ store, clock: new ManualClock(0), targets, resolve, timeoutMs: 1000, sip: async (t) => (started.push(t.server), {} as Sink) });
  return { make, started };
}

describe('a stored SIP target is checked again when its publisher starts (it was saved under other rules, or its name now resolves elsewhere)', () => {
  it('with PRIVATE_TARGETS=false a SIP target on a private address saved before does not start', async () => {
    const { make, started } = factory(false);
    await expect(make(target('sip:pbx.internal.test'))).rejects.toMatchObject({ code: 'target_address_forbidden' });
    await expect(make(target('sip:127.0.0.1:6379'))).rejects.toMatchObject({ code: 'target_address_forbidden' });
    await make(target('sip:pbx.example.test'));
    expect(started).toEqual(['sip:pbx.example.test']);
  });

  it('a link-local address never starts; a tenant allowed private targets starts one; a name that does not resolve now is left to fail at sending', async () => {
    const { make, started } = factory(true);
    await expect(make(target('sip:169.254.169.254'))).rejects.toMatchObject({ code: 'target_address_forbidden' });
    await make(target('sip:pbx.internal.test'));
    await make(target('sip:gone.example.test'));
    expect(started).toEqual(['sip:pbx.internal.test', 'sip:gone.example.test']);
  });
});
