import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { launchChromium, watchedPage, type WatchedPage } from '../support/browser.js';
import { settle } from '../support/calendar-hub.js';
import { connectLink } from '../support/calendar-consent.js';
import { seedPerson, startStandInHub, type StandInHub } from '../support/calendar-stand-ins.js';
import { describeWith } from '../support/components.js';

/**
 * The person's calendar pages in a real browser (Debian chromium through playwright-core), with
 * JavaScript off: the pages must work as plain HTML forms under their CSP. The service's provider URLs
 * point at the local stand-ins, whose sign-in shows a consent page with Accept and Cancel.
 */
describeWith(['chromium'], 'calendar pages in chromium', () => {
  let env: StandInHub;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** What the browser reported: CSP violations, console errors, failed or refused sub-resources. */
  let problems: string[];
  let arrive: WatchedPage['arrive'];

  beforeAll(async () => {
    env = await startStandInHub();
    env.ms.consent.interactive = true;
    env.google.consent.interactive = true;
    await seedPerson(env.hub, 'alice', 'Alice Example', 'alice@contoso.example');
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

  const section = (provider: string) => page.locator(`section[data-provider="${provider}"]`);
  const onHub = (u: URL) => u.origin === env.hub;

  /** From the status page: the provider's button, the stand-in's consent page, then `decision`. */
  async function consent(button: string, provider: 'microsoft' | 'google', decision: 'Accept' | 'Cancel'): Promise<void> {
    const origin = new URL(provider === 'microsoft' ? env.ms.url : env.google.url).origin;
    await page.getByRole('button', { name: button }).click();
    await arrive((u) => u.origin === origin);
    expect(await page.title()).toBe(`${provider === 'microsoft' ? 'Microsoft' : 'Google'}: permissions requested`);
    await page.getByRole('button', { name: decision }).click();
    await arrive(onHub);
  }

  async function expectUsablePage(title: string): Promise<void> {
    expect(await page.title()).toBe(title);
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.locator('main h1').count()).toBe(1);
    expect(await page.locator('script').count()).toBe(0);
    // Every control has a name a screen reader can read, and no two say the same.
    const names = await page.getByRole('button').allInnerTexts();
    expect(names.every((n) => n.trim().length > 0)).toBe(true);
    expect(new Set(names).size).toBe(names.length);
    expect(problems).toEqual([]);
  }

  it('Microsoft: connect link → Connect → consent → the page shows the account and that it is in sync', async () => {
    const link = await connectLink(env.hub, 'alice');
    const res = await page.goto(link);
    expect(res?.headers()['content-security-policy']).toContain("default-src 'none'");
    await expectUsablePage('Your calendar');
    expect(await section('microsoft').getAttribute('data-status')).toBe('not-connected');
    expect(await page.getByRole('heading', { level: 2 }).allInnerTexts()).toEqual(['Microsoft 365 / Outlook', 'Google Calendar']);

    await consent('Connect Microsoft 365 / Outlook', 'microsoft', 'Accept');
    expect(page.url()).toBe(`${link}?connected=microsoft`);
    await expectUsablePage('Your calendar');
    expect(await page.getByRole('status').innerText()).toBe('Your calendar is connected.');
    expect(await section('microsoft').getAttribute('data-status')).toBe('connected');
    expect(await section('microsoft').innerText()).toContain('Connected as alice@contoso.example.');
    expect(await section('microsoft').innerText()).toContain('In sync; last read 2026-03-02 09:30:00 UTC.');
    expect(await section('microsoft').locator('time').getAttribute('datetime')).toBe('2026-03-02T09:30:00.000Z');
    expect(env.ms.subscriptions.size).toBe(1);
  });

  it('Google: Cancel at the consent page says so and leads back; Accept connects', async () => {
    const link = await connectLink(env.hub, 'alice');
    await page.goto(link);
    await consent('Connect Google Calendar', 'google', 'Cancel');
    await expectUsablePage('Calendar connection: something went wrong');
    expect(await page.getByRole('alert').innerText()).toBe('access was not granted, so the calendar is not connected');
    expect(await page.getByRole('alert').getAttribute('data-error-code')).toBe('consent_denied');
    expect(env.google.channels.size).toBe(0);

    await page.getByRole('link', { name: 'Back to your calendar page' }).click();
    await page.waitForURL(onHub);
    expect(await section('google').getAttribute('data-status')).toBe('not-connected');
    await consent('Connect Google Calendar', 'google', 'Accept');
    await expectUsablePage('Your calendar');
    expect(await section('google').getAttribute('data-status')).toBe('connected');
    expect(await section('google').innerText()).toContain('Connected as alice@example.com.');
    expect(await section('google').getAttribute('data-sync')).toBe('ok');
    expect(env.google.channels.size).toBe(1);
  });

  it('a revoked grant (invalid_grant) shows the connection broken with Reconnect, which consents again', async () => {
    env.google.revokeAccess();
    // A push: the read gets 401, the refresh invalid_grant, and the connection is broken.
    await env.google.push();
    await settle(env.h, 1000);
    const link = await connectLink(env.hub, 'alice');
    await page.goto(link);
    await expectUsablePage('Your calendar');
    expect(await section('google').getAttribute('data-status')).toBe('broken');
    expect(await section('google').innerText()).toContain('the connection is broken');
    expect(await section('google').innerText()).toContain('Access to this calendar was revoked or has expired');
    expect(await section('microsoft').getAttribute('data-status')).toBe('connected');

    await consent('Reconnect Google Calendar', 'google', 'Accept');
    await expectUsablePage('Your calendar');
    expect(await section('google').getAttribute('data-status')).toBe('connected');
    expect(await section('google').getAttribute('data-sync')).toBe('ok');
  });

  it('Disconnect on the page stops the subscription or channel, revokes where possible, and says so', async () => {
    const link = await connectLink(env.hub, 'alice');
    await page.goto(link);
    const revokedBefore = env.google.revoked.length;
    // The newest channel is the reconnected one; the one from before the revocation could not be stopped
    // with a dead grant and lingers at the stand-in until it expires.
    const channel = [...env.google.channels.keys()].at(-1)!;
    await page.getByRole('button', { name: 'Disconnect Google Calendar' }).click();
    await page.waitForURL(`${link}?disconnected=google`);
    await expectUsablePage('Your calendar');
    expect(await page.getByRole('status').innerText()).toBe('Your calendar is disconnected; it no longer affects your status.');
    expect(await section('google').getAttribute('data-status')).toBe('not-connected');
    expect(env.google.channels.has(channel)).toBe(false);
    expect(env.google.revoked.length).toBe(revokedBefore + 1);

    await page.getByRole('button', { name: 'Disconnect Microsoft 365 / Outlook' }).click();
    await page.waitForURL(`${link}?disconnected=microsoft`);
    expect(await section('microsoft').getAttribute('data-status')).toBe('not-connected');
    expect(env.ms.subscriptions.size).toBe(0);
    expect(problems).toEqual([]);
  });

  it('an invalid link is an error page with its code, not a blank one', async () => {
    const res = await page.goto(`${env.hub}/connect/not-a-link`);
    expect(res?.status()).toBe(404);
    await expectUsablePage('Calendar connection: something went wrong');
    expect(await page.getByRole('alert').getAttribute('data-error-code')).toBe('invalid_connect_link');
  });
});
