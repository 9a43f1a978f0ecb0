import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import { createLogger } from '../../shared/log/logger.js';
import { clientAddress, RequestLimiter } from '../../services/limits/request-limiter.js';
import { TokenBuckets } from '../../services/limits/token-buckets.js';
import { Metrics } from '../../services/observability/metrics.js';

function limiter(limits = { api: 2, tenantApi: 0, pbxEvents: 0, heartbeats: 3, streams: 2, openStreams: 2, authFailures: 2 }) {
  const clock = new ManualClock('2026-03-02T09:30:00Z');
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  const l = new RequestLimiter({ limits, clock, log: createLogger('info', sink), metrics: new Metrics(false), override: async () => ({}), cacheMs: Infinity });
  return { l, clock, lines };
}

describe('request limiter', () => {
  it('logs a refused tenant class at most once a minute, then with the refusals since the last line', async () => {
    const { l, clock, lines } = limiter();
    await l.take('acme', 'api', 'k1');
    await l.take('acme', 'api', 'k1');
    for (let i = 0; i < 3; i++) await expect(l.take('acme', 'api', 'k1')).rejects.toMatchObject({ status: 429, code: 'rate_limited' });
    expect(lines.map((x) => [x.msg, x.tenantId, x.class, x.caller])).toEqual([['request limit reached: refusing with 429 (logged at most once a minute per tenant and class)', 'acme', 'api', 'k1']]);
    await clock.advance(60_000);
    for (let i = 0; i < 3; i++) await l.take('acme', 'api', 'k1').catch(() => undefined);
    expect(lines).toHaveLength(2);
    // Two more refused after the first line, and this one.
    expect(lines[1]).toMatchObject({ tenantId: 'acme', class: 'api', refusedSinceLastLine: 3 });
  });

  it("reads a tenant's override again once the cache time has passed (replicas sharing a store), and holds it to the default", async () => {
    const clock = new ManualClock('2026-03-02T09:30:00Z');
    let stored: { heartbeats?: number } | undefined = { heartbeats: 2 };
    const l = new RequestLimiter({
      limits: { api: 100, tenantApi: 100, pbxEvents: 100, heartbeats: 5, streams: 2, openStreams: 3, authFailures: 2 },
      clock,
      log: createLogger('silent'),
      metrics: new Metrics(false),
      override: async () => ({ own: stored }),
      cacheMs: 1000,
    });
    expect((await l.limitsOf('acme')).heartbeats).toBe(2);
    // Another replica wrote the tenant: this one sees it once its cached copy is a second old.
    stored = { heartbeats: 50 };
    await clock.advance(999);
    expect((await l.limitsOf('acme')).heartbeats).toBe(2);
    await clock.advance(1);
    expect((await l.limitsOf('acme')).heartbeats).toBe(5);
    stored = undefined;
    l.forget('acme');
    expect(await l.limitsOf('acme')).toEqual({ api: 100, tenantApi: 100, pbxEvents: 100, heartbeats: 5, streams: 2, openStreams: 3 });
  });

  it("the operator's value is the tenant's ceiling in place of the default, above or below it; the tenant's own value is held to it", async () => {
    const defaults = { api: 100, tenantApi: 100, pbxEvents: 100, heartbeats: 5, streams: 2, openStreams: 3, authFailures: 2 };
    let set: { own?: { heartbeats?: number; api?: number }; operator?: { heartbeats?: number; api?: number } } = { own: { heartbeats: 8 }, operator: { heartbeats: 10, api: 50 } };
    const l = new RequestLimiter({ limits: defaults, clock: new ManualClock('2026-03-02T09:30:00Z'), log: createLogger('silent'), metrics: new Metrics(false), override: async () => set, cacheMs: 0 });
    expect(await l.limitsOf('acme')).toMatchObject({ heartbeats: 8, api: 50, streams: 2 });
    // The tenant may go up to the operator's raise, not past it; an operator's cut binds it below the default.
    l.check({ heartbeats: 10 }, set.operator);
    expect(() => l.check({ heartbeats: 11 }, set.operator)).toThrow(/heartbeats above 10 \(the operator's limit for this tenant\)/);
    expect(() => l.check({ api: 60 }, set.operator)).toThrow(/api above 50/);
    expect(() => l.check({ heartbeats: 6 }, undefined)).toThrow(/heartbeats above 5 \(REQUEST_LIMIT_\* variables\)/);
    // The raise withdrawn: the tenant's own 8 is held to the default again.
    set = { own: { heartbeats: 8 } };
    expect((await l.limitsOf('acme')).heartbeats).toBe(5);
  });

  it('open streams: a tenant holds at most its places; a place given back (once, however often) lets the next in; other tenants have their own', async () => {
    const { l, lines } = limiter();
    const first = await l.hold('acme', 'openStreams', 'acme/k1');
    const second = await l.hold('acme', 'openStreams', 'acme/k2');
    await expect(l.hold('acme', 'openStreams', 'acme/k3')).rejects.toMatchObject({ status: 429, code: 'rate_limited', details: { limit: 'openStreams', atOnce: 2 }, retryAfterSec: 60 });
    expect(lines[0]).toMatchObject({ tenantId: 'acme', class: 'openStreams', caller: 'acme/k3' });
    await l.hold('beta', 'openStreams', 'beta/k1');
    first();
    first();
    expect(l.held('acme', 'openStreams')).toBe(1);
    await l.hold('acme', 'openStreams', 'acme/k3');
    await expect(l.hold('acme', 'openStreams', 'acme/k1')).rejects.toMatchObject({ status: 429 });
    second();
    expect(l.held('acme', 'openStreams')).toBe(1);
  });

  it("an API request takes from its key's bucket and its tenant's; refused by either, it takes from neither", async () => {
    const { l, clock } = limiter({ api: 2, tenantApi: 3, pbxEvents: 5, heartbeats: 3, streams: 2, openStreams: 2, authFailures: 2 });
    await l.take('acme', 'api', 'acme/k1');
    await l.take('acme', 'api', 'acme/k1');
    await l.take('acme', 'api', 'acme/k2');
    await expect(l.take('acme', 'api', 'acme/k3')).rejects.toMatchObject({ status: 429, details: { limit: 'tenantApi', perMinute: 3 }, retryAfterSec: 20 });
    await expect(l.take('acme', 'api', 'acme/k1')).rejects.toMatchObject({ details: { limit: 'api' } });
    // Other classes and tenants do not count against it, nor it against them.
    await l.take('acme', 'pbxEvents', 'acme', 5);
    await l.take('acme', 'heartbeats', 'acme/d1');
    await l.take('beta', 'api', 'beta/k1');
    // 20 s later the tenant's bucket holds one token again, k1's two thirds of one: k1's refusal leaves the tenant's token for k3.
    await clock.advance(20_000);
    await expect(l.take('acme', 'api', 'acme/k1')).rejects.toMatchObject({ details: { limit: 'api' } });
    await l.take('acme', 'api', 'acme/k3');
    await expect(l.take('acme', 'api', 'acme/k2')).rejects.toMatchObject({ details: { limit: 'tenantApi' } });
  });

  it('a limit of 0 is off', async () => {
    const { l } = limiter();
    for (let i = 0; i < 1000; i++) await l.take('acme', 'pbxEvents', 'acme', 1000);
  });

  it('an address is blocked only once its failures use up the bucket, and a failure while blocked does not lengthen the wait', async () => {
    const { l, clock } = limiter();
    l.failedAuth('192.0.2.1');
    l.refuseGuesser('192.0.2.1');
    l.failedAuth('192.0.2.1');
    expect(() => l.refuseGuesser('192.0.2.1')).toThrow(/too many failed authentications/);
    l.failedAuth('192.0.2.1');
    await clock.advance(30_000);
    l.refuseGuesser('192.0.2.1');
    l.refuseGuesser('192.0.2.2');
  });

  it('tells clients apart by address: IPv4-mapped IPv6 as IPv4, IPv6 by its /64', () => {
    expect(clientAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(clientAddress('203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddress('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(clientAddress(undefined)).toBe('unknown');
    // A proxy that appends the client's port: one bucket per client, not per connection.
    expect(clientAddress('203.0.113.7:51234')).toBe('203.0.113.7');
    expect(clientAddress('[2001:db8:1:2:3:4:5:6]:443')).toBe('2001:db8:1:2::/64');
    expect(clientAddress('[::ffff:203.0.113.7]:8080')).toBe('203.0.113.7');
  });
});

describe('token buckets', () => {
  it('refills continuously, never above the limit, and a refused take takes nothing', () => {
    const b = new TokenBuckets();
    const t0 = Date.parse('2026-03-02T09:30:00Z');
    expect(b.take('k', 60, 60, t0)).toBeUndefined();
    expect(b.take('k', 60, 1, t0)).toEqual({ retryAfterSec: 1 });
    expect(b.take('k', 60, 30, t0 + 10_000)).toEqual({ retryAfterSec: 20 });
    expect(b.take('k', 60, 10, t0 + 10_000)).toBeUndefined();
    expect(b.take('k', 60, 61, t0 + 3_600_000)).toEqual({ retryAfterSec: 1 });
    expect(b.take('k', 60, 60, t0 + 3_600_000)).toBeUndefined();
  });

  it('forgets buckets that refilled once there are many', () => {
    const b = new TokenBuckets();
    const t0 = Date.parse('2026-03-02T09:30:00Z');
    for (let i = 0; i < 10_000; i++) b.take(`k${i}`, 10, 1, t0);
    expect(b.size).toBe(10_000);
    b.take('late', 10, 1, t0 + 60_000);
    expect(b.size).toBe(1);
  });
});
