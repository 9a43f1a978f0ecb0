import { expect } from 'vitest';
import { ADMIN_KEY } from './hub.js';

/** A connect link for `personId`, made by the admin API of the service at `hub`. */
export async function connectLink(hub: string, personId: string): Promise<string> {
  const res = await fetch(`${hub}/v1/people/${personId}/connect-link`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
  expect(res.status).toBe(201);
  const link = (await res.json()) as { url: string };
  expect(link.url.startsWith(`${hub}/connect/`)).toBe(true);
  return link.url;
}

/**
 * Consent without a browser: opens the connect link, presses the provider's button and follows every
 * redirect by hand (the stand-ins consent at once); returns the status page the person lands on.
 */
export async function consentByRedirects(hub: string, personId: string, provider: 'microsoft' | 'google'): Promise<string> {
  const page = await (await fetch(await connectLink(hub, personId))).text();
  const action = new RegExp(`<form method="post" action="([^"]+/${provider})">`).exec(page)?.[1];
  expect(action).toBeDefined();
  const start = await fetch(`${hub}${action}`, { method: 'POST', redirect: 'manual' });
  expect(start.status).toBe(303);
  const cookie = start.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const atProvider = await fetch(start.headers.get('location')!, { redirect: 'manual' });
  expect(atProvider.status).toBe(302);
  const callback = atProvider.headers.get('location')!;
  expect(callback.startsWith(`${hub}/oauth/${provider}/callback?`)).toBe(true);
  const done = await fetch(callback, { redirect: 'manual', headers: { Cookie: cookie } });
  expect(done.status, await done.clone().text()).toBe(303);
  const back = await (await fetch(`${hub}${done.headers.get('location')}`)).text();
  expect(back).toContain(`data-provider="${provider}" data-status="connected"`);
  return back;
}
