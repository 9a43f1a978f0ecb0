import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { AppError } from '../../shared/errors/errors.js';

/**
 * Where a push target may point (OWASP SSRF cheat sheet). Public unicast addresses are always allowed;
 * private networks (RFC 1918, ULA, CGNAT, loopback) only for tenants that opted in, because PBXs often
 * live there; link-local (cloud metadata at 169.254.169.254), multicast, unspecified and reserved
 * ranges never.
 */
export type AddressClass = 'public' | 'private' | 'forbidden';

const PRIVATE_RANGES = new Set(['private', 'uniqueLocal', 'carrierGradeNat', 'loopback']);

export function classifyAddress(address: string): AddressClass {
  if (!ipaddr.isValid(address)) return 'forbidden';
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  const range = parsed.range();
  if (range === 'unicast') return 'public';
  return PRIVATE_RANGES.has(range) ? 'private' : 'forbidden';
}

export class SsrfError extends AppError {
  constructor(message: string) {
    super(422, 'target_address_forbidden', message);
  }
}

export function assertAllowedAddress(address: string, allowPrivate: boolean, host: string): void {
  const c = classifyAddress(address);
  if (c === 'public' || (c === 'private' && allowPrivate)) return;
  throw new SsrfError(
    c === 'private'
      ? `${host} resolves to the private address ${address}; the tenant must allow private targets (settings.allowPrivateTargets)`
      : `${host} resolves to ${address}, which is never allowed`,
  );
}

/** An address a name resolved to; `ttl`: how many seconds DNS said it may be kept, when it said. */
export type ResolvedAddress = LookupAddress & { ttl?: number };

/** Resolves a host name to all its addresses; injectable so tests can play DNS. */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = (host) => dnsLookup(host, { all: true, verbatim: true });

/**
 * Checks a target URL when it is registered: the scheme, and every address its host resolves to.
 * Connect-time checks (DNS may change: rebinding) happen again in the HTTP client's lookup, and for
 * SIP before every request (`sendAddress`).
 */
export async function checkTargetUrl(raw: string, allowPrivate: boolean, resolve: Resolver): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError(400, 'invalid_url', `${raw} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new AppError(422, 'unsupported_scheme', 'use an http(s) URL');
  if (url.username || url.password) throw new AppError(422, 'credentials_in_url', 'put credentials in the target, not in the URL');
  const addresses = await checkTargetHost(url.hostname, allowPrivate, resolve);
  if (url.protocol === 'http:' && addresses.some((a) => classifyAddress(a.address) === 'public')) {
    throw new AppError(422, 'https_required', 'targets on public addresses must use https');
  }
  return url;
}

/** Checks every address a target's host (name or literal, IPv6 in brackets or not) resolves to; returns them. */
export async function checkTargetHost(hostname: string, allowPrivate: boolean, resolve: Resolver): Promise<LookupAddress[]> {
  const host = hostname.replace(/^\[|\]$/g, '');
  const addresses = ipaddr.isValid(host) ? [{ address: host, family: host.includes(':') ? 6 : 4 }] : await resolve(host).catch(() => []);
  if (addresses.length === 0) throw new AppError(422, 'unresolvable_host', `${host} does not resolve`);
  for (const a of addresses) assertAllowedAddress(a.address, allowPrivate, host);
  return addresses;
}

/**
 * The address to send to for `host` now: every address it resolves to checked as when the target was
 * saved, the first IPv4 one (the SIP stack's UDP socket is IPv4 unless bound to an IPv6 address) or else
 * the first. Sending to this address, not the name, leaves no second lookup to answer otherwise.
 */
export async function sendAddress(host: string, allowPrivate: boolean, resolve: Resolver): Promise<string> {
  const addresses = await checkTargetHost(host, allowPrivate, resolve);
  return (addresses.find((a) => a.family === 4) ?? addresses[0]!).address;
}
