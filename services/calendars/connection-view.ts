import { isoInstant as iso } from '../../shared/clock/iso.js';
import type { z } from 'zod';
import type { CalendarConnection, CalendarSubscription, CalendarSyncState } from '../../shared/domain/calendar.js';
import type { connectionSchema } from '../api/response-schema.js';

/** A connection as the person's page and the admin API show it (the schema `/openapi.json` documents). */
export type ConnectionView = z.output<typeof connectionSchema>;

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
