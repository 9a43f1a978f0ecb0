import type { Clock } from '../../../shared/clock/clock.js';
import type { CalendarConfig } from '../../../shared/config/config.js';
import { hashToken } from '../../../shared/crypto/secrets.js';
import type { CalendarConnection, CalendarSubscription, CalendarSyncState, StoredTokens } from '../../../shared/domain/calendar.js';
import type { CalendarConnector, ConnectionContext, ConsentResult, MapContext, SyncResult, Window } from '../../calendars/connector.js';
import { InvalidGrantError, ProviderError } from '../../calendars/errors.js';
import type { EventVerdict } from '../../calendars/event-facts.js';
import { authorizeUrl, idTokenClaims, toStoredTokens, type OAuthClient, type OAuthEndpoints } from '../../calendars/oauth-client.js';
import type { GoogleAuth, GoogleCalendarClient } from './calendar-client.js';
import { mapGoogleEvent } from './map.js';
import { channelSchema, eventsPageSchema } from './schema.js';

export type GoogleConfig = NonNullable<CalendarConfig['google']>;

export interface GoogleConnectorDeps {
  config: GoogleConfig;
  publicBaseUrl: string;
  oauth: OAuthClient;
  calendar: GoogleCalendarClient;
  clock: Clock;
  newId: () => string;
  newSecret: () => string;
}

const DAY = 24 * 3600_000;
/** The default and, in practice, the longest channel life (protocols §2.2). */
const CHANNEL_TTL_S = 7 * 24 * 3600;
const PAGE_SIZE = 250;
const MAX_PAGES = 200;
/**
 * Read-only events plus the OpenID `email` to show which account is connected. `events.watch` and
 * `events.list` accept `calendar.events.readonly` (protocols §2.1), the narrowest scope that works.
 */
const SCOPES = ['openid', 'email', 'https://www.googleapis.com/auth/calendar.events.readonly'];

/** Google Calendar: person consent, `events.watch` channels, incremental sync with sync tokens. */
export class GoogleConnector implements CalendarConnector {
  readonly provider = 'google' as const;
  readonly source = 'google' as const;
  readonly redirectUri: string;

  constructor(private readonly deps: GoogleConnectorDeps) {
    this.redirectUri = `${deps.publicBaseUrl}/oauth/google/callback`;
  }

  endpoints(): OAuthEndpoints {
    const c = this.deps.config;
    return { provider: 'google', authorizeUrl: c.authUrl, tokenUrl: c.tokenUrl, revokeUrl: c.revokeUrl, clientId: c.clientId, clientSecret: c.clientSecret };
  }

  authorizeUrl(p: { state: string; codeChallenge: string; loginHint?: string }): string {
    // A refresh token comes only on first consent unless consent is asked for again (protocols §2.1).
    const extra: Record<string, string> = { access_type: 'offline', prompt: 'consent', include_granted_scopes: 'true' };
    if (p.loginHint) extra.login_hint = p.loginHint;
    return authorizeUrl(this.endpoints(), { redirectUri: this.redirectUri, scope: SCOPES.join(' '), state: p.state, codeChallenge: p.codeChallenge, extra });
  }

  async completeConsent(p: { code: string; verifier: string }): Promise<ConsentResult> {
    const t = await this.deps.oauth.exchangeCode(this.endpoints(), { code: p.code, verifier: p.verifier, redirectUri: this.redirectUri });
    const claims = idTokenClaims(t.id_token);
    const sub = typeof claims.sub === 'string' ? claims.sub : undefined;
    const email = typeof claims.email === 'string' ? claims.email : undefined;
    const account: CalendarConnection['account'] = { id: sub ?? email ?? 'primary' };
    if (email) account.email = email;
    const scopes = (t.scope ?? SCOPES.join(' ')).split(' ').filter(Boolean);
    if (!scopes.some((s) => s.includes('calendar'))) throw new ProviderError('google', 403, 'scope_not_granted', 'the calendar permission was not granted', false);
    return { tokens: toStoredTokens(t, this.deps.clock.now()), account, scopes };
  }

  async refresh(_conn: CalendarConnection, current: StoredTokens | undefined): Promise<StoredTokens> {
    if (!current?.refreshToken) throw new InvalidGrantError('google', 'invalid_grant', 'no refresh token stored');
    const t = await this.deps.oauth.refresh(this.endpoints(), current.refreshToken);
    return toStoredTokens(t, this.deps.clock.now(), current);
  }

  private auth(ctx: ConnectionContext): GoogleAuth {
    return { token: () => ctx.token(), rejected: (t) => ctx.rejected(t) };
  }

  /** A new channel with a random id and token (the token is our shared secret; protocols §2.2). */
  async watch(ctx: ConnectionContext, kinds: ReadonlyArray<CalendarSubscription['kind']> = ['events']): Promise<CalendarSubscription[]> {
    if (!kinds.includes('events')) return [];
    const { conn } = ctx;
    const now = this.deps.clock.now();
    const id = this.deps.newId();
    const token = this.deps.newSecret();
    const raw = await this.deps.calendar.call(this.auth(ctx), (headers) =>
      this.deps.calendar.api.events.watch(
        { calendarId: 'primary', requestBody: { id, type: 'web_hook', address: `${this.deps.publicBaseUrl}/v1/webhooks/google`, token, params: { ttl: String(CHANNEL_TTL_S) } } },
        { headers },
      ),
    );
    const ch = channelSchema.parse(raw);
    const expiration = ch.expiration === undefined ? NaN : Number(ch.expiration);
    return [
      {
        id: this.deps.newId(),
        tenantId: conn.tenantId,
        connectionId: conn.id,
        personId: conn.personId,
        provider: 'google',
        kind: 'events',
        externalId: `google:${ch.id}`,
        resourceId: ch.resourceId,
        secretHash: hashToken(token),
        expiresAt: Number.isFinite(expiration) ? expiration : now + CHANNEL_TTL_S * 1000,
        createdAt: now,
      },
    ];
  }

  /** Channels cannot be renewed: watch again with a new id, then stop the old one; both may deliver meanwhile. */
  async renew(ctx: ConnectionContext, sub: CalendarSubscription): Promise<CalendarSubscription> {
    const [next] = await this.watch(ctx);
    try {
      await this.unwatch(ctx, sub);
    } catch {
      // The old channel expires on its own; its notifications are still accepted until it is forgotten.
    }
    return next!;
  }

  renewBeforeMs(): number {
    return DAY;
  }

  async unwatch(ctx: ConnectionContext, sub: CalendarSubscription): Promise<void> {
    if (!sub.resourceId) return;
    try {
      await this.deps.calendar.call(this.auth(ctx), (headers) =>
        this.deps.calendar.api.channels.stop({ requestBody: { id: sub.externalId.slice('google:'.length), resourceId: sub.resourceId } }, { headers }),
      );
    } catch (err) {
      if (!(err instanceof ProviderError && err.status === 404)) throw err;
    }
  }

  /**
   * Full sync: the window's occurrences (`singleEvents`), every page, `nextSyncToken` from the last.
   * Incremental: only `syncToken` (it combines with no time filter; protocols §2.3). 410 surfaces as
   * `SyncStateGoneError`, and the caller wipes and syncs in full.
   */
  async sync(ctx: ConnectionContext, state: CalendarSyncState | undefined, full: boolean, window: Window): Promise<SyncResult> {
    const fresh = full || !state?.syncToken;
    const items: unknown[] = [];
    let pageToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const params: calendarListParams = { calendarId: 'primary', singleEvents: true, maxResults: PAGE_SIZE };
      if (fresh) {
        params.timeMin = new Date(window.start).toISOString();
        params.timeMax = new Date(window.end).toISOString();
      } else params.syncToken = state!.syncToken!;
      if (pageToken) params.pageToken = pageToken;
      const raw = await this.deps.calendar.call(this.auth(ctx), (headers) => this.deps.calendar.api.events.list(params, { headers }));
      const p = eventsPageSchema.parse(raw);
      items.push(...p.items);
      if (p.nextPageToken) {
        pageToken = p.nextPageToken;
        continue;
      }
      const windowed = fresh ? { windowStart: window.start, windowEnd: window.end } : { windowStart: state!.windowStart, windowEnd: state!.windowEnd };
      // Google is not explicit about which filters still yield a sync token (`orderBy` does not). Without
      // one, the list is still complete: keep it, and the next sync is a full read of the window again.
      if (!p.nextSyncToken) return { full: true, items, state: { ...windowed } };
      return { full: fresh, items, state: { syncToken: p.nextSyncToken, ...windowed } };
    }
    throw new ProviderError('google', 200, 'too_many_pages', `events.list did not finish within ${MAX_PAGES} pages`, true);
  }

  map(raw: unknown, ctx: MapContext): EventVerdict | undefined {
    return mapGoogleEvent(raw, ctx);
  }

  /** `POST revoke?token=` (protocols §2.1); revoking the refresh token ends the whole grant. */
  async revoke(_conn: CalendarConnection, tokens: StoredTokens | undefined): Promise<void> {
    const token = tokens?.refreshToken ?? tokens?.accessToken;
    if (token) await this.deps.oauth.revoke(this.endpoints(), token);
  }
}

type calendarListParams = {
  calendarId: string;
  singleEvents: boolean;
  maxResults: number;
  timeMin?: string;
  timeMax?: string;
  syncToken?: string;
  pageToken?: string;
};
