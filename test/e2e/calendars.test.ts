import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, type TestHub } from '../support/hub.js';
import { settle } from '../support/calendar-hub.js';
import { consentByRedirects } from '../support/calendar-consent.js';
import { seedPerson, startStandInHub, type StandInHub } from '../support/calendar-stand-ins.js';
import type { GoogleStandIn } from '../support/google-stand-in.js';
import type { MicrosoftStandIn } from '../support/microsoft-stand-in.js';

/**
 * End to end on loopback, no nock: the service with its base URLs pointed at local stand-ins for the
 * Microsoft identity platform + Graph and Google OAuth + Calendar. Consent is followed by plain HTTP
 * redirects; the stand-ins call the service's webhooks for real; the service's clock is a ManualClock.
 */
describe('calendars end to end against local stand-ins', () => {
  let env: StandInHub;
  let h: TestHub;
  let hub: string;
  let ms: MicrosoftStandIn;
  let google: GoogleStandIn;

  beforeAll(async () => {
    env = await startStandInHub();
    ({ h, hub, ms, google } = env);
    await seedPerson(hub, 'alice', 'Alice Example', 'alice@contoso.example');
    const admin = { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json' };
    const pbx = (await (await fetch(`${hub}/v1/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'pbx', role: 'pbx' }) })).json()) as { signingKeyId: string; secret: string };
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() }], pbx).expect(200);
  });
  afterAll(async () => {
    await env?.stop();
  });

  const presence = async () => (await (await fetch(`${hub}/v1/presence/alice`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } })).json()) as Record<string, unknown>;

  const consent = (provider: 'microsoft' | 'google') => consentByRedirects(hub, 'alice', provider);

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
