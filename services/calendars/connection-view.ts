import { isoInstant as iso } from '../../shared/clock/iso.js';
import type { BrokenReason, CalendarConnection, CalendarProvider, CalendarSubscription, CalendarSyncState } from '../../shared/domain/calendar.js';

/** A connection as the person's page and the admin API show it. */
export interface ConnectionView {
  provider: CalendarProvider;
  mode: CalendarConnection['mode'];
  status: CalendarConnection['status'];
  account: CalendarConnection['account'];
  connectedAt: string;
  brokenReason?: BrokenReason;
  brokenAt?: string;
  sync: { state: 'ok' | 'pending' | 'error' | 'broken'; lastSyncAt?: string; lastError?: { code: string; message: string; at: string } };
  subscriptions: Array<{ kind: CalendarSubscription['kind']; expiresAt: string }>;
}

export function connectionView(conn: CalendarConnection, state: CalendarSyncState | undefined, subs: readonly CalendarSubscription[]): ConnectionView {
  const syncState: ConnectionView['sync']['state'] =
    conn.status === 'broken' ? 'broken' : state?.lastError && (state.lastSyncAt ?? 0) < state.lastError.at ? 'error' : state?.lastSyncAt ? 'ok' : 'pending';
  const v: ConnectionView = {
    provider: conn.provider,
    mode: conn.mode,
    status: conn.status,
    account: conn.account,
    connectedAt: iso(conn.connectedAt),
    sync: { state: syncState },
    subscriptions: subs.map((s) => ({ kind: s.kind, expiresAt: iso(s.expiresAt) })),
  };
  if (conn.brokenReason) v.brokenReason = conn.brokenReason;
  if (conn.brokenAt !== undefined) v.brokenAt = iso(conn.brokenAt);
  if (state?.lastSyncAt !== undefined) v.sync.lastSyncAt = iso(state.lastSyncAt);
  if (state?.lastError) v.sync.lastError = { ...state.lastError, at: iso(state.lastError.at) };
  return v;
}
