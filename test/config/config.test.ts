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
});
