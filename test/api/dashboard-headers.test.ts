import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';

/** The dashboard's headers: what keeps a page that holds an API key from being framed, sniffed or loosened. */
describe('the dashboard is served with a strict CSP and no framing', () => {
  let h: TestHub;
  beforeAll(async () => {
    h = await startTestHub();
  });
  afterAll(() => h.stop());

  const assets = [
    ['/dashboard', 'text/html; charset=utf-8'],
    ['/dashboard/app.js', 'text/javascript; charset=utf-8'],
    ['/dashboard/queue.js', 'text/javascript; charset=utf-8'],
    ['/dashboard/style.css', 'text/css; charset=utf-8'],
  ] as const;

  it.each(assets)('%s: its type, CSP, no framing, no sniffing, no referrer, revalidated', async (path, type) => {
    const res = await h.http.get(path).expect(200);
    expect(res.headers['content-type']).toBe(type);
    const csp = Object.fromEntries(
      (res.headers['content-security-policy'] as string).split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name, values.join(' ')];
      }),
    );
    expect(csp).toEqual({
      'default-src': "'none'",
      'script-src': "'self'",
      'style-src': "'self'",
      'connect-src': "'self'",
      'img-src': "'self' data:",
      'form-action': "'none'",
      'frame-ancestors': "'none'",
      'base-uri': "'none'",
    });
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cache-control']).toBe('no-cache');
  });

  it('has no inline script or style the CSP would block, and the script writes no markup', async () => {
    const html = (await h.http.get('/dashboard').expect(200)).text;
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/i);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    for (const script of ['/dashboard/queue.js', '/dashboard/app.js']) {
      expect(html).toContain(`<script src="${script}" defer></script>`);
      const js = (await h.http.get(script).expect(200)).text;
      expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\.style\b|\beval\(|new Function/);
    }
  });
});
