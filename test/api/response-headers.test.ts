import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';

describe('API responses: JSON only, and no cross-origin reads', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub();
  });
  afterAll(() => h.stop());

  it('every answer, errors included, carries nosniff and no CORS grant', async () => {
    const answers = [
      await h.get('/v1/presence').set('Origin', 'https://evil.example').expect(200),
      await h.http.get('/v1/presence').expect(401),
      await h.get('/v1/<script>alert(1)</script>').expect(404),
      await h.http.options('/v1/presence').set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'GET'),
    ];
    for (const r of answers) {
      expect(r.headers['x-content-type-options'], `${r.status}`).toBe('nosniff');
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
    }
  });
});
