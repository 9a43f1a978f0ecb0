import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { launchChromium, watchedPage, type WatchedPage } from '../support/browser.js';
import { startStandInHub, type StandInHub } from '../support/calendar-stand-ins.js';
import { describeWith } from '../support/components.js';
import { ADMIN_KEY } from '../support/hub.js';

/**
 * Microsoft admin consent in a real browser (Debian chromium, JavaScript off) against the local
 * identity-platform stand-in: the start page's form, the cookie that binds each step to the browser,
 * the real code exchange and the redirects between the service and Microsoft, under the pages' CSP.
 */
describeWith(['chromium'], 'Microsoft admin consent in chromium', () => {
  let env: StandInHub;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let arrive: WatchedPage['arrive'];

  beforeAll(async () => {
    env = await startStandInHub();
    env.ms.consent.interactive = true;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await env?.stop();
  });
  beforeEach(async () => {
    ({ context, page, problems, arrive } = await watchedPage(browser));
  });
  afterEach(async () => {
    await context?.close();
  });

  const startLink = async () => {
    const res = await fetch(`${env.hub}/v1/calendars/microsoft/admin-consent`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
    expect(res.status).toBe(201);
    return ((await res.json()) as { url: string }).url;
  };

  it('start page → Microsoft sign-in → consent page of the signed-in directory → organisation connected', async () => {
    await page.goto(await startLink());
    expect(await page.title()).toBe('Connect your Microsoft 365 organisation');
    await page.getByRole('button', { name: 'Sign in with Microsoft' }).click();
    await arrive((u) => u.origin === new URL(env.ms.url).origin);
    // Step 1 asks only to sign in.
    expect(await page.locator('li').allInnerTexts()).toEqual(['openid']);
    await page.getByRole('button', { name: 'Accept' }).click();
    // The stand-in grants the admin consent at once and sends the browser back with the directory.
    await arrive((u) => u.origin === env.hub && u.pathname === '/oauth/microsoft/admin-callback');
    expect(await page.title()).toBe('Microsoft admin consent');
    expect(await page.locator('[data-directory-tenant]').getAttribute('data-directory-tenant')).toBe(env.ms.directory);
    expect(env.ms.log.filter((l) => l.endsWith('/adminconsent'))).toEqual([`GET /${env.ms.directory}/v2.0/adminconsent`]);
    expect(problems).toEqual([]);
    const all = (await (await fetch(`${env.hub}/v1/calendars`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } })).json()) as { adminConsent: unknown[] };
    expect(all.adminConsent).toEqual([{ directoryTenant: env.ms.directory, status: 'connected', grantedAt: '2026-03-02T09:30:00.000Z' }]);
  });

  it("another site's form posting the start link (to skip the page naming the tenant) is refused, and the link still works from its page", async () => {
    const link = await startLink();
    const asked = env.ms.log.length;
    // The attacker's page, on another site (localhost is not 127.0.0.1's site), with a button posting the link.
    const evil: Server = createServer((_req, res) => res.end(`<!doctype html><form method="post" action="${link}"><button>Continue</button></form>`));
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    try {
      await page.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
      await page.getByRole('button', { name: 'Continue' }).click();
      await arrive((u) => u.origin === env.hub);
      expect(await page.getByRole('alert').getAttribute('data-error-code')).toBe('cross_site_form');
      expect(env.ms.log.slice(asked)).toEqual([]);
    } finally {
      evil.close();
    }
    await page.goto(link);
    await page.getByRole('button', { name: 'Sign in with Microsoft' }).click();
    await arrive((u) => u.origin === new URL(env.ms.url).origin);
  });

  it("a sign-in cancelled at Microsoft ends on an error page with Microsoft's error and its code", async () => {
    await page.goto(await startLink());
    await page.getByRole('button', { name: 'Sign in with Microsoft' }).click();
    await arrive((u) => u.origin === new URL(env.ms.url).origin);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await arrive((u) => u.origin === env.hub);
    expect(await page.getByRole('alert').getAttribute('data-error-code')).toBe('admin_sign_in_failed');
    expect(await page.getByRole('alert').innerText()).toContain('Microsoft said access_denied');
  });
});
