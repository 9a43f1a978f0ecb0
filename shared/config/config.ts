import { z } from 'zod';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');
const optionalString = (schema: z.ZodString) =>
  z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

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
  FEED_BUFFER_EVENTS: int(10_000, 10),
  SSE_KEEPALIVE_MS: int(15_000, 1000),
  TRUST_PROXY: bool(false),
  SHUTDOWN_GRACE_MS: int(10_000, 0),
  PUBLISH_COALESCE_MS: int(1000, 0),
  PUBLISH_RETRY_BASE_MS: int(1000, 10),
  PUBLISH_RETRY_CAP_MS: int(60_000, 100),
  PUBLISH_TIMEOUT_MS: int(5000, 100),
  PUBLISH_FAILING_AFTER: int(3, 1),
  SIP_HOST: z.string().default('0.0.0.0'),
  SIP_PORT: int(5062, 0).pipe(z.number().max(65535)),
  SIP_ADVERTISE_HOST: optionalString(z.string()),
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
  pbx: { replayWindowMs: number; maxEvents: number };
  http: { bodyLimitBytes: number; trustProxy: boolean };
  feed: { bufferEvents: number; keepaliveMs: number };
  shutdownGraceMs: number;
  publish: { coalesceMs: number; retryBaseMs: number; retryCapMs: number; timeoutMs: number; failingAfter: number };
  /** Where the SIP user agent (PUBLISH, dialog SUBSCRIBE/NOTIFY) listens, UDP and TCP on one port. */
  sip: { host: string; port: number; advertise?: string };
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
    pbx: { replayWindowMs: e.PBX_REPLAY_WINDOW_MS, maxEvents: e.PBX_MAX_EVENTS },
    http: { bodyLimitBytes: e.BODY_LIMIT_BYTES, trustProxy: e.TRUST_PROXY },
    feed: { bufferEvents: e.FEED_BUFFER_EVENTS, keepaliveMs: e.SSE_KEEPALIVE_MS },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    publish: {
      coalesceMs: e.PUBLISH_COALESCE_MS,
      retryBaseMs: e.PUBLISH_RETRY_BASE_MS,
      retryCapMs: e.PUBLISH_RETRY_CAP_MS,
      timeoutMs: e.PUBLISH_TIMEOUT_MS,
      failingAfter: e.PUBLISH_FAILING_AFTER,
    },
    sip: { host: e.SIP_HOST, port: e.SIP_PORT },
  };
  if (e.SIP_ADVERTISE_HOST) config.sip.advertise = e.SIP_ADVERTISE_HOST;
  if (e.REDIS_URL) config.redis = { url: e.REDIS_URL, prefix: e.REDIS_PREFIX };
  if (e.BOOTSTRAP_ADMIN_KEY) config.bootstrap.adminKey = e.BOOTSTRAP_ADMIN_KEY;
  if (e.OPERATOR_KEY) config.operatorKey = e.OPERATOR_KEY;
  if (e.ENCRYPTION_KEY) config.encryptionKey = Buffer.from(e.ENCRYPTION_KEY, 'base64');
  if (e.NODE_ENV === 'production' && !config.encryptionKey) {
    throw new ConfigError(['ENCRYPTION_KEY: required when NODE_ENV=production']);
  }
  return config;
}
