import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock/clock.js';
import type { Config } from '../../shared/config/config.js';
import {
  aboveCeiling,
  ceilingsOf,
  effectiveLimits,
  REQUEST_LIMIT_COUNTS,
  type HeldLimitClass,
  type RateLimitClass,
  type RequestLimitClass,
  type RequestLimits,
  type RequestLimitsOverride,
  type TenantLimitSettings,
} from '../../shared/domain/request-limits.js';
import { AppError, badRequest } from '../../shared/errors/errors.js';
import type { Metrics } from '../observability/metrics.js';
import type { SharedLimits } from '../../shared/store/shared-limits.js';
import { SharedBudget } from './shared-budget.js';
import { TokenBuckets } from './token-buckets.js';

/**
 * A class whose requests also count, together, against a limit for their whole tenant: without it a
 * tenant with 50 keys could send 50 times a key's limit. PBX batches (`pbxEvents`, per tenant already),
 * heartbeats and streams are not API requests and count only in their own class.
 */
const TENANT_WIDE: Partial<Record<RateLimitClass, RateLimitClass>> = { api: 'tenantApi' };

/** A refusal is logged at most this often per tenant and class (or per address), with the count since. */
const LOG_EVERY_MS = 60_000;
/** Addresses whose refusals are being counted for the log, at most: past it the counts start over. */
const LOG_KEYS = 10_000;
/**
 * Retry-After of a refusal by a limit of what is open at once: a place frees only when one of the tenant's
 * streams closes, which nothing foretells, so this is when to look again, not when it will fit. A minute
 * keeps a reconnect loop from refilling the places the moment they free, yet brings a dashboard back soon.
 */
const HELD_RETRY_AFTER_SEC = 60;

export interface RequestLimiterDeps {
  limits: Config['requestLimits'];
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /** The tenant's own limits (settings `requestLimits`) and the operator's for it, read from the directory. */
  override(tenantId: string): Promise<TenantLimitSettings>;
  /** How long a tenant's limits are reused: replicas sharing a store see another's change within this. */
  cacheMs: number;
  /**
   * Where replicas sharing a store count their limits together, and this replica's name there; without it
   * this process is the whole deployment and counts in memory alone.
   */
  shared?: { limits: SharedLimits; replica: string; placesTtlMs?: number };
}

const WITH_PORT = /^(?:(\d{1,3}(?:\.\d{1,3}){3})|\[([0-9A-Fa-f:.]+)\]):\d{1,5}$/;

/** `::ffff:a.b.c.d` as IPv4; an IPv6 client by its /64: one host may use any address of its subnet (SLAAC, RFC 4862; privacy addresses, RFC 8981). */
export function clientAddress(ip: string | undefined): string {
  // Most requests: no parse (it runs before every authenticated request).
  if (ip && !ip.includes(':')) return ip;
  // Some proxies append the client's port (`a.b.c.d:port`, `[v6]:port`; Azure Application Gateway):
  // without it every connection would have a bucket of its own.
  const withPort = WITH_PORT.exec(ip ?? '');
  if (withPort) return clientAddress(withPort[1] ?? withPort[2]);
  if (ip?.startsWith('::ffff:') && ip.includes('.')) return ip.slice(7);
  if (!ip || !ipaddr.isValid(ip)) return ip ?? 'unknown';
  const parsed = ipaddr.parse(ip);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return `${ipaddr.IPv6.networkAddressFromCIDR(`${v6.toString()}/64`).toString()}/64`;
}

/**
 * Request limits for the whole deployment: a token bucket per key, device or tenant for each class, one per
 * client address for failed authentications, and a count of what each tenant holds open. Computed from
 * the injected clock. With replicas sharing a store they are counted there (`SharedBudget`), without a
 * round trip for most requests; one process alone counts in memory.
 */
export class RequestLimiter {
  private readonly buckets = new Map<RateLimitClass | 'auth', TokenBuckets>();
  private readonly tenants = new Map<string, { limits: RequestLimits; at: number }>();
  private readonly logged = new Map<string, { at: number; refused: number }>();
  /** What each tenant holds open now, per held class. */
  private readonly open = new Map<HeldLimitClass, Map<string, number>>();
  private readonly shared: SharedBudget | undefined;

  constructor(private readonly deps: RequestLimiterDeps) {
    const { shared } = deps;
    this.shared = shared && new SharedBudget({ ...shared, clock: deps.clock, log: deps.log, places: () => this.places() });
  }

  /** Starts counting with the other replicas (publishing what this one holds open). */
  async start(): Promise<void> {
    await this.shared?.start();
  }

  /** Gives back, everywhere, the places this replica holds (it is shutting down). */
  async stop(): Promise<void> {
    await this.shared?.stop();
  }

  /**
   * Takes `cost` (one request, or a batch's events) from the bucket of `key` in `tenantId`'s `cls`;
   * throws 429 `rate_limited` with Retry-After when it is not there, taking nothing.
   */
  async take(tenantId: string, cls: RateLimitClass, key: string, cost = 1): Promise<void> {
    const limits = this.cached(tenantId) ?? (await this.load(tenantId));
    const now = this.deps.clock.now();
    // The buckets the request takes from: its own, and its tenant's where the class has a tenant-wide one.
    const wide = TENANT_WIDE[cls];
    const takes = [{ cls, key }, ...(wide ? [{ cls: wide, key: tenantId }] : [])].map((t) => ({ ...t, perMinute: limits[t.cls] })).filter((t) => t.perMinute > 0);
    for (const t of takes) {
      // Never fits, however long the caller waits: a 429 would have an automatic retry loop on it.
      if (cost <= t.perMinute) continue;
      this.refused(tenantId, t.cls, t.key);
      throw new AppError(413, 'batch_exceeds_limit', `a batch of ${cost} events is more than the ${t.perMinute} ${REQUEST_LIMIT_COUNTS[t.cls]} allowed a minute: send smaller batches`, { limit: t.cls, perMinute: t.perMinute });
    }
    if (this.shared) {
      const refused = await this.shared.take(takes.map((t) => ({ bucket: `${t.cls}\u0000${t.key}`, perMinute: t.perMinute })), cost, now);
      if (!refused) return;
      const t = takes[refused.index]!;
      this.refused(tenantId, t.cls, t.key);
      throw limited(`too many ${REQUEST_LIMIT_COUNTS[t.cls]}: at most ${t.perMinute} a minute; retry after ${refused.refusal.retryAfterSec} s`, t.cls, t.perMinute, refused.refusal.retryAfterSec);
    }
    // Every bucket is looked at before any is taken from: a refused request takes nothing from either.
    for (const t of takes) {
      const refusal = this.bucketsOf(t.cls).lacks(t.key, t.perMinute, cost, now);
      if (!refusal) continue;
      this.refused(tenantId, t.cls, t.key);
      throw limited(`too many ${REQUEST_LIMIT_COUNTS[t.cls]}: at most ${t.perMinute} a minute; retry after ${refusal.retryAfterSec} s`, t.cls, t.perMinute, refusal.retryAfterSec);
    }
    for (const t of takes) this.bucketsOf(t.cls).take(t.key, t.perMinute, cost, now);
  }

  /**
   * Takes one of `tenantId`'s places of `cls` for as long as the caller holds it (an open stream), or throws
   * 429 `rate_limited` when every place is taken; `key` names the caller in the log. Returns what gives the
   * place back (once, however often it is called).
   */
  async hold(tenantId: string, cls: HeldLimitClass, key: string): Promise<() => void> {
    const atOnce = (this.cached(tenantId) ?? (await this.load(tenantId)))[cls];
    let open = this.open.get(cls);
    if (!open) this.open.set(cls, (open = new Map()));
    // Counted here before it is judged: another stream opening meanwhile on this replica counts it.
    const held = (open.get(tenantId) ?? 0) + 1;
    open.set(tenantId, held);
    const give = () => {
      const left = (open.get(tenantId) ?? 1) - 1;
      if (left > 0) open.set(tenantId, left);
      else open.delete(tenantId);
      return left;
    };
    const fits = this.shared ? await this.shared.hold(placeKey(cls, tenantId), held, atOnce, this.deps.clock.now()) : atOnce === 0 || held <= atOnce;
    if (!fits) {
      give();
      this.refused(tenantId, cls, key);
      throw new AppError(429, 'rate_limited', `too many ${REQUEST_LIMIT_COUNTS[cls]}: at most ${atOnce}; one frees when a stream closes; retry after ${HELD_RETRY_AFTER_SEC} s`, { limit: cls, atOnce }, HELD_RETRY_AFTER_SEC);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = give();
      this.shared?.released(placeKey(cls, tenantId), left);
    };
  }

  /** Every place this replica holds, by its shared count's key. */
  private places(): Map<string, number> {
    const all = new Map<string, number>();
    for (const [cls, byTenant] of this.open) for (const [tenantId, n] of byTenant) all.set(placeKey(cls, tenantId), n);
    return all;
  }

  /** How many places of `cls` the tenant holds on this replica now. */
  held(tenantId: string, cls: HeldLimitClass): number {
    return this.open.get(cls)?.get(tenantId) ?? 0;
  }

  /** The places of `cls` each tenant holds on this replica now (tenants holding none left out). */
  heldByTenant(cls: HeldLimitClass): ReadonlyMap<string, number> {
    return this.open.get(cls) ?? new Map();
  }

  /**
   * Refuses any request from an address that failed authentication too often: credentials from it are not
   * checked. `pbxTenant`: the tenant a PBX request names, whose own bucket at this address is checked too.
   */
  refuseGuesser(ip: string | undefined, pbxTenant?: string): void {
    const perMinute = this.deps.limits.authFailures;
    if (perMinute === 0) return;
    const address = clientAddress(ip);
    const now = this.deps.clock.now();
    const auth = this.bucketsOf('auth');
    const lacks = (bucket: string) => (this.shared ? this.shared.exhausted(`auth\u0000${bucket}`, perMinute, now) : auth.lacks(bucket, perMinute, 1, now));
    const refusal = lacks(address) ?? (pbxTenant === undefined ? undefined : lacks(pbxBucket(address, pbxTenant)));
    if (!refusal) return;
    this.refused('', 'auth', address);
    throw limited(`too many failed authentications from this address (at most ${perMinute} a minute); retry after ${refusal.retryAfterSec} s`, 'auth', perMinute, refusal.retryAfterSec);
  }

  /**
   * Counts a wrong or unknown credential against the address it came from. A wrong signature of a PBX key
   * that exists (`tenantId`) counts for that tenant's PBX keys at the address only: a hosted PBX posts for
   * many tenants from one address, and one tenant's stale secret must not stop the others' events.
   * Resolves once other replicas can see it too (callers need not wait: this replica counts it at once).
   */
  async failedAuth(ip: string | undefined, tenantId?: string): Promise<void> {
    const perMinute = this.deps.limits.authFailures;
    const address = clientAddress(ip);
    if (perMinute === 0) return;
    const bucket = tenantId === undefined ? address : pbxBucket(address, tenantId);
    if (this.shared) await this.shared.failed(`auth\u0000${bucket}`, perMinute, this.deps.clock.now());
    else this.bucketsOf('auth').take(bucket, perMinute, 1, this.deps.clock.now());
  }

  /** The tenant's settings changed or it is gone: read its limits again. */
  forget(tenantId: string): void {
    this.tenants.delete(tenantId);
  }

  /**
   * Refuses a tenant's own value above its ceiling (the operator's value for it, else the deployment's
   * default): raising a limit is for the operator or whoever sets the environment.
   */
  check(own: RequestLimitsOverride | undefined, operator: RequestLimitsOverride | undefined): void {
    const ceilings = ceilingsOf(this.deps.limits, operator);
    const above = aboveCeiling(ceilings, own);
    if (above.length === 0) return;
    const whose = (c: RequestLimitClass) => (operator?.[c] !== undefined ? "the operator's limit for this tenant" : 'REQUEST_LIMIT_* variables');
    throw badRequest(
      'request_limit_above_default',
      `settings.requestLimits may lower a limit, not raise it: ${above.map((c) => `${c} above ${ceilings[c]} (${whose(c)})`).join(', ')}`,
      above.map((c) => ({ path: `settings.requestLimits.${c}`, message: `at most ${ceilings[c]}` })),
    );
  }

  /** The limits that apply to the tenant now, per minute (`openStreams`: at once; 0: none). */
  async limitsOf(tenantId: string): Promise<RequestLimits> {
    return this.cached(tenantId) ?? this.load(tenantId);
  }

  private cached(tenantId: string): RequestLimits | undefined {
    const c = this.tenants.get(tenantId);
    return c && this.deps.clock.now() - c.at < this.deps.cacheMs ? c.limits : undefined;
  }

  private async load(tenantId: string): Promise<RequestLimits> {
    const at = this.deps.clock.now();
    const limits = effectiveLimits(this.deps.limits, await this.deps.override(tenantId));
    this.tenants.set(tenantId, { limits, at });
    return limits;
  }

  private bucketsOf(cls: RateLimitClass | 'auth'): TokenBuckets {
    let b = this.buckets.get(cls);
    if (!b) this.buckets.set(cls, (b = new TokenBuckets()));
    return b;
  }

  /** `caller`: the bucket refused (`<tenant>/<key or device id>`, the tenant, or the client address). */
  private refused(tenant: string, cls: RequestLimitClass | 'auth', caller: string): void {
    this.deps.metrics.requestsLimited.inc({ tenant, class: cls });
    const now = this.deps.clock.now();
    // Guessers are logged per address; a tenant's refusals per class, naming the caller of the moment.
    const key = cls === 'auth' ? `auth\u0000${caller}` : `${tenant}\u0000${cls}`;
    const entry = this.logged.get(key);
    if (entry && now - entry.at < LOG_EVERY_MS) {
      entry.refused++;
      return;
    }
    if (this.logged.size >= LOG_KEYS) this.logged.clear();
    this.logged.set(key, { at: now, refused: 0 });
    const since = entry ? { refusedSinceLastLine: entry.refused + 1 } : {};
    if (cls === 'auth') this.deps.log.warn({ address: caller, ...since }, 'refusing requests from an address that failed authentication too often (logged at most once a minute per address)');
    else this.deps.log.warn({ tenantId: tenant, class: cls, caller, ...since }, 'request limit reached: refusing with 429 (logged at most once a minute per tenant and class)');
  }
}

/** The shared count of what a tenant holds open of a class. */
const placeKey = (cls: HeldLimitClass, tenantId: string) => `${cls}\u0000${tenantId}`;

/** Bucket keys of real tenants only: a claimed one is only looked up, so made-up names cost no memory. */
const pbxBucket = (address: string, tenantId: string) => `${address}\u0000${tenantId}`;

function limited(message: string, cls: RequestLimitClass | 'auth', perMinute: number, retryAfterSec: number): AppError {
  return new AppError(429, 'rate_limited', message, { limit: cls, perMinute }, retryAfterSec);
}
