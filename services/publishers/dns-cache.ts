import { resolve4, resolve6 } from 'node:dns/promises';
import type { Clock } from '../../shared/clock/clock.js';
import { systemResolver, type ResolvedAddress, type Resolver } from './ssrf-guard.js';

/** An answer is kept at least this long (a name asked thousands of times a second costs one lookup a second)… */
export const MIN_TTL_MS = 1000;
/** …and at most this long, whatever its TTL, so a server moved to another address is followed within minutes. */
export const MAX_TTL_MS = 300_000;

/** How long an answer with this TTL (seconds; none: unknown) is kept. */
export const keepForMs = (ttlSec: number | undefined): number => Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, (ttlSec ?? 0) * 1000));

/**
 * A SIP server's A and AAAA records with their TTLs (RFC 3263 §4.2: a server named with a port, or by
 * default 5060/5061, is resolved by its A/AAAA records); `dns.lookup` gives no TTL. A name DNS does not
 * answer (`localhost`, one in /etc/hosts) is looked up by the system as before, without a TTL.
 */
export const dnsResolver: Resolver = async (host) => {
  const [v4, v6] = await Promise.allSettled([resolve4(host, { ttl: true }), resolve6(host, { ttl: true })]);
  const found: ResolvedAddress[] = [
    ...(v4.status === 'fulfilled' ? v4.value.map((a) => ({ address: a.address, family: 4, ttl: a.ttl })) : []),
    ...(v6.status === 'fulfilled' ? v6.value.map((a) => ({ address: a.address, family: 6, ttl: a.ttl })) : []),
  ];
  return found.length > 0 ? found : systemResolver(host);
};

interface Entry {
  resolvedAt: number;
  /** Infinity while the lookup is on its way: every request meanwhile waits for that one. */
  until: number;
  answer: Promise<ResolvedAddress[]>;
}

/**
 * Keeps each name's answer for its DNS TTL, bounded to [`MIN_TTL_MS`, `MAX_TTL_MS`]; an answer without a
 * TTL, an empty one or a failed lookup for the least. It caches what DNS said, never a verdict: the
 * caller checks every answer it uses (the SSRF guard), and says when the guard `refused` one.
 */
export class AddressCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly resolve: Resolver,
    private readonly clock: Clock,
  ) {}

  readonly lookup: Resolver = (host) => {
    const now = this.clock.now();
    const cached = this.entries.get(host);
    if (cached && now < cached.until) return cached.answer;
    const entry: Entry = { resolvedAt: now, until: Infinity, answer: this.resolve(host) };
    entry.answer.then(
      (addresses) => {
        const ttl = addresses.length === 0 ? 0 : Math.min(...addresses.map((a) => a.ttl ?? 0));
        entry.until = Math.min(entry.until, this.clock.now() + keepForMs(ttl));
      },
      () => (entry.until = Math.min(entry.until, this.clock.now() + MIN_TTL_MS)),
    );
    this.entries.set(host, entry);
    for (const [name, e] of this.entries) if (e.until <= now) this.entries.delete(name);
    return entry.answer;
  };

  /** The guard refused what `host` resolved to: it is asked again soon (the rebinding may be undone), not after its TTL. */
  refused(host: string): void {
    const entry = this.entries.get(host);
    if (entry) entry.until = Math.min(entry.until, entry.resolvedAt + MIN_TTL_MS);
  }
}
