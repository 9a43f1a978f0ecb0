import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import type { Tenant } from '../../shared/domain/directory.js';
import type { SipTarget } from '../../shared/domain/target.js';
import type { AddressCheck } from '../../shared/sip/transport.js';
import type { Store } from '../../shared/store/port.js';
import type { SecretBox } from '../../shared/crypto/secrets.js';
import type { DirectoryService } from '../../services/directory/directory-service.js';
import { MAX_TTL_MS, MIN_TTL_MS } from '../../services/publishers/dns-cache.js';
import type { Sink } from '../../services/publishers/sink.js';
import { sinkFactory } from '../../services/publishers/sink-factory.js';
import type { ResolvedAddress } from '../../services/publishers/ssrf-guard.js';
import { TargetsService } from '../../services/publishers/targets-service.js';

const NAME = 'pbx.example.test';
const TARGET = { id: 'pbx', tenantId: 't1', kind: 'sip', name: 'PBX', enabled: true, server: `sip:${NAME}:5060`, domain: 'example.test', transport: 'udp' } as unknown as SipTarget;

/** A SIP target's per-request address check, over a DNS played by the test that counts its lookups. */
async function setup() {
  const clock = new ManualClock('2026-03-02T10:00:00Z');
  const dns: { answer: ResolvedAddress[] | Error; lookups: number } = { answer: [{ address: '93.184.216.34', family: 4, ttl: 30 }], lookups: 0 };
  const sipResolve = async (host: string): Promise<ResolvedAddress[]> => {
    expect(host).toBe(NAME);
    dns.lookups++;
    if (dns.answer instanceof Error) throw dns.answer;
    return dns.answer;
  };
  const tenant = { id: 't1', name: 'Acme', settings: { allowPrivateTargets: false, wrapUpSeconds: 0 } } as unknown as Tenant;
  const store = { directory: { get: async () => tenant } } as unknown as Store;
  const resolve = async () => [{ address: '93.184.216.34', family: 4 }];
  const targets = new TargetsService(store, {} as DirectoryService, {} as SecretBox, resolve, true);
  let check: AddressCheck | undefined;
  const make = sinkFactory({ store, clock, targets, resolve, sipResolve, timeoutMs: 1000, sip: async (_t, _h, c) => ((check = c), {} as Sink) });
  await make(TARGET);
  /** The address the next request goes to, or why it goes nowhere. */
  const send = () => check!(NAME).catch((err: Error) => err.message);
  return { clock, dns, send };
}

describe('a SIP server named by a DNS name', () => {
  it('is resolved once per TTL, however many requests go out, and every answer is checked', async () => {
    const { clock, dns, send } = await setup();
    // Requests at once share the lookup on its way.
    expect(await Promise.all(Array.from({ length: 100 }, send))).toEqual(Array(100).fill('93.184.216.34'));
    expect(dns.lookups).toBe(1);
    await clock.advance(29_999);
    expect(await send()).toBe('93.184.216.34');
    expect(dns.lookups).toBe(1);
    // Past its TTL: resolved again, and the new answer is used.
    dns.answer = [{ address: '93.184.216.35', family: 4, ttl: 30 }];
    await clock.advance(1);
    expect(await send()).toBe('93.184.216.35');
    expect(dns.lookups).toBe(2);
  });

  it('a name rebound to loopback or cloud metadata is refused from the end of its TTL on, and asked again soon after', async () => {
    const { clock, dns, send } = await setup();
    expect(await send()).toBe('93.184.216.34');
    for (const address of ['127.0.0.1', '169.254.169.254']) {
      dns.answer = [{ address, family: 4, ttl: 3600 }];
      await clock.advance(30_000);
      expect(await send()).toMatch(new RegExp(`${NAME} resolves to (the private address )?${address.replaceAll('.', '\\.')}`));
      // A refused answer is not kept for its own (long) TTL: the rebinding may be undone at once.
      const lookups = dns.lookups;
      await clock.advance(MIN_TTL_MS - 1);
      expect(await send()).toContain(address);
      expect(dns.lookups).toBe(lookups);
      dns.answer = [{ address: '93.184.216.34', family: 4, ttl: 30 }];
      await clock.advance(1);
      expect(await send()).toBe('93.184.216.34');
    }
  });

  it('keeps an answer at least a second and at most five minutes whatever its TTL; a failed or empty lookup a second', async () => {
    const { clock, dns, send } = await setup();
    dns.answer = [{ address: '93.184.216.34', family: 4, ttl: 86_400 }];
    await send();
    await clock.advance(MAX_TTL_MS - 1);
    await send();
    expect(dns.lookups).toBe(1);
    await clock.advance(1);
    dns.answer = [{ address: '93.184.216.34', family: 4, ttl: 0 }];
    await send();
    await clock.advance(MIN_TTL_MS - 1);
    await send();
    expect(dns.lookups).toBe(2);
    for (const answer of [new Error('SERVFAIL'), []]) {
      dns.answer = answer;
      await clock.advance(1);
      expect(await send()).toBe(`${NAME} does not resolve`);
      const lookups = dns.lookups;
      await clock.advance(MIN_TTL_MS - 1);
      expect(await send()).toBe(`${NAME} does not resolve`);
      expect(dns.lookups).toBe(lookups);
    }
  });
});
