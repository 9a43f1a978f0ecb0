import type { Clock } from '../../../shared/clock/clock.js';
import type { CalendarConfig } from '../../../shared/config/config.js';
import { hashToken } from '../../../shared/crypto/secrets.js';
import type { CalendarConnection, CalendarSubscription, CalendarSyncState, StoredTokens } from '../../../shared/domain/calendar.js';
import type { Signal } from '../../../shared/domain/signal.js';
import { SubscriptionGoneError, type CalendarConnector, type ConnectionContext, type ConsentResult, type MapContext, type SyncResult, type Window } from '../../calendars/connector.js';
import { InvalidGrantError, ProviderError } from '../../calendars/errors.js';
import { authorizeUrl, idTokenClaims, toStoredTokens, type IdTokenClaims, type OAuthClient, type OAuthEndpoints } from '../../calendars/oauth-client.js';
import type { EventVerdict } from '../../calendars/event-facts.js';
import { BATCH_MAX, type GraphAuth, type GraphClient } from './graph-client.js';
import { mapGraphEvent } from './map.js';
import { mapTeamsPresence } from './presence-map.js';
import { deltaPageSchema, subscriptionSchema, userSchema, type GraphUser } from './schema.js';

export type MicrosoftConfig = NonNullable<CalendarConfig['microsoft']>;

export interface MicrosoftConnectorDeps {
  config: MicrosoftConfig;
  publicBaseUrl: string;
  oauth: OAuthClient;
  graph: GraphClient;
  clock: Clock;
  newId: () => string;
  newSecret: () => string;
}

const MIN = 60_000;
/**
 * Requested lifetimes. Outlook events allow 10,080 min today, but older clouds and docs say 4,230; asking
 * for 4,230 works everywhere and costs one renewal every ~3 days. Presence allows 60 min (protocols §1.1).
 */
const EVENTS_LIFETIME_MS = 4230 * MIN;
const PRESENCE_LIFETIME_MS = 60 * MIN;
/** `Prefer: odata.maxpagesize` for delta pages; no `outlook.timezone`, so times come in UTC. */
const PAGE_SIZE = 100;
const MAX_PAGES = 200;

/** Outlook/Microsoft 365 through Microsoft Graph: person consent, admin consent, subscriptions, calendarView delta. */
export class MicrosoftConnector implements CalendarConnector {
  readonly provider = 'microsoft' as const;
  readonly source = 'outlook' as const;
  readonly redirectUri: string;
  /** Admin consent, step 1: the administrator's sign-in comes back here. */
  readonly adminSignInRedirectUri: string;
  /** Admin consent, step 2: Microsoft's consent page comes back here. */
  readonly adminRedirectUri: string;

  constructor(private readonly deps: MicrosoftConnectorDeps) {
    this.redirectUri = `${deps.publicBaseUrl}/oauth/microsoft/callback`;
    this.adminSignInRedirectUri = `${deps.publicBaseUrl}/oauth/microsoft/admin-sign-in`;
    this.adminRedirectUri = `${deps.publicBaseUrl}/oauth/microsoft/admin-callback`;
  }

  /** Delegated scopes: `offline_access` for a refresh token (protocols §1.8), `User.Read` to show the account. */
  get scopes(): string[] {
    return ['offline_access', 'User.Read', 'Calendars.Read', ...(this.deps.config.teamsPresence ? ['Presence.Read'] : [])];
  }

  endpoints(tenant = this.deps.config.authorityTenant): OAuthEndpoints {
    const base = `${this.deps.config.loginBaseUrl}/${encodeURIComponent(tenant)}`;
    return {
      provider: 'microsoft',
      authorizeUrl: `${base}/oauth2/v2.0/authorize`,
      tokenUrl: `${base}/oauth2/v2.0/token`,
      clientId: this.deps.config.clientId,
      clientSecret: this.deps.config.clientSecret,
    };
  }

  authorizeUrl(p: { state: string; codeChallenge: string; loginHint?: string }): string {
    const extra: Record<string, string> = { response_mode: 'query', prompt: 'select_account' };
    if (p.loginHint) extra.login_hint = p.loginHint;
    return authorizeUrl(this.endpoints(), { redirectUri: this.redirectUri, scope: this.scopes.join(' '), state: p.state, codeChallenge: p.codeChallenge, extra });
  }

  async completeConsent(p: { code: string; verifier: string }): Promise<ConsentResult> {
    const now = this.deps.clock.now();
    const t = await this.deps.oauth.exchangeCode(this.endpoints(), { code: p.code, verifier: p.verifier, redirectUri: this.redirectUri, scope: this.scopes.join(' ') });
    const tokens = toStoredTokens(t, now);
    const token = tokens.accessToken;
    const auth: GraphAuth = { token: async () => token, rejected: async () => Promise.reject(new ProviderError('microsoft', 401, 'unauthorized', 'the new token was refused', false)) };
    // A limiter key of its own: the mailbox is not known yet, and consents must not queue behind each other.
    const me = userSchema.parse(await this.deps.graph.request(`consent:${this.deps.newId()}`, auth, 'get', 'me?$select=id,displayName,mail,userPrincipalName'));
    return { tokens, account: accountOf(me), scopes: (t.scope ?? this.scopes.join(' ')).split(' ').filter(Boolean) };
  }

  async refresh(conn: CalendarConnection, current: StoredTokens | undefined): Promise<StoredTokens> {
    if (!current?.refreshToken) throw new InvalidGrantError('microsoft', 'invalid_grant', 'no refresh token stored');
    const t = await this.deps.oauth.refresh(this.endpoints(), current.refreshToken, this.scopes.join(' '));
    return toStoredTokens(t, this.deps.clock.now(), current);
  }

  // ── tenant-wide admin consent (application permissions) ──

  /**
   * Step 1: the administrator signs in (OpenID Connect, `openid` only), so that the ID token names their
   * directory (`tid`) before they are asked to consent for it (Microsoft's admin-consent page recommends
   * signing the administrator in first). `select_account`: an administrator often has several accounts.
   */
  adminSignInUrl(p: { state: string; codeChallenge: string; nonce: string }): string {
    const extra = { response_mode: 'query', prompt: 'select_account', nonce: p.nonce };
    return authorizeUrl(this.adminEndpoints(), { redirectUri: this.adminSignInRedirectUri, scope: 'openid', state: p.state, codeChallenge: p.codeChallenge, extra });
  }

  /** The claims of the administrator's ID token; the tokens themselves are dropped (nothing is read with them). */
  async adminSignIn(p: { code: string; verifier: string }): Promise<IdTokenClaims> {
    const t = await this.deps.oauth.exchangeCode(this.adminEndpoints(), { code: p.code, verifier: p.verifier, redirectUri: this.adminSignInRedirectUri, scope: 'openid' });
    return idTokenClaims(t.id_token);
  }

  /** The person-consent authority (one directory, or any), but work or school accounts only: a personal account has no directory to consent for. */
  private adminEndpoints(): OAuthEndpoints {
    const tenant = this.deps.config.authorityTenant;
    return this.endpoints(tenant === 'common' || tenant === 'consumers' ? 'organizations' : tenant);
  }

  /** The v2.0 issuer of ID tokens from directory `tid`, in this cloud. */
  issuerOf(tid: string): string {
    return `${this.deps.config.loginBaseUrl}/${tid}/v2.0`;
  }

  get clientId(): string {
    return this.deps.config.clientId;
  }

  /**
   * Step 2: the v2.0 admin-consent endpoint of the directory proven in step 1, for the application
   * permissions configured in the app registration (`.default`). It answers with `admin_consent`, `tenant`
   * and `state`, none of them signed.
   */
  adminConsentUrl(p: { directoryTenant: string; state: string }): string {
    const url = new URL(`${this.deps.config.loginBaseUrl}/${encodeURIComponent(p.directoryTenant)}/v2.0/adminconsent`);
    url.searchParams.set('client_id', this.deps.config.clientId);
    url.searchParams.set('scope', `${this.deps.config.graphBaseUrl}/.default`);
    url.searchParams.set('redirect_uri', this.adminRedirectUri);
    url.searchParams.set('state', p.state);
    return url.toString();
  }

  /** An app-only token for a directory tenant (client credentials; there is no refresh token). */
  async appToken(directoryTenant: string): Promise<StoredTokens> {
    const e = this.endpoints(directoryTenant);
    const t = await this.deps.oauth.clientCredentials(e, e.tokenUrl, `${this.deps.config.graphBaseUrl}/.default`);
    return toStoredTokens(t, this.deps.clock.now());
  }

  /** Directory users by address, 20 per `$batch`; an address Graph does not know maps to undefined. */
  async resolveUsers(auth: GraphAuth, addresses: readonly string[]): Promise<Map<string, GraphUser | undefined>> {
    const out = new Map<string, GraphUser | undefined>();
    for (let i = 0; i < addresses.length; i += BATCH_MAX) {
      const chunk = addresses.slice(i, i + BATCH_MAX);
      const answers = await this.deps.graph.batch('directory', auth, chunk.map((a, j) => ({ id: String(j), method: 'GET', url: `users/${encodeURIComponent(a)}?$select=id,displayName,mail,userPrincipalName` })));
      chunk.forEach((a, j) => {
        const r = answers.get(String(j));
        const user = r && r.status === 200 ? userSchema.safeParse(r.body) : undefined;
        out.set(a, user?.success ? user.data : undefined);
      });
    }
    return out;
  }

  // ── subscriptions ──

  private mailbox(conn: CalendarConnection): string {
    return `${conn.tenantId}/${conn.account.id}`;
  }

  private auth(ctx: ConnectionContext): GraphAuth {
    return { token: () => ctx.token(), rejected: (t) => ctx.rejected(t) };
  }

  private userPath(conn: CalendarConnection): string {
    // Delegated permissions reach only the signed-in mailbox; application permissions name the user (protocols §1.1).
    return conn.mode === 'delegated' ? 'me' : `users/${encodeURIComponent(conn.account.id)}`;
  }

  private resource(conn: CalendarConnection, kind: CalendarSubscription['kind']): string {
    return kind === 'events' ? `${this.userPath(conn)}/events` : `communications/presences/${conn.account.id}`;
  }

  private async create(ctx: ConnectionContext, kind: CalendarSubscription['kind']): Promise<CalendarSubscription> {
    const { conn } = ctx;
    const now = this.deps.clock.now();
    const clientState = this.deps.newSecret();
    const body: Record<string, unknown> = {
      changeType: kind === 'events' ? 'created,updated,deleted' : 'updated',
      notificationUrl: `${this.deps.publicBaseUrl}/v1/webhooks/microsoft`,
      resource: this.resource(conn, kind),
      expirationDateTime: new Date(now + (kind === 'events' ? EVENTS_LIFETIME_MS : PRESENCE_LIFETIME_MS)).toISOString(),
      clientState,
    };
    // Lifecycle events (reauthorizationRequired, subscriptionRemoved, missed) can only be asked for at creation.
    body.lifecycleNotificationUrl = `${this.deps.publicBaseUrl}/v1/webhooks/microsoft/lifecycle`;
    let created: unknown;
    try {
      created = await this.deps.graph.request(this.mailbox(conn), this.auth(ctx), 'post', 'subscriptions', body);
    } catch (err) {
      // The same resource subscribed twice is a 409 (a subscription we lost track of): remove it, then try once more.
      if (!(err instanceof ProviderError && err.status === 409)) throw err;
      await this.removeStale(ctx, body.resource as string);
      created = await this.deps.graph.request(this.mailbox(conn), this.auth(ctx), 'post', 'subscriptions', body);
    }
    const sub = subscriptionSchema.parse(created);
    return {
      id: this.deps.newId(),
      tenantId: conn.tenantId,
      connectionId: conn.id,
      personId: conn.personId,
      provider: 'microsoft',
      kind,
      externalId: `microsoft:${sub.id}`,
      secretHash: hashToken(clientState),
      expiresAt: Date.parse(sub.expirationDateTime),
      createdAt: now,
    };
  }

  private async removeStale(ctx: ConnectionContext, resource: string): Promise<void> {
    const list = (await this.deps.graph.request<{ value?: Array<{ id: string; resource?: string; notificationUrl?: string }> }>(this.mailbox(ctx.conn), this.auth(ctx), 'get', 'subscriptions')).value ?? [];
    for (const s of list) {
      if (s.resource?.toLowerCase() === resource.toLowerCase() && s.notificationUrl?.startsWith(this.deps.publicBaseUrl)) {
        await this.deleteSubscription(ctx, s.id);
      }
    }
  }

  async watch(ctx: ConnectionContext, kinds: ReadonlyArray<CalendarSubscription['kind']> = ['events', 'presence']): Promise<CalendarSubscription[]> {
    const subs: CalendarSubscription[] = [];
    if (kinds.includes('events')) subs.push(await this.create(ctx, 'events'));
    // Presence subscriptions exist only for delegated permissions (protocols §1.7).
    if (kinds.includes('presence') && this.deps.config.teamsPresence && ctx.conn.mode === 'delegated') subs.push(await this.create(ctx, 'presence'));
    return subs;
  }

  /** PATCH a new expiry; renewing also reauthorizes (protocols §1.3). */
  async renew(ctx: ConnectionContext, sub: CalendarSubscription): Promise<CalendarSubscription> {
    const id = sub.externalId.slice('microsoft:'.length);
    const lifetime = sub.kind === 'events' ? EVENTS_LIFETIME_MS : PRESENCE_LIFETIME_MS;
    try {
      const r = subscriptionSchema.parse(
        await this.deps.graph.request(this.mailbox(ctx.conn), this.auth(ctx), 'patch', `subscriptions/${encodeURIComponent(id)}`, {
          expirationDateTime: new Date(this.deps.clock.now() + lifetime).toISOString(),
        }),
      );
      return { ...sub, expiresAt: Date.parse(r.expirationDateTime) };
    } catch (err) {
      if (err instanceof ProviderError && err.status === 404) throw new SubscriptionGoneError(sub.externalId);
      throw err;
    }
  }

  renewBeforeMs(sub: CalendarSubscription): number {
    // Presence lives an hour: renew at 45 minutes. Events: half a day ahead of their ~3 days.
    return sub.kind === 'presence' ? 15 * MIN : 12 * 60 * MIN;
  }

  private async deleteSubscription(ctx: ConnectionContext, id: string): Promise<void> {
    try {
      await this.deps.graph.request(this.mailbox(ctx.conn), this.auth(ctx), 'delete', `subscriptions/${encodeURIComponent(id)}`);
    } catch (err) {
      if (!(err instanceof ProviderError && err.status === 404)) throw err;
    }
  }

  async unwatch(ctx: ConnectionContext, sub: CalendarSubscription): Promise<void> {
    await this.deleteSubscription(ctx, sub.externalId.slice('microsoft:'.length));
  }

  // ── sync ──

  /**
   * calendarView delta over the rolling window: the first call fixes the window, `@odata.nextLink` is
   * followed to the `@odata.deltaLink`, which is stored whole (protocols §1.4). A 410 or
   * `syncStateNotFound` surfaces as `SyncStateGoneError` for a full sync.
   */
  async sync(ctx: ConnectionContext, state: CalendarSyncState | undefined, full: boolean, window: Window): Promise<SyncResult> {
    const fresh = full || !state?.deltaLink;
    const start = new Date(window.start).toISOString();
    const end = new Date(window.end).toISOString();
    let link: string = fresh ? `${this.userPath(ctx.conn)}/calendarView/delta?startDateTime=${start}&endDateTime=${end}` : state.deltaLink!;
    const items: unknown[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      const raw = await this.deps.graph.request(this.mailbox(ctx.conn), this.auth(ctx), 'get', link, undefined, { Prefer: `odata.maxpagesize=${PAGE_SIZE}` });
      const p = deltaPageSchema.parse(raw);
      items.push(...p.value);
      if (p['@odata.deltaLink']) {
        const windowed = fresh ? { windowStart: window.start, windowEnd: window.end } : { windowStart: state!.windowStart, windowEnd: state!.windowEnd };
        return { full: fresh, items, state: { deltaLink: p['@odata.deltaLink'], ...windowed } };
      }
      if (!p['@odata.nextLink']) throw new ProviderError('microsoft', 200, 'delta_without_link', 'a delta page had neither nextLink nor deltaLink', true);
      link = p['@odata.nextLink'];
    }
    throw new ProviderError('microsoft', 200, 'too_many_pages', `calendar delta did not finish within ${MAX_PAGES} pages`, true);
  }

  map(raw: unknown, ctx: MapContext): EventVerdict | undefined {
    return mapGraphEvent(raw, ctx);
  }

  async readPresence(ctx: ConnectionContext): Promise<Signal | undefined> {
    const p = await this.deps.graph.request<Record<string, unknown>>(this.mailbox(ctx.conn), this.auth(ctx), 'get', `${this.userPath(ctx.conn)}/presence`);
    return mapTeamsPresence({ availability: p.availability as string | undefined, activity: p.activity as string | undefined }, this.deps.clock.now());
  }

  /**
   * Microsoft offers no endpoint to revoke one app's delegated refresh token; disconnecting deletes the
   * subscriptions and our tokens, and the person can remove the app at https://myapps.microsoft.com.
   */
  async revoke(): Promise<void> {}
}

export function accountOf(u: GraphUser): CalendarConnection['account'] {
  const a: CalendarConnection['account'] = { id: u.id };
  const email = u.mail ?? u.userPrincipalName;
  if (email) a.email = email;
  if (u.displayName) a.name = u.displayName;
  return a;
}
