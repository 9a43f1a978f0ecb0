import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { requireBinary } from './components.js';

/** Debian's chromium, headless, as the design names it (§8); no network of its own beyond what a page asks. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: requireBinary('chromium'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** A page as the calendar pages are used (JavaScript off), and what the browser reported about it. */
export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** CSP violations, console errors, failed or refused sub-resources. */
  problems: string[];
  /** Waits for a navigation; a refusal (CSP form-action, a wrong redirect) fails with the browser's own words. */
  arrive(where: (u: URL) => boolean): Promise<void>;
}

export async function watchedPage(browser: Browser): Promise<WatchedPage> {
  const context = await browser.newContext({ javaScriptEnabled: false, locale: 'en-GB' });
  const page = await context.newPage();
  // Well inside the test timeout, so a blocked navigation fails with what the browser said.
  page.setDefaultTimeout(5000);
  const problems: string[] = [];
  // An error page's own 4xx is logged as "Failed to load resource"; its status is asserted where expected.
  page.on('console', (m) => {
    if ((m.type() === 'error' && !m.text().startsWith('Failed to load resource')) || /Content Security Policy/i.test(m.text())) problems.push(m.text());
  });
  page.on('response', (r) => {
    if (!r.request().isNavigationRequest() && r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => problems.push(`${r.url()}: ${r.failure()?.errorText}`));
  const arrive = (where: (u: URL) => boolean) => page.waitForURL(where).catch((err: Error) => Promise.reject(new Error(`${err.message}\nbrowser: ${problems.join(' | ')}`)));
  return { context, page, problems, arrive };
}
