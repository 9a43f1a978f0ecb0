import type { Signal } from '../domain/signal.js';

/**
 * A person's signals as a restart of the whole service finds them (the embedded store's process; every
 * replica on Redis, `redis/outage-bound.ts`). A phone's registration sent without `expiresSec` is believed
 * only until `registrationsUntil`: while the service was down the PBX may have reported the phone gone
 * (unplugged, moved), and without a bound such a phone stayed routable until the PBX said `unregistered`,
 * which it had already said. A phone still there re-registers within the bound (PBXs default to hourly:
 * Asterisk `default_expiration`, Kamailio `default_expires`, 3600 s), and its next `registered` replaces
 * this copy, unbounded again. One with its own expiry keeps it, even if later.
 */
export function afterRestart(signals: readonly Signal[], registrationsUntil: number): Signal[] {
  return signals.map((s) => (s.source === 'pbx' && s.claim.kind === 'endpoint' && s.until === undefined ? { ...s, until: registrationsUntil } : s));
}
