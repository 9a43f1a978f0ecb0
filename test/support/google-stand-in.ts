import { createHash, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import { ConsentScreen } from './stand-in-consent.js';
import { recordOf, type StandInRequest } from './stand-in-requests.js';

/**
 * A local stand-in for Google OAuth and Calendar v3 on 127.0.0.1, with real-shaped answers:
 * authorization code + PKCE (S256 checked) with an ID token, refresh without a new refresh token,
 * revocation, events.watch channels (with the first `sync` message), channels.stop, events.list with
 * page and sync tokens, and push notifications carrying the channel token.
 */
export interface GoogleEventInput {
  id: string;
  start: string; // RFC 3339 with offset
  end: string;
  eventType?: string;
  summary?: string;
}

interface Channel {
  id: string;
  token?: string;
  address: string;
  resourceId: string;
  expiration: number;
  messages: number;
}

export class GoogleStandIn {
  readonly clientId = 'e2e-google-client.apps.googleusercontent.com';
  readonly clientSecret = 'e2e-google-secret';
  readonly channels = new Map<string, Channel>();
  /** Set `consent.interactive` for a consent page a browser clicks through. */
  readonly consent = new ConsentScreen('Google');
  readonly revoked: string[] = [];
  readonly log: string[] = [];
  /** Every request with its query and form grant type, for counting calls by kind. */
  readonly requests: StandInRequest[] = [];
  private readonly codes = new Map<string, { challenge: string; redirectUri: string }>();
  private readonly accessTokens = new Set<string>();
  private readonly refreshTokens = new Set<string>();
  private version = 0;
  private readonly events = new Map<string, { event: GoogleEventInput; version: number; cancelled: boolean }>();
  private server?: Server;
  url = '';

  /** `now` is the service's clock, so channel expirations make sense to it. */
  constructor(private readonly now: () => number = () => Date.now()) {}

  async start(): Promise<string> {
    const app = express();
    app.use(express.urlencoded({ extended: false }));
    app.use(express.json());
    app.use((req, _res, next) => {
      this.log.push(`${req.method} ${req.path}`);
      this.requests.push(recordOf(req));
      next();
    });
    this.consent.mount(app);
    app.get('/o/oauth2/v2/auth', (req, res) => this.authorize(req, res));
    app.post('/token', (req, res) => this.token(req, res));
    app.post('/revoke', (req, res) => {
      this.revoked.push(String(req.body.token));
      this.refreshTokens.delete(String(req.body.token));
      res.status(200).json({});
    });
    app.use('/calendar/v3', (req, res, next) => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!token || !this.accessTokens.has(token)) {
        res.status(401).json({ error: { code: 401, message: 'Request had invalid authentication credentials.', errors: [{ reason: 'authError', domain: 'global' }], status: 'UNAUTHENTICATED' } });
        return;
      }
      next();
    });
    app.post('/calendar/v3/calendars/primary/events/watch', (req, res) => void this.watch(req, res));
    app.post('/calendar/v3/channels/stop', (req, res) => {
      this.channels.delete(String(req.body.id));
      res.status(204).end();
    });
    app.get('/calendar/v3/calendars/primary/events', (req, res) => this.list(req, res));
    await new Promise<void>((resolve) => {
      this.server = app.listen(0, '127.0.0.1', () => resolve());
    });
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private authorize(req: Request, res: Response): void {
    const q = req.query as Record<string, string>;
    if (q.client_id !== this.clientId || q.code_challenge_method !== 'S256' || !q.code_challenge || q.access_type !== 'offline') {
      res.status(400).send('Error 400: invalid_request');
      return;
    }
    const code = `4/0Ae${randomBytes(8).toString('hex')}`;
    this.codes.set(code, { challenge: q.code_challenge, redirectUri: q.redirect_uri! });
    const back = new URL(q.redirect_uri!);
    back.searchParams.set('state', q.state!);
    back.searchParams.set('code', code);
    back.searchParams.set('scope', q.scope!);
    this.consent.answer(res, { allow: back, redirectUri: q.redirect_uri!, state: q.state!, account: 'alice@example.com', scope: q.scope ?? '' });
  }

  /** The person removed the app's access in their account: every token of the grant is dead (`invalid_grant`). */
  revokeAccess(): void {
    this.accessTokens.clear();
    this.refreshTokens.clear();
  }

  private access(): string {
    const a = `ya29.${randomBytes(12).toString('hex')}`;
    this.accessTokens.add(a);
    return a;
  }

  private token(req: Request, res: Response): void {
    const b = req.body as Record<string, string>;
    if (b.client_id !== this.clientId || b.client_secret !== this.clientSecret) return void res.status(401).json({ error: 'invalid_client', error_description: 'Unauthorized' });
    if (b.grant_type === 'authorization_code') {
      const c = this.codes.get(b.code!);
      this.codes.delete(b.code!);
      if (!c || c.redirectUri !== b.redirect_uri || createHash('sha256').update(b.code_verifier ?? '').digest('base64url') !== c.challenge) {
        return void res.status(400).json({ error: 'invalid_grant', error_description: 'Invalid code verifier.' });
      }
      const refresh = `1//0g${randomBytes(12).toString('hex')}`;
      this.refreshTokens.add(refresh);
      const claims = Buffer.from(JSON.stringify({ iss: 'https://accounts.google.com', sub: '110248495921238986420', email: 'alice@example.com', email_verified: true, aud: this.clientId })).toString('base64url');
      return void res.json({ access_token: this.access(), expires_in: 3599, refresh_token: refresh, scope: 'openid https://www.googleapis.com/auth/calendar.events.readonly https://www.googleapis.com/auth/userinfo.email', token_type: 'Bearer', id_token: `eyJhbGciOiJSUzI1NiJ9.${claims}.c2ln` });
    }
    if (b.grant_type === 'refresh_token') {
      if (!this.refreshTokens.has(b.refresh_token!)) return void res.status(400).json({ error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
      // Google sends no new refresh token on refresh.
      return void res.json({ access_token: this.access(), expires_in: 3599, scope: 'https://www.googleapis.com/auth/calendar.events.readonly', token_type: 'Bearer' });
    }
    res.status(400).json({ error: 'unsupported_grant_type' });
  }

  private async watch(req: Request, res: Response): Promise<void> {
    const b = req.body as { id: string; type: string; address: string; token?: string; params?: { ttl?: string } };
    const ttl = Number(b.params?.ttl ?? 604800);
    const ch: Channel = { id: b.id, address: b.address, resourceId: randomBytes(8).toString('hex'), expiration: this.now() + ttl * 1000, messages: 0 };
    if (b.token) ch.token = b.token;
    this.channels.set(ch.id, ch);
    res.json({ kind: 'api#channel', id: ch.id, resourceId: ch.resourceId, resourceUri: `${this.url}/calendar/v3/calendars/primary/events?alt=json`, token: ch.token, expiration: String(ch.expiration) });
    // Google's first message on a new channel (protocols §2.2).
    setImmediate(() => void this.send(ch, 'sync').catch(() => undefined));
  }

  private shape(e: GoogleEventInput): object {
    return {
      kind: 'calendar#event',
      etag: `"${randomBytes(6).toString('hex')}"`,
      id: e.id,
      status: 'confirmed',
      summary: e.summary ?? 'Board prep (do not forward)',
      organizer: { email: 'alice@example.com', self: true },
      creator: { email: 'alice@example.com', self: true },
      start: { dateTime: e.start, timeZone: 'Europe/Berlin' },
      end: { dateTime: e.end, timeZone: 'Europe/Berlin' },
      eventType: e.eventType ?? 'default',
      attendees: [{ email: 'alice@example.com', self: true, responseStatus: 'accepted' }, { email: 'bob@example.com', responseStatus: 'accepted' }],
    };
  }

  private list(req: Request, res: Response): void {
    const q = req.query as Record<string, string>;
    const since = q.syncToken !== undefined ? Number(q.syncToken.replace('sync-', '')) : undefined;
    const items: object[] = [];
    for (const { event, version, cancelled } of this.events.values()) {
      if (since === undefined) {
        if (!cancelled) items.push(this.shape(event));
      } else if (version > since) items.push(cancelled ? { kind: 'calendar#event', id: event.id, status: 'cancelled' } : this.shape(event));
    }
    res.json({ kind: 'calendar#events', summary: 'alice@example.com', timeZone: 'Europe/Berlin', accessRole: 'owner', items, nextSyncToken: `sync-${this.version}` });
  }

  putEvent(e: GoogleEventInput): void {
    this.events.set(e.id, { event: e, version: ++this.version, cancelled: false });
  }

  cancelEvent(id: string): void {
    const old = this.events.get(id);
    if (old) this.events.set(id, { ...old, version: ++this.version, cancelled: true });
  }

  private async send(ch: Channel, state: 'sync' | 'exists'): Promise<number> {
    const headers: Record<string, string> = {
      'X-Goog-Channel-ID': ch.id,
      'X-Goog-Channel-Expiration': new Date(ch.expiration).toUTCString(),
      'X-Goog-Resource-ID': ch.resourceId,
      'X-Goog-Resource-URI': `${this.url}/calendar/v3/calendars/primary/events?alt=json`,
      'X-Goog-Resource-State': state,
      'X-Goog-Message-Number': String(++ch.messages),
    };
    if (ch.token) headers['X-Goog-Channel-Token'] = ch.token;
    const r = await fetch(ch.address, { method: 'POST', headers, signal: AbortSignal.timeout(3000) });
    await r.arrayBuffer();
    return r.status;
  }

  /** A push for every live channel, as Google sends after a change. */
  async push(): Promise<number[]> {
    return Promise.all([...this.channels.values()].map((ch) => this.send(ch, 'exists')));
  }
}
