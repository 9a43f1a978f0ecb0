import { createHash, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import { ConsentScreen } from './stand-in-consent.js';
import { recordOf, type StandInRequest } from './stand-in-requests.js';

/** The signed-in user's directory roles as `wids` carries them: Global Administrator and the default User role. */
const ADMIN_ROLES = ['62e90394-69f5-4237-9190-012177145e10', 'b79fbf4d-3ef9-4689-8143-76b194e85509'];

/**
 * A local stand-in for the Microsoft identity platform and Microsoft Graph on 127.0.0.1, with
 * real-shaped answers: authorization code + PKCE (S256 checked), refresh tokens that rotate, client
 * credentials, ID tokens for `openid` sign-ins (admin consent's first step), admin consent, /me,
 * subscriptions with the validation handshake, calendarView delta with delta tokens, and change
 * notifications POSTed to the subscriber like Graph does.
 */
export interface GraphEventInput {
  id: string;
  start: string; // UTC wall time, e.g. 2026-03-02T14:00:00
  end: string;
  showAs?: string;
  isAllDay?: boolean;
  subject?: string;
}

interface Subscription {
  id: string;
  resource: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl?: string;
  clientState?: string;
  expirationDateTime: string;
}

export class MicrosoftStandIn {
  readonly user = { id: '9f1c2a4e-1b61-4d4a-9d36-6a0f1b3c2d10', displayName: 'Alice Example', mail: 'alice@contoso.example', userPrincipalName: 'alice@contoso.example' };
  readonly clientId = 'e2e-ms-client';
  readonly clientSecret = 'e2e-ms-secret';
  readonly subscriptions = new Map<string, Subscription>();
  /** Set `consent.interactive` for a consent page a browser clicks through. */
  readonly consent = new ConsentScreen('Microsoft');
  readonly log: string[] = [];
  /** Every request with its query and form grant type, for counting calls by kind. */
  readonly requests: StandInRequest[] = [];
  /** The directory the signed-in user belongs to, named by `tid` in ID tokens. */
  readonly directory = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  private readonly codes = new Map<string, { challenge: string; redirectUri: string; scope: string; nonce?: string }>();

  /** `now` is the service's clock, so ID token lifetimes make sense to it. */
  constructor(private readonly now: () => number = () => Date.now()) {}

  private readonly accessTokens = new Set<string>();
  private readonly refreshTokens = new Set<string>();
  /** Each change gets the next version; a delta token is the version it was issued at. */
  private version = 0;
  private readonly events = new Map<string, { event: GraphEventInput; version: number; deleted: boolean }>();
  private server?: Server;
  url = '';

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
    app.get('/:tenant/oauth2/v2.0/authorize', (req, res) => this.authorize(req, res));
    app.post('/:tenant/oauth2/v2.0/token', (req, res) => this.token(req, res));
    // Admin consent step 2: granted at once, for the directory in the path (the administrator's, after step 1).
    app.get('/:tenant/v2.0/adminconsent', (req, res) => {
      const back = new URL(String(req.query.redirect_uri));
      back.searchParams.set('admin_consent', 'True');
      back.searchParams.set('tenant', req.params.tenant);
      back.searchParams.set('scope', String(req.query.scope));
      back.searchParams.set('state', String(req.query.state));
      res.redirect(302, back.toString());
    });
    app.use('/v1.0', (req, res, next) => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!token || !this.accessTokens.has(token)) {
        res.status(401).json({ error: { code: 'InvalidAuthenticationToken', message: 'Access token is empty or invalid.' } });
        return;
      }
      next();
    });
    app.get('/v1.0/me', (_req, res) => res.json({ '@odata.context': `${this.url}/v1.0/$metadata#users/$entity`, ...this.user }));
    app.post('/v1.0/subscriptions', (req, res) => void this.subscribe(req, res));
    app.patch('/v1.0/subscriptions/:id', (req, res) => {
      const s = this.subscriptions.get(req.params.id);
      if (!s) return void res.status(404).json({ error: { code: 'ResourceNotFound', message: 'The object was not found.' } });
      s.expirationDateTime = String(req.body.expirationDateTime);
      res.json({ ...s, clientState: null });
    });
    app.delete('/v1.0/subscriptions/:id', (req, res) => {
      this.subscriptions.delete(req.params.id);
      res.status(204).end();
    });
    app.get('/v1.0/me/calendarView/delta', (req, res) => this.delta(req, res));
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
    if (q.client_id !== this.clientId || q.response_type !== 'code' || q.code_challenge_method !== 'S256' || !q.code_challenge || !q.state) {
      res.status(400).send('AADSTS900144: bad authorize request');
      return;
    }
    const code = `0.AAAA-${randomBytes(8).toString('hex')}`;
    this.codes.set(code, { challenge: q.code_challenge, redirectUri: q.redirect_uri!, scope: q.scope ?? '', ...(q.nonce ? { nonce: q.nonce } : {}) });
    const back = new URL(q.redirect_uri!);
    back.searchParams.set('code', code);
    back.searchParams.set('state', q.state);
    back.searchParams.set('session_state', 'e2e-session');
    this.consent.answer(res, { allow: back, redirectUri: q.redirect_uri!, state: q.state, account: this.user.mail, scope: q.scope ?? '' });
  }

  /** The person removed the app's access (myapps.microsoft.com): every token of the grant is dead (`invalid_grant`). */
  revokeAccess(): void {
    this.accessTokens.clear();
    this.refreshTokens.clear();
  }

  /** An unsigned v2.0 ID token of a Global Administrator (the service reads its claims from the token endpoint's TLS answer). */
  private idToken(nonce: string | undefined): string {
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const iat = Math.floor(this.now() / 1000);
    const claims = { aud: this.clientId, iss: `${this.url}/${this.directory}/v2.0`, iat, nbf: iat, exp: iat + 3600, tid: this.directory, wids: ADMIN_ROLES, oid: this.user.id, preferred_username: this.user.mail, name: this.user.displayName, ver: '2.0', ...(nonce ? { nonce } : {}) };
    return `${part({ typ: 'JWT', alg: 'RS256', kid: 'stand-in' })}.${part(claims)}.c2lnbmF0dXJl`;
  }

  private issue(res: Response, scope: string, refresh: boolean, idToken?: string): void {
    const access = `eyJ0eXAiOiJKV1Qi.${randomBytes(12).toString('hex')}`;
    this.accessTokens.add(access);
    const body: Record<string, unknown> = { token_type: 'Bearer', scope, expires_in: 3599, ext_expires_in: 3599, access_token: access };
    if (refresh) {
      const r = `0.ARoA.${randomBytes(12).toString('hex')}`;
      this.refreshTokens.add(r);
      body.refresh_token = r;
    }
    if (idToken) body.id_token = idToken;
    res.json(body);
  }

  private token(req: Request, res: Response): void {
    const b = req.body as Record<string, string>;
    if (b.client_id !== this.clientId || b.client_secret !== this.clientSecret) return void res.status(401).json({ error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' });
    if (b.grant_type === 'authorization_code') {
      const c = this.codes.get(b.code!);
      this.codes.delete(b.code!);
      const verifierOk = c && createHash('sha256').update(b.code_verifier ?? '').digest('base64url') === c.challenge;
      if (!c || c.redirectUri !== b.redirect_uri || !verifierOk) return void res.status(400).json({ error: 'invalid_grant', error_description: 'AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request.' });
      const openid = c.scope.split(' ').includes('openid');
      return this.issue(res, 'Calendars.Read User.Read profile openid email', true, openid ? this.idToken(c.nonce) : undefined);
    }
    if (b.grant_type === 'refresh_token') {
      if (!this.refreshTokens.delete(b.refresh_token!)) return void res.status(400).json({ error: 'invalid_grant', error_description: 'AADSTS70000: The refresh token has expired or was revoked.' });
      return this.issue(res, 'Calendars.Read User.Read', true);
    }
    if (b.grant_type === 'client_credentials') return this.issue(res, '', false);
    res.status(400).json({ error: 'unsupported_grant_type' });
  }

  /** Graph validates both URLs before creating the subscription (protocols §1.2). */
  private async subscribe(req: Request, res: Response): Promise<void> {
    const b = req.body as Subscription;
    for (const url of [b.notificationUrl, b.lifecycleNotificationUrl].filter((u): u is string => Boolean(u))) {
      const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomBytes(8).toString('hex')}`;
      const v = await fetch(`${url}?validationToken=${encodeURIComponent(token)}`, { method: 'POST', headers: { 'Content-Type': 'text/plain; charset=utf-8' }, signal: AbortSignal.timeout(10_000) });
      const text = await v.text();
      if (v.status !== 200 || text !== token || !(v.headers.get('content-type') ?? '').startsWith('text/plain')) {
        res.status(400).json({ error: { code: 'ValidationError', message: `Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.` } });
        return;
      }
    }
    if ([...this.subscriptions.values()].some((s) => s.resource === b.resource && s.notificationUrl === b.notificationUrl)) {
      res.status(409).json({ error: { code: 'ExtensionError', message: 'Subscription already exists.' } });
      return;
    }
    const s: Subscription = { id: crypto.randomUUID(), resource: b.resource, changeType: b.changeType, notificationUrl: b.notificationUrl, clientState: b.clientState, expirationDateTime: b.expirationDateTime };
    if (b.lifecycleNotificationUrl) s.lifecycleNotificationUrl = b.lifecycleNotificationUrl;
    this.subscriptions.set(s.id, s);
    res.status(201).json({ '@odata.context': `${this.url}/v1.0/$metadata#subscriptions/$entity`, ...s, clientState: null, applicationId: this.clientId, includeResourceData: false });
  }

  private shape(e: GraphEventInput): object {
    return {
      '@odata.type': '#microsoft.graph.event',
      '@odata.etag': `W/"${randomBytes(6).toString('hex')}"`,
      id: e.id,
      subject: e.subject ?? 'Confidential planning',
      isAllDay: e.isAllDay ?? false,
      isCancelled: false,
      sensitivity: 'normal',
      showAs: e.showAs ?? 'busy',
      type: 'singleInstance',
      responseStatus: { response: 'organizer', time: '0001-01-01T00:00:00Z' },
      start: { dateTime: `${e.start}.0000000`, timeZone: 'UTC' },
      end: { dateTime: `${e.end}.0000000`, timeZone: 'UTC' },
      attendees: [{ type: 'required', status: { response: 'none' }, emailAddress: { name: 'Bob Secret', address: 'bob@contoso.example' } }],
    };
  }

  private delta(req: Request, res: Response): void {
    const q = req.query as Record<string, string>;
    const since = q.$deltatoken !== undefined ? Number(q.$deltatoken) : undefined;
    const value: object[] = [];
    for (const { event, version, deleted } of this.events.values()) {
      if (since === undefined) {
        if (!deleted) value.push(this.shape(event));
      } else if (version > since) value.push(deleted ? { '@odata.type': '#microsoft.graph.event', id: event.id, '@removed': { reason: 'deleted' } } : this.shape(event));
    }
    res.json({ '@odata.context': `${this.url}/v1.0/$metadata#Collection(event)`, value, '@odata.deltaLink': `${this.url}/v1.0/me/calendarView/delta?$deltatoken=${this.version}` });
  }

  putEvent(e: GraphEventInput): void {
    this.events.set(e.id, { event: e, version: ++this.version, deleted: false });
  }

  deleteEvent(id: string): void {
    const old = this.events.get(id);
    if (old) this.events.set(id, { ...old, version: ++this.version, deleted: true });
  }

  /** POSTs a change notification for every subscription, as Graph would; returns the answers' statuses. */
  async notify(changeType: 'created' | 'updated' | 'deleted', eventId: string): Promise<number[]> {
    const out: number[] = [];
    for (const s of this.subscriptions.values()) {
      const body = {
        value: [
          {
            subscriptionId: s.id,
            subscriptionExpirationDateTime: s.expirationDateTime,
            changeType,
            resource: `Users/${this.user.id}/Events/${eventId}`,
            resourceData: { '@odata.type': '#Microsoft.Graph.Event', '@odata.id': `Users/${this.user.id}/Events/${eventId}`, id: eventId },
            clientState: s.clientState,
            tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
          },
        ],
      };
      const r = await fetch(s.notificationUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(3000) });
      await r.arrayBuffer();
      out.push(r.status);
    }
    return out;
  }
}
