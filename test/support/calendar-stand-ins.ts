import { ADMIN_KEY, startTestHub, type TestHub } from './hub.js';
import { freePort } from './calendar-hub.js';
import { GoogleStandIn } from './google-stand-in.js';
import { MicrosoftStandIn } from './microsoft-stand-in.js';

export interface StandInHub {
  h: TestHub;
  /** The service's base URL on loopback (also its PUBLIC_BASE_URL, so the stand-ins call its webhooks). */
  hub: string;
  ms: MicrosoftStandIn;
  google: GoogleStandIn;
  stop(): Promise<void>;
}

/**
 * The service with every provider base URL pointed at local stand-ins for the Microsoft identity
 * platform + Graph and Google OAuth + Calendar, served on loopback, its clock a ManualClock (the
 * Google stand-in dates channels on it too).
 */
export async function startStandInHub(opts: { now?: string; env?: Record<string, string> } = {}): Promise<StandInHub> {
  const clockRef: { now?: () => number } = {};
  const ms = new MicrosoftStandIn(() => clockRef.now!());
  const msUrl = await ms.start();
  const google = new GoogleStandIn(() => clockRef.now!());
  const gUrl = await google.start();
  const port = await freePort();
  const hub = `http://127.0.0.1:${port}`;
  const h = await startTestHub({
    ...(opts.now ? { now: opts.now } : {}),
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
      ...opts.env,
    },
  });
  clockRef.now = () => h.clock.now();
  await h.listen(port);
  return {
    h,
    hub,
    ms,
    google,
    async stop() {
      await h.stop();
      await ms.stop();
      await google.stop();
    },
  };
}

/** Creates a person with a registered desk phone, through the admin API. */
export async function seedPerson(hub: string, id: string, name: string, email: string): Promise<void> {
  const admin = { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json' };
  await fetch(`${hub}/v1/people/${id}`, { method: 'PUT', headers: admin, body: JSON.stringify({ name, email, timeZone: 'Europe/Berlin' }) });
  await fetch(`${hub}/v1/people/${id}/devices/${id}-desk`, { method: 'PUT', headers: admin, body: JSON.stringify({ kind: 'desk', contact: `sip:${id}@192.0.2.10` }) });
}
