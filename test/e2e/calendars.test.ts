import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestHub, type TestHub } from '../support/hub.js';
import { freePort, settle } from '../support/calendar-hub.js';
import { GoogleStandIn } from '../support/google-stand-in.js';
import { MicrosoftStandIn } from '../support/microsoft-stand-in.js';

/**
 * End to end on loopback, no nock: the service with its base URLs pointed at local stand-ins for the
 * Microsoft identity platform + Graph and Google OAuth + Calendar. Consent is followed by plain HTTP
 * redirects; the stand-ins call the service's webhooks for real; the service's clock is a ManualClock.
 */
describe('calendars end to end against local stand-ins', () => {
  let h: TestHub;
  let hub: string;
  const ms = new MicrosoftStandIn();
  let google: GoogleStandIn;

  beforeAll(async () => {
    const msUrl = await ms.start();
    const port = await freePort();
    hub = `http://127.0.0.1:${port}`;
    const googleRef: { clock?: () => number } = {};
    google = new GoogleStandIn(() => googleRef.clock!());
    const gUrl = await google.start();
    h = await startTestHub({
      env: {
        PUBLIC_BASE_URL: hub,
        MICROSOFT_CLIENT_ID: ms.clientId,
        MICROSOFT_CLIENT_SECRET: ms.clientSecret,
        MICROSOFT_LOGIN_BASE_URL: msUrl,
        MICROSOFT_GRAPH_BASE_URL: msUrl,
        GOOGLE_CLIENT_ID: google.clientId,
        GOOGLE_CLIENT_SECRET: google.clientSecret,
        GOOGLE_API_ROOT_URL: gUrl,
        GOOGLE_AUTH_URL: `${gUrl}/o/oauth2/v2/auth`,
        GOOGLE_TOKEN_URL: `${gUrl}/token`,
        GOOGLE_REVOKE_URL: `${gUrl}/revoke`,
      },
    });
    googleRef.clock = () => h.clock.now();
    await h.listen(port);
    const admin = { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json' };
    await fetch(`${hub}/v1/people/alice`, { method: 'PUT', headers: admin, body: JSON.stringify({ name: 'Alice Example', email: 'alice@contoso.example', timeZone: 'Europe/Berlin' }) });
    await fetch(`${hub}/v1/people/alice/devices/alice-app`, { method: 'PUT', headers: admin, body: JSON.stringify({ kind: 'desk', contact: 'sip:alice@192.0.2.10' }) });
    const pbx = (await (await fetch(`${hub}/v1/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'pbx', role: 'pbx' }) })).json()) as { signingKeyId: string; secret: string };
    await h.pbx([{ type: 'registered', device: 'alice-app', at: h.clock.now() }], pbx).expect(200);
  });
  afterAll(async () => {
    await h?.stop();
    await ms.stop();
    await google.stop();
  });

  const presence = async () => (await (await fetch(`${hub}/v1/presence/alice`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } })).json()) as Record<string, unknown>;

  /** Opens the connect link, presses the provider's button and follows every redirect by hand. */
  async function consent(provider: 'microsoft' | 'google'): Promise<string> {
    const link = (await (await fetch(`${hub}/v1/people/alice/connect-link`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_KEY}` } })).json()) as { url: string };
    expect(link.url.startsWith(`${hub}/connect/`)).toBe(true);
    const page = await (await fetch(link.url)).text();
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

  it('Microsoft: consent → subscription (validated by Graph) → change notification → the flip at the meeting start', async () => {
    const page = await consent('microsoft');
    expect(page).toContain('Connected as <strong>alice@contoso.example</strong>');
    expect(ms.subscriptions.size).toBe(1);
    const [sub] = [...ms.subscriptions.values()];
    expect(sub).toMatchObject({ resource: 'me/events', notificationUrl: `${hub}/v1/webhooks/microsoft` });

    ms.putEvent({ id: 'AAMkAGE2E=', start: '2026-03-02T14:00:00', end: '2026-03-02T15:00:00', subject: 'Secret merger talks' });
    expect(await ms.notify('created', 'AAMkAGE2E=')).toEqual([202]);
    await settle(h, 1000);
    expect(ms.log.filter((l) => l === 'GET /v1.0/me/calendarView/delta')).toHaveLength(2);
    expect((await presence()).next).toEqual({ at: '2026-03-02T14:00:00.000Z', availability: 'busy', activity: 'in-meeting' });
    expect(JSON.stringify(await presence())).not.toContain('Secret merger');

    await h.clock.advanceTo('2026-03-02T13:59:59.999Z');
    expect((await presence()).activity).toBe('available');
    await h.clock.advanceTo('2026-03-02T14:00:00Z');
    expect(await presence()).toMatchObject({ availability: 'busy', activity: 'in-meeting', since: '2026-03-02T14:00:00.000Z', until: '2026-03-02T15:00:00.000Z', source: 'outlook' });
    await h.clock.advanceTo('2026-03-02T15:00:00Z');
    expect((await presence()).activity).toBe('available');
  });

  it('Google: consent → watch channel → push → the flip at the meeting start; disconnect revokes', async () => {
    await consent('google');
    expect(google.channels.size).toBe(1);
    google.putEvent({ id: 'e2egoogle1', start: '2026-03-02T17:00:00+01:00', end: '2026-03-02T17:30:00+01:00' });
    expect(await google.push()).toEqual([200]);
    await settle(h, 1000);
    expect((await presence()).next).toEqual({ at: '2026-03-02T16:00:00.000Z', availability: 'busy', activity: 'in-meeting' });
    await h.clock.advanceTo('2026-03-02T16:00:00Z');
    expect(await presence()).toMatchObject({ activity: 'in-meeting', since: '2026-03-02T16:00:00.000Z', source: 'google' });

    // Moved away by the organizer: followed.
    google.cancelEvent('e2egoogle1');
    await google.push();
    await settle(h, 1000);
    expect((await presence()).activity).toBe('available');

    const res = await fetch(`${hub}/v1/people/alice/calendar/google`, { method: 'DELETE', headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
    expect(res.status).toBe(204);
    expect(google.channels.size).toBe(0);
    expect(google.revoked).toHaveLength(1);
  });
});
