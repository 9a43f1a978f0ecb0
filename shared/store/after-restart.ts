import type { Signal } from '../domain/signal.js';

/**
 * Whether a signal outlives a restart of the whole service (the embedded store's process; every replica on
 * Redis, `redis/outage-bound.ts`): what a source would not send again soon. Calls (ringing, on a call, on
 * hold), wrap-ups and Teams presence do not: a hang-up sent while nobody listened would otherwise hold the
 * person busy until the call went stale (hours for on-call), and a PBX reports a call again only at its next
 * change (hold, transfer, hang-up); Teams presence is read again at the next calendar reconcile.
 */
export function survivesRestart(s: Signal): boolean {
  switch (s.source) {
    case 'manual':
    case 'outlook':
    case 'google':
    case 'directory':
    case 'mobile':
      return true;
    case 'pbx':
      return s.claim.kind === 'endpoint' || s.claim.kind === 'dnd';
    default:
      return false;
  }
}

/**
 * A person's signals as a restart of the whole service finds them: only those that outlive it
 * (`survivesRestart`), and a phone's registration sent without `expiresSec` believed only until
 * `registrationsUntil`: while the service was down the PBX may have reported the phone gone (unplugged,
 * moved), and without a bound such a phone stayed routable until the PBX said `unregistered`, which it had
 * already said. A phone still there re-registers within the bound (PBXs default to hourly: Asterisk
 * `default_expiration`, Kamailio `default_expires`, 3600 s), and its next `registered` replaces this copy,
 * unbounded again. One with its own expiry keeps it, even if later.
 */
export function afterRestart(signals: readonly Signal[], registrationsUntil: number): Signal[] {
  return signals.filter(survivesRestart).map((s) => (s.source === 'pbx' && s.claim.kind === 'endpoint' && s.until === undefined ? { ...s, until: registrationsUntil } : s));
}
