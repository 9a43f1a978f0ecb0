import { chromium, type Browser } from 'playwright-core';
import { requireBinary } from './components.js';

/** Debian's chromium, headless, as the design names it (§8); no network of its own beyond what a page asks. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: requireBinary('chromium'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
