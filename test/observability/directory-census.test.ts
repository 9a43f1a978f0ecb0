import { describe, expect, it } from 'vitest';
import type { TenantCensus } from '../../services/observability/census.js';
import { Metrics } from '../../services/observability/metrics.js';
import { series } from '../support/metrics.js';

const sized = (people: number, pbxKeys = 1): TenantCensus => ({ people, endpoints: { desk: people, softphone: 0, mobile: 0 }, pbxKeys, calendarsBroken: { microsoft: 2, google: 0 } });

describe("the directory's sizes on /metrics, read when scraped", () => {
  it('reads the directory once per scrape for every per-tenant metric', async () => {
    const m = new Metrics(false);
    let reads = 0;
    m.directoryCensus = async () => {
      reads++;
      return new Map([['acme', sized(20)]]);
    };
    const text = await m.registry.metrics();
    expect(reads).toBe(1);
    expect(series(text, 'presence_people', { tenant: 'acme' })).toBe(20);
    expect(series(text, 'presence_devices', { tenant: 'acme', kind: 'desk' })).toBe(20);
    expect(series(text, 'presence_pbx_keys', { tenant: 'acme' })).toBe(1);
    expect(series(text, 'presence_calendar_connections_broken', { tenant: 'acme', provider: 'microsoft' })).toBe(2);
    expect(series(text, 'presence_calendar_connections_broken', { tenant: 'acme', provider: 'google' })).toBe(0);
    expect(series(text, 'presence_went_offline_total', { tenant: 'acme' })).toBe(0);
    await m.registry.metrics();
    expect(reads).toBe(2);
  });

  it('keeps the last sizes and every series while the store cannot answer', async () => {
    const m = new Metrics(false);
    let census: Promise<Map<string, TenantCensus>> = Promise.resolve(new Map([['acme', sized(20)], ['globex', sized(5, 0)]]));
    m.directoryCensus = () => census;
    m.sourceSeen('acme', 'pbx', 1_000_000);
    m.wentOffline.inc({ tenant: 'acme' }, 3);
    await m.registry.metrics();

    census = Promise.reject(new Error('store down'));
    let text = await m.registry.metrics();
    expect(series(text, 'presence_people', { tenant: 'globex' })).toBe(5);
    expect(series(text, 'presence_pbx_keys', { tenant: 'acme' })).toBe(1);
    expect(series(text, 'presence_went_offline_total', { tenant: 'acme' })).toBe(3);
    expect(series(text, 'presence_source_last_signal_timestamp_seconds', { tenant: 'acme', source: 'pbx' })).toBe(1000);

    // Back, without globex: its sizes go, acme's follow the directory.
    census = Promise.resolve(new Map([['acme', sized(25)]]));
    text = await m.registry.metrics();
    expect(series(text, 'presence_people', { tenant: 'globex' })).toBeUndefined();
    expect(series(text, 'presence_pbx_keys', { tenant: 'globex' })).toBeUndefined();
    expect(series(text, 'presence_calendar_connections_broken', { tenant: 'globex', provider: 'microsoft' })).toBeUndefined();
    expect(series(text, 'presence_people', { tenant: 'acme' })).toBe(25);
    expect(series(text, 'presence_went_offline_total', { tenant: 'acme' })).toBe(3);
  });
});
