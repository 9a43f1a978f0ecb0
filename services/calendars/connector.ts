import type { CalendarConnection, CalendarPolicy, CalendarProvider, CalendarSource, CalendarSubscription, CalendarSyncState, StoredTokens } from '../../shared/domain/calendar.js';
import type { Signal } from '../../shared/domain/signal.js';
import type { EventVerdict } from './event-facts.js';

/** What a connector may ask about the connection it works for. */
export interface ConnectionContext {
  conn: CalendarConnection;
  /** A valid access token (the person's own, or the tenant's app token for application grants). */
  token(): Promise<string>;
  /** The provider refused `token` (401): a fresh one. */
  rejected(token: string): Promise<string>;
}

export interface ConsentResult {
  tokens: StoredTokens;
  account: CalendarConnection['account'];
  scopes: string[];
}

export interface SyncResult {
  full: boolean;
  /** Raw provider events, mapped by `map` (the connector never decides policy). */
  items: unknown[];
  state: Pick<CalendarSyncState, 'deltaLink' | 'syncToken' | 'windowStart' | 'windowEnd'>;
}

export interface Window {
  start: number;
  end: number;
}

export interface MapContext {
  policy: CalendarPolicy;
  zone: string;
  observedAt: number;
}

/** The subscription answered 404 / was removed: the caller creates a new one and runs a full sync. */
export class SubscriptionGoneError extends Error {
  constructor(readonly subscriptionId: string) {
    super(`subscription ${subscriptionId} no longer exists at the provider`);
    this.name = 'SubscriptionGoneError';
  }
}

/**
 * One calendar provider behind one small port (cal.com's calendar-subscription port): consent, push
 * subscriptions or channels, sync, revocation, and a pure mapper. The calendar service does the rest
 * the same way for every provider.
 */
export interface CalendarConnector {
  readonly provider: CalendarProvider;
  readonly source: CalendarSource;
  /** Where the provider sends the browser back after consent. */
  readonly redirectUri: string;
  authorizeUrl(p: { state: string; codeChallenge: string; loginHint?: string }): string;
  completeConsent(p: { code: string; verifier: string }): Promise<ConsentResult>;
  /** Refreshes a delegated grant (throws `InvalidGrantError` when it is dead). */
  refresh(conn: CalendarConnection, current: StoredTokens | undefined): Promise<StoredTokens>;
  /** Creates the push subscriptions or channels for a connection (all kinds it uses, or only those named). */
  watch(ctx: ConnectionContext, kinds?: ReadonlyArray<CalendarSubscription['kind']>): Promise<CalendarSubscription[]>;
  /** Extends (Graph) or replaces (Google) one before it expires; returns what to store instead. */
  renew(ctx: ConnectionContext, sub: CalendarSubscription): Promise<CalendarSubscription>;
  unwatch(ctx: ConnectionContext, sub: CalendarSubscription): Promise<void>;
  /** Lead time before `expiresAt` at which `renew` runs. */
  renewBeforeMs(sub: CalendarSubscription): number;
  sync(ctx: ConnectionContext, state: CalendarSyncState | undefined, full: boolean, window: Window): Promise<SyncResult>;
  map(raw: unknown, ctx: MapContext): EventVerdict | undefined;
  /** Revokes the person's grant at the provider where it offers that. */
  revoke(conn: CalendarConnection, tokens: StoredTokens | undefined): Promise<void>;
  /** Teams presence or the like: a status signal to put (or undefined to remove) after a presence notification. */
  readPresence?(ctx: ConnectionContext): Promise<Signal | undefined>;
}
