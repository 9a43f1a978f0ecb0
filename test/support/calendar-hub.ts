import { createServer } from 'node:net';
import nock from 'nock';
import { createHash } from 'node:crypto';
import type { CalendarRandomness } from '../../services/calendars/create-calendars.js';
import { startTestHub, type TestHub } from './hub.js';

export const PUBLIC = 'https://presence.example.test';
export const GRAPH = 'https://graph.microsoft.com';
export const LOGIN = 'https://login.microsoftonline.com';
export const GOOGLE_API = 'https://www.googleapis.com';
export const GOOGLE_AUTH = 'https://accounts.google.com';
export const GOOGLE_OAUTH = 'https://oauth2.googleapis.com';

/** Pinned ids and secrets: `id-1`, `id-2` …, `secret-1` …; jitter 0 so backoff is exactly 2^n s. */
export function pinnedRandomness(): CalendarRandomness & { secrets: string[] } {
  let ids = 0;
  let secrets = 0;
  const made: string[] = [];
  return {
    secrets: made,
    newId: () => `id-${++ids}`,
    newSecret: () => {
      const s = `secret-${++secrets}`;
      made.push(s);
      return s;
    },
    random: () => 0,
  };
}

export const CALENDAR_ENV: Record<string, string> = {
  PUBLIC_BASE_URL: PUBLIC,
  MICROSOFT_CLIENT_ID: 'ms-client-id',
  MICROSOFT_CLIENT_SECRET: 'ms-client-secret',
  GOOGLE_CLIENT_ID: 'google-client-id.apps.googleusercontent.com',
  GOOGLE_CLIENT_SECRET: 'google-client-secret',
  CALENDAR_WINDOW_DAYS: '14',
  CALENDAR_RECONCILE_INTERVAL_MS: '3600000',
};

export interface CalendarTestHub extends TestHub {
  rnd: ReturnType<typeof pinnedRandomness>;
}

export async function startCalendarHub(opts: { now?: string; env?: Record<string, string>; dir?: string } = {}): Promise<CalendarTestHub> {
  const rnd = pinnedRandomness();
  const h = await startTestHub({ now: opts.now ?? '2026-03-02T09:30:00Z', env: { ...CALENDAR_ENV, ...opts.env }, randomness: rnd, ...(opts.dir ? { dir: opts.dir } : {}) });
  return Object.assign(h, { rnd });
}

/**
 * Moves the clock and lets the calendar jobs it started finish (they do real, nock-answered HTTP). A job
 * waiting on the clock itself (Retry-After, backoff) cannot finish until the clock moves again, so each
 * wait for idleness is bounded in real time.
 */
export async function settle(h: TestHub, ms = 0): Promise<void> {
  await h.clock.advance(ms);
  const jobs = h.hub.calendars.service.jobs;
  for (let i = 0; i < 5; i++) {
    let timer: NodeJS.Timeout | undefined;
    const idle = jobs.idle().then(() => 'idle' as const);
    const blocked = new Promise<'blocked'>((resolve) => (timer = setTimeout(() => resolve('blocked'), 400)));
    let outcome = await Promise.race([idle, blocked]);
    clearTimeout(timer);
    // Still running after 400 ms: blocked on the clock only once every busy connection's job waits on it
    // (a retry's wait); one still talking to a provider on a loaded machine is given up to 10 s more.
    for (let waited = 0; outcome === 'blocked' && h.clock.sleepers < jobs.busy && waited < 10_000; waited += 100) {
      outcome = await Promise.race([idle, new Promise<'blocked'>((resolve) => setTimeout(() => resolve('blocked'), 100))]);
    }
    if (outcome === 'blocked') return;
    // Jobs may have scheduled follow-ups due now (a retry, a sync after a subscription).
    await h.clock.advance(0);
  }
}

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Blocks every real network call except loopback (supertest and stand-ins). */
export function onlyLoopback(): void {
  nock.disableNetConnect();
  nock.enableNetConnect(/^(127\.0\.0\.1|localhost)(:\d+)?$/);
}

/** A minimal cookie jar for following a consent by hand. */
export function cookiesFrom(setCookie: string | string[] | undefined): string {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  return list.map((c) => c.split(';')[0]).join('; ');
}

/** Provider requests nock could not answer (loopback aside): each is a flow going somewhere it should not. */
export function unmatched(): string[] {
  const seen: string[] = [];
  nock.emitter.on('no match', (req: { method?: string; url?: string }) => {
    if (req.url && !/^https?:\/\/(127\.0\.0\.1|localhost)[:/]/.test(req.url)) seen.push(`${req.method} ${req.url}`);
  });
  return seen;
}
