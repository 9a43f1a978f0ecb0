// The calendar API alone: loading all of `googleapis` takes most of a second and every API there is.
import { calendar, type calendar_v3 } from 'googleapis/build/src/apis/calendar/index.js';
import type { Clock } from '../../../shared/clock/clock.js';
import { ProviderError, RateLimitedError, SyncStateGoneError, answerError } from '../../calendars/errors.js';
import { sleep } from '../../../shared/clock/sleep.js';
import { backoffMs, retryAfterMs } from '../../calendars/retry.js';

export interface GoogleAuth {
  token(): Promise<string>;
  rejected(token: string): Promise<string>;
}

export interface CalendarClientDeps {
  apiRootUrl: string;
  timeoutMs: number;
  clock: Clock;
  random: () => number;
}

const MAX_ATTEMPTS = 5;
/** `403 quotaExceeded` / daily limits: a short backoff does not help (protocols §2.5). */
const QUOTA_BACKOFF_MS = 15 * 60_000;
const RATE_LIMIT_REASONS = new Set(['ratelimitexceeded', 'userratelimitexceeded']);
const QUOTA_REASONS = new Set(['quotaexceeded', 'dailylimitexceeded', 'usagelimits']);

interface GaxiosLike {
  status?: number;
  code?: string | number;
  response?: { status?: number; data?: unknown; headers?: unknown };
  message?: string;
}

function header(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const rec = headers as Record<string, string | undefined>;
  return rec[name] ?? rec[name.toLowerCase()];
}

/** The `reason` of the first error (`err.response.data.error.errors[0].reason`, protocols §2.6). */
function reasonOf(data: unknown): string {
  const e = (data as { error?: { errors?: Array<{ reason?: string }>; status?: string } } | undefined)?.error;
  return e?.errors?.[0]?.reason ?? e?.status ?? '';
}

/** Google's own words for the error (`err.response.data.error.message`). */
function messageOf(data: unknown): string | undefined {
  const m = (data as { error?: { message?: unknown } } | undefined)?.error?.message;
  return typeof m === 'string' ? m : undefined;
}

/**
 * Google Calendar v3 through `googleapis` (root URL configurable), with our own retries on the injected
 * clock instead of gaxios' real-timer ones: 401 → refresh and retry once; 403 `rateLimitExceeded` /
 * `userRateLimitExceeded` and 429 → truncated exponential backoff with jitter (or `Retry-After`);
 * `quotaExceeded` → a long wait; 5xx → backoff; 410 → `SyncStateGoneError`.
 */
export class GoogleCalendarClient {
  readonly api: calendar_v3.Calendar;

  constructor(private readonly deps: CalendarClientDeps) {
    this.api = calendar({ version: 'v3', rootUrl: `${deps.apiRootUrl}/`, retry: false, timeout: deps.timeoutMs });
  }

  classify(raw: unknown): Error {
    const err = raw as GaxiosLike;
    const status = err?.response?.status ?? (typeof err?.status === 'number' ? err.status : 0);
    if (!status) return new ProviderError('google', 0, 'network_error', `Google unreachable: ${err?.message ?? String(raw)}`, true);
    const reason = reasonOf(err.response?.data);
    const r = reason.toLowerCase();
    if (status === 410) return new SyncStateGoneError('google', status, reason || 'gone');
    const wait = retryAfterMs(header(err.response?.headers, 'retry-after'), this.deps.clock.now());
    if (status === 429 || (status === 403 && RATE_LIMIT_REASONS.has(r))) return new RateLimitedError('google', status, reason || 'rateLimitExceeded', wait ?? -1, wait !== undefined);
    if (status === 403 && QUOTA_REASONS.has(r)) return new RateLimitedError('google', status, reason, wait ?? QUOTA_BACKOFF_MS, wait !== undefined);
    return answerError('google', status, reason || `http_${status}`, 'Google', messageOf(err.response?.data));
  }

  /** One Calendar API call with the retries described above. */
  async call<T>(auth: GoogleAuth, fn: (headers: { Authorization: string }) => Promise<{ data: T }>): Promise<T> {
    let token = await auth.token();
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      try {
        return (await fn({ Authorization: `Bearer ${token}` })).data;
      } catch (raw) {
        const err = this.classify(raw);
        if (err instanceof ProviderError && err.status === 401 && !refreshed) {
          token = await auth.rejected(token);
          refreshed = true;
          continue;
        }
        const retryable = err instanceof ProviderError && err.transient && !(err instanceof SyncStateGoneError);
        if (retryable && attempt + 1 < MAX_ATTEMPTS) {
          const wait = err instanceof RateLimitedError && err.retryAfterMs >= 0 ? err.retryAfterMs : backoffMs(attempt, this.deps.random);
          await sleep(this.deps.clock, wait);
          continue;
        }
        if (err instanceof RateLimitedError && err.retryAfterMs < 0) throw new RateLimitedError('google', err.status, err.code, backoffMs(attempt, this.deps.random), false);
        throw err;
      }
    }
  }
}
