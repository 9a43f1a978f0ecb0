import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../shared/config/config.js';

describe('configuration', () => {
  it('reports a missing production ENCRYPTION_KEY together with the other problems', () => {
    try {
      loadConfig({ NODE_ENV: 'production', MICROSOFT_CLIENT_ID: 'id' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual([
        'MICROSOFT_CLIENT_ID, MICROSOFT_CLIENT_SECRET: set both or neither',
        'ENCRYPTION_KEY: required when NODE_ENV=production',
      ]);
    }
  });

  it('reads TRUST_PROXY as a number of proxies in front, true being one, never as "believe the first X-Forwarded-For entry"', () => {
    expect(loadConfig({}).http.trustProxy).toBe(0);
    expect(loadConfig({ TRUST_PROXY: 'true' }).http.trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'no' }).http.trustProxy).toBe(0);
    expect(() => loadConfig({ TRUST_PROXY: 'all' })).toThrow(/TRUST_PROXY/);
  });

  it('has request limits on by default, per minute, 0 turning one off, and refuses a negative or fractional one', () => {
    expect(loadConfig({}).requestLimits).toEqual({ api: 3000, tenantApi: 30_000, pbxEvents: 120_000, heartbeats: 30, streams: 60, openStreams: 2000, authFailures: 30 });
    expect(loadConfig({ REQUEST_LIMIT_STREAMS_PER_MIN: '0' }).requestLimits.streams).toBe(0);
    expect(() => loadConfig({ REQUEST_LIMIT_API_PER_MIN: '-1', REQUEST_LIMIT_HEARTBEATS_PER_MIN: '2.5' })).toThrow(/REQUEST_LIMIT_API_PER_MIN[\s\S]*REQUEST_LIMIT_HEARTBEATS_PER_MIN/);
  });
});
