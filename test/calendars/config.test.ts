import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../shared/config/config.js';

describe('calendar configuration', () => {
  it('is off by default, with documented defaults', () => {
    const c = loadConfig({}).calendars;
    expect(c).toEqual({ connectLinkTtlMs: 604_800_000, windowDays: 14, reconcileIntervalMs: 3_600_000, refreshAheadMs: 300_000, timeoutMs: 10_000 });
  });

  it('enables a provider with its client id and secret, base URLs overridable (national clouds, stand-ins)', () => {
    const c = loadConfig({
      PUBLIC_BASE_URL: 'https://presence.example.com/',
      MICROSOFT_CLIENT_ID: 'id',
      MICROSOFT_CLIENT_SECRET: 'secret',
      MICROSOFT_LOGIN_BASE_URL: 'https://login.microsoftonline.us/',
      MICROSOFT_GRAPH_BASE_URL: 'https://graph.microsoft.us',
      GOOGLE_CLIENT_ID: 'gid',
      GOOGLE_CLIENT_SECRET: 'gsecret',
      GOOGLE_API_ROOT_URL: 'http://127.0.0.1:9999',
    }).calendars;
    expect(c.publicBaseUrl).toBe('https://presence.example.com');
    expect(c.microsoft).toEqual({ clientId: 'id', clientSecret: 'secret', authorityTenant: 'organizations', loginBaseUrl: 'https://login.microsoftonline.us', graphBaseUrl: 'https://graph.microsoft.us', teamsPresence: false });
    expect(c.google).toMatchObject({ apiRootUrl: 'http://127.0.0.1:9999', authUrl: 'https://accounts.google.com/o/oauth2/v2/auth', tokenUrl: 'https://oauth2.googleapis.com/token', revokeUrl: 'https://oauth2.googleapis.com/revoke' });
  });

  it('reports every calendar problem at once', () => {
    try {
      loadConfig({ MICROSOFT_CLIENT_ID: 'id', GOOGLE_CLIENT_ID: 'g', GOOGLE_CLIENT_SECRET: 's', CONNECT_LINK_SECRET: 'short' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toContain('CONNECT_LINK_SECRET');
    }
    expect(() => loadConfig({ MICROSOFT_CLIENT_ID: 'id' })).toThrow(/set both or neither/);
    expect(() => loadConfig({ GOOGLE_CLIENT_ID: 'g', GOOGLE_CLIENT_SECRET: 's' })).toThrow(/PUBLIC_BASE_URL: required/);
    expect(() => loadConfig({ NODE_ENV: 'production', ENCRYPTION_KEY: Buffer.alloc(32).toString('base64'), PUBLIC_BASE_URL: 'http://presence.example.com' })).toThrow(/https:\/\/ in production/);
    expect(() => loadConfig({ MICROSOFT_GRAPH_BASE_URL: 'ftp://graph' })).toThrow(ConfigError);
  });
});
