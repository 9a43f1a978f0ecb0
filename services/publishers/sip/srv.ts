import { promises as dns } from 'node:dns';
import type { TransportProtocol } from '../../../shared/sip/transport.js';

/** One SRV record (RFC 2782); `ttl`: seconds DNS said it may be kept, when the resolver says. */
export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
  ttl?: number;
}

/** The SRV records of a name; empty when it has none (NXDOMAIN, NODATA). Injectable so tests can play DNS. */
export type SrvResolver = (name: string) => Promise<SrvRecord[]>;

/** Answers that say "no such records", as opposed to a lookup that failed. */
const NO_RECORDS = new Set<string>([dns.NODATA, dns.NOTFOUND]);

/**
 * SRV lookups through node's resolver (c-ares) asking the system's DNS servers, or one given (tests point
 * one at a DNS server of their own). A server that does not answer is given up on within seconds (c-ares
 * would otherwise try for over a minute while the first deliveries wait). Node reports no TTL for SRV
 * records, so an answer is kept for the least (`MIN_TTL_MS`).
 */
export function srvResolver(resolver: Pick<dns.Resolver, 'resolveSrv'> = new dns.Resolver({ timeout: 2000, tries: 2 })): SrvResolver {
  return async (name) => {
    try {
      return await resolver.resolveSrv(name);
    } catch (err) {
      if (NO_RECORDS.has((err as NodeJS.ErrnoException).code ?? '')) return [];
      throw err;
    }
  };
}

/** The SRV name for a SIP server reached over `protocol` (RFC 3263 §4.2: `_sips._tcp` for TLS, else `_sip._<transport>`). */
export function srvName(host: string, protocol: TransportProtocol): string {
  return `${protocol === 'tls' ? '_sips._tcp' : `_sip._${protocol}`}.${host}`;
}

/**
 * RFC 2782's order: lowest priority first; within a priority, each next record drawn at random with a
 * chance proportional to its weight (weight-0 records first in the running sum, so they are picked
 * rarely but can be). A lone "." target means the service is decidedly not offered: no records.
 */
export function orderSrv(records: readonly SrvRecord[], random: () => number): SrvRecord[] {
  const usable = records.filter((r) => r.name !== '' && r.name !== '.');
  const priorities = [...new Set(usable.map((r) => r.priority))].sort((a, b) => a - b);
  const ordered: SrvRecord[] = [];
  for (const priority of priorities) {
    const left = usable.filter((r) => r.priority === priority).sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1));
    while (left.length > 0) {
      const total = left.reduce((sum, r) => sum + r.weight, 0);
      const pick = Math.floor(random() * (total + 1));
      let running = 0;
      const index = left.findIndex((r) => (running += r.weight) >= pick);
      ordered.push(...left.splice(index, 1));
    }
  }
  return ordered;
}
