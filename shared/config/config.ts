import { z } from 'zod';
import type { RequestLimits } from '../domain/request-limits.js';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');
/**
 * How many reverse proxies stand in front, each appending the address it saw to X-Forwarded-For: `true`
 * is one. Never Express's `true` (the left-most entry), which the client writes itself.
 */
const proxyHops = z
  .string()
  .default('false')
  .refine((v) => /^(true|false|yes|no|\d)$/.test(v), 'true, false or the number of proxies in front (0-9)')
  .transform((v) => (v === 'true' || v === 'yes' ? 1 : v === 'false' || v === 'no' ? 0 : Number(v)));
const optionalString = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema.optional());
/** A base URL without its trailing slash (national clouds and local stand-ins replace the defaults). */
const httpUrl = (def: string) =>
  z
    .url({ protocol: /^https?$/ })
    .default(def)
    .transform((u) => u.replace(/\/+$/, ''));

/**
 * Every environment variable the service reads, with units in the names. Parsed once at start-up; the
 * typed result is passed down. Nothing else reads `process.env`. The README lists each variable.
 */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: int(8080, 0).pipe(z.number().max(65535)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().default('./data'),
  SQLITE_PATH: optionalString(z.string()),
  REDIS_URL: optionalString(z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')),
  REDIS_PREFIX: z.string().default('ph:'),
  BOOTSTRAP_TENANT: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/)
    .default('default'),
  BOOTSTRAP_ADMIN_KEY: optionalString(z.string().min(24, 'use at least 24 characters')),
  OPERATOR_KEY: optionalString(z.string().min(24, 'use at least 24 characters')),
  ENCRYPTION_KEY: optionalString(
    z.string().refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded'),
  ),
  HEARTBEAT_TTL_MS: int(90_000, 1000),
  HEARTBEAT_BACKGROUND_TTL_MS: int(15 * 60_000, 1000),
  PBX_REPLAY_WINDOW_MS: int(5 * 60_000, 1000),
  BODY_LIMIT_BYTES: int(1024 * 1024, 1024),
  PBX_MAX_EVENTS: int(1000, 1),
  PBX_REGISTRATION_AFTER_RESTART_MS: int(60 * 60_000),
  FEED_BUFFER_EVENTS: int(10_000, 10),
  SSE_KEEPALIVE_MS: int(15_000, 1000),
  SSE_MAX_BUFFERED_BYTES: int(4 * 1024 * 1024, 64 * 1024),
  TRUST_PROXY: proxyHops,
  SHUTDOWN_GRACE_MS: int(10_000, 0),
  PUBLISH_COALESCE_MS: int(1000, 0),
  PUBLISH_RETRY_BASE_MS: int(1000, 10),
  PUBLISH_RETRY_CAP_MS: int(60_000, 100),
  PUBLISH_TIMEOUT_MS: int(5000, 100),
  PUBLISH_FAILING_AFTER: int(3, 1),
  PUBLISH_LEASE_MS: int(10_000, 1000),
  /** Whether a tenant may opt into push targets on private networks (settings.allowPrivateTargets); off for a hosted service whose private network is its own. */
  PRIVATE_TARGETS: bool(true),
  SIP_HOST: z.string().default('0.0.0.0'),
  SIP_PORT: int(5062, 0).pipe(z.number().max(65535)),
  SIP_ADVERTISE_HOST: optionalString(z.string()),
  // ── calendars ──
  PUBLIC_BASE_URL: optionalString(z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ''))),
  MICROSOFT_CLIENT_ID: optionalString(z.string()),
  MICROSOFT_CLIENT_SECRET: optionalString(z.string()),
  MICROSOFT_AUTHORITY_TENANT: z.string().regex(/^[A-Za-z0-9.-]+$/).default('organizations'),
  MICROSOFT_LOGIN_BASE_URL: httpUrl('https://login.microsoftonline.com'),
  MICROSOFT_GRAPH_BASE_URL: httpUrl('https://graph.microsoft.com'),
  MICROSOFT_TEAMS_PRESENCE: bool(false),
  GOOGLE_CLIENT_ID: optionalString(z.string()),
  GOOGLE_CLIENT_SECRET: optionalString(z.string()),
  GOOGLE_API_ROOT_URL: httpUrl('https://www.googleapis.com'),
  GOOGLE_AUTH_URL: httpUrl('https://accounts.google.com/o/oauth2/v2/auth'),
  GOOGLE_TOKEN_URL: httpUrl('https://oauth2.googleapis.com/token'),
  GOOGLE_REVOKE_URL: httpUrl('https://oauth2.googleapis.com/revoke'),
  CONNECT_LINK_SECRET: optionalString(z.string().min(32, 'use at least 32 characters')),
  CONNECT_LINK_TTL_MS: int(7 * 24 * 3600_000, 60_000),
  CALENDAR_WINDOW_DAYS: int(14, 1).pipe(z.number().max(60)),
  CALENDAR_RECONCILE_INTERVAL_MS: int(3600_000, 60_000),
  OAUTH_REFRESH_AHEAD_MS: int(5 * 60_000, 0),
  PROVIDER_TIMEOUT_MS: int(10_000, 100),
  // ── request limits, per replica and per minute; 0 turns a limit off ──
  REQUEST_LIMIT_API_PER_MIN: int(3000),
  REQUEST_LIMIT_TENANT_API_PER_MIN: int(30_000),
  REQUEST_LIMIT_PBX_EVENTS_PER_MIN: int(120_000),
  REQUEST_LIMIT_HEARTBEATS_PER_MIN: int(30),
  REQUEST_LIMIT_STREAMS_PER_MIN: int(60),
  // Streams a tenant holds open at once, per replica: far above one dashboard per supervisor's tab, so
  // only a client that never closes what it opens (or a tenant that needs a raise) reaches it.
  REQUEST_LIMIT_OPEN_STREAMS: int(2000),
  REQUEST_LIMIT_AUTH_FAILURES_PER_MIN: int(30),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  env: Env['NODE_ENV'];
  host: string;
  port: number;
  logLevel: Env['LOG_LEVEL'];
  dataDir: string;
  sqlitePath: string;
  redis?: { url: string; prefix: string };
  bootstrap: { tenant: string; adminKey?: string };
  operatorKey?: string;
  /** 32-byte key for secrets at rest; absent means the service derives a development key file. */
  encryptionKey?: Buffer;
  heartbeat: { foregroundTtlMs: number; backgroundTtlMs: number };
  /** `registrationAfterRestartMs`: how long the embedded store believes a kept registration without `expiresSec` after a restart. */
  pbx: { replayWindowMs: number; maxEvents: number; registrationAfterRestartMs: number };
  /** `trustProxy`: how many X-Forwarded-For entries, from the right, are proxies' (0: none). */
  http: { bodyLimitBytes: number; trustProxy: number };
  /** `maxBufferedBytes`: what a stream client may leave unread before it is cut off (it resumes by id). */
  feed: { bufferEvents: number; keepaliveMs: number; maxBufferedBytes: number };
  shutdownGraceMs: number;
  /** `leaseMs`: with several replicas, how long a dead replica's targets wait before another takes them over. */
  publish: { coalesceMs: number; retryBaseMs: number; retryCapMs: number; timeoutMs: number; failingAfter: number; leaseMs: number; privateTargets: boolean };
  /** Where the SIP user agent (PUBLISH, dialog SUBSCRIBE/NOTIFY) listens, UDP and TCP on one port. */
  sip: { host: string; port: number; advertise?: string };
  calendars: CalendarConfig;
  /** Per replica, per minute, 0 = off: the tenant classes (a tenant may lower them) and failed authentications per client address. */
  requestLimits: RequestLimits & { authFailures: number };
}

export interface OAuthAppConfig {
  clientId: string;
  clientSecret: string;
}

/** Calendar connectors. A provider is enabled when its client id and secret and `publicBaseUrl` are set. */
export interface CalendarConfig {
  /** Where providers and browsers reach this service: webhooks, OAuth redirect URIs, connect links. */
  publicBaseUrl?: string;
  microsoft?: OAuthAppConfig & { authorityTenant: string; loginBaseUrl: string; graphBaseUrl: string; teamsPresence: boolean };
  google?: OAuthAppConfig & { apiRootUrl: string; authUrl: string; tokenUrl: string; revokeUrl: string };
  /** Signs connect links; absent means a key derived from ENCRYPTION_KEY. */
  connectLinkSecret?: string;
  connectLinkTtlMs: number;
  windowDays: number;
  reconcileIntervalMs: number;
  refreshAheadMs: number;
  timeoutMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; every bad variable is reported at once. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const config: Config = {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    dataDir: e.DATA_DIR,
    sqlitePath: e.SQLITE_PATH ?? `${e.DATA_DIR}/presence-hub.sqlite`,
    bootstrap: { tenant: e.BOOTSTRAP_TENANT },
    heartbeat: { foregroundTtlMs: e.HEARTBEAT_TTL_MS, backgroundTtlMs: e.HEARTBEAT_BACKGROUND_TTL_MS },
    pbx: { replayWindowMs: e.PBX_REPLAY_WINDOW_MS, maxEvents: e.PBX_MAX_EVENTS, registrationAfterRestartMs: e.PBX_REGISTRATION_AFTER_RESTART_MS },
    http: { bodyLimitBytes: e.BODY_LIMIT_BYTES, trustProxy: e.TRUST_PROXY },
    feed: { bufferEvents: e.FEED_BUFFER_EVENTS, keepaliveMs: e.SSE_KEEPALIVE_MS, maxBufferedBytes: e.SSE_MAX_BUFFERED_BYTES },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    publish: {
      coalesceMs: e.PUBLISH_COALESCE_MS,
      retryBaseMs: e.PUBLISH_RETRY_BASE_MS,
      retryCapMs: e.PUBLISH_RETRY_CAP_MS,
      timeoutMs: e.PUBLISH_TIMEOUT_MS,
      failingAfter: e.PUBLISH_FAILING_AFTER,
      leaseMs: e.PUBLISH_LEASE_MS,
      privateTargets: e.PRIVATE_TARGETS,
    },
    sip: { host: e.SIP_HOST, port: e.SIP_PORT },
    calendars: {
      connectLinkTtlMs: e.CONNECT_LINK_TTL_MS,
      windowDays: e.CALENDAR_WINDOW_DAYS,
      reconcileIntervalMs: e.CALENDAR_RECONCILE_INTERVAL_MS,
      refreshAheadMs: e.OAUTH_REFRESH_AHEAD_MS,
      timeoutMs: e.PROVIDER_TIMEOUT_MS,
    },
    requestLimits: {
      api: e.REQUEST_LIMIT_API_PER_MIN,
      tenantApi: e.REQUEST_LIMIT_TENANT_API_PER_MIN,
      pbxEvents: e.REQUEST_LIMIT_PBX_EVENTS_PER_MIN,
      heartbeats: e.REQUEST_LIMIT_HEARTBEATS_PER_MIN,
      streams: e.REQUEST_LIMIT_STREAMS_PER_MIN,
      openStreams: e.REQUEST_LIMIT_OPEN_STREAMS,
      authFailures: e.REQUEST_LIMIT_AUTH_FAILURES_PER_MIN,
    },
  };
  if (e.SIP_ADVERTISE_HOST) config.sip.advertise = e.SIP_ADVERTISE_HOST;
  const problems: string[] = [];
  const cal = config.calendars;
  if (e.PUBLIC_BASE_URL) cal.publicBaseUrl = e.PUBLIC_BASE_URL;
  if (e.CONNECT_LINK_SECRET) cal.connectLinkSecret = e.CONNECT_LINK_SECRET;
  if (Boolean(e.MICROSOFT_CLIENT_ID) !== Boolean(e.MICROSOFT_CLIENT_SECRET)) problems.push('MICROSOFT_CLIENT_ID, MICROSOFT_CLIENT_SECRET: set both or neither');
  if (e.MICROSOFT_CLIENT_ID && e.MICROSOFT_CLIENT_SECRET) {
    cal.microsoft = {
      clientId: e.MICROSOFT_CLIENT_ID,
      clientSecret: e.MICROSOFT_CLIENT_SECRET,
      authorityTenant: e.MICROSOFT_AUTHORITY_TENANT,
      loginBaseUrl: e.MICROSOFT_LOGIN_BASE_URL,
      graphBaseUrl: e.MICROSOFT_GRAPH_BASE_URL,
      teamsPresence: e.MICROSOFT_TEAMS_PRESENCE,
    };
  }
  if (Boolean(e.GOOGLE_CLIENT_ID) !== Boolean(e.GOOGLE_CLIENT_SECRET)) problems.push('GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET: set both or neither');
  if (e.GOOGLE_CLIENT_ID && e.GOOGLE_CLIENT_SECRET) {
    cal.google = {
      clientId: e.GOOGLE_CLIENT_ID,
      clientSecret: e.GOOGLE_CLIENT_SECRET,
      apiRootUrl: e.GOOGLE_API_ROOT_URL,
      authUrl: e.GOOGLE_AUTH_URL,
      tokenUrl: e.GOOGLE_TOKEN_URL,
      revokeUrl: e.GOOGLE_REVOKE_URL,
    };
  }
  if ((cal.microsoft || cal.google) && !cal.publicBaseUrl) problems.push('PUBLIC_BASE_URL: required when a calendar provider is configured (webhooks and redirect URIs)');
  // Graph and Google only deliver to HTTPS endpoints; plain http is for loopback development and tests.
  if (e.NODE_ENV === 'production' && cal.publicBaseUrl && !cal.publicBaseUrl.startsWith('https://')) problems.push('PUBLIC_BASE_URL: must be https:// in production');
  if (e.NODE_ENV === 'production' && !e.ENCRYPTION_KEY) problems.push('ENCRYPTION_KEY: required when NODE_ENV=production');
  if (problems.length > 0) throw new ConfigError(problems);
  if (e.REDIS_URL) config.redis = { url: e.REDIS_URL, prefix: e.REDIS_PREFIX };
  if (e.BOOTSTRAP_ADMIN_KEY) config.bootstrap.adminKey = e.BOOTSTRAP_ADMIN_KEY;
  if (e.OPERATOR_KEY) config.operatorKey = e.OPERATOR_KEY;
  if (e.ENCRYPTION_KEY) config.encryptionKey = Buffer.from(e.ENCRYPTION_KEY, 'base64');
  return config;
}
