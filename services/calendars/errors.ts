import type { BrokenReason, CalendarProvider } from '../../shared/domain/calendar.js';

/**
 * Few, small errors that say whether a retry can help, decided once, where a provider's answer is
 * read: `transient` ones (429 and 503 with `Retry-After`, other 5xx, the network) are retried with
 * backoff or after `retryAfterMs`; a 410 or `syncStateNotFound` is a full sync, not a failure; and
 * the answers no retry can change carry `broken`, the reason the connection is broken until someone
 * consents again (see `brokenBy`).
 */
export class ProviderError extends Error {
  constructor(
    readonly provider: CalendarProvider,
    readonly status: number,
    readonly code: string,
    message: string,
    readonly transient: boolean,
    readonly broken?: BrokenReason,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

/**
 * What an API answer's status (never the token endpoint's: an app secret that expired is the
 * operator's to fix, not each person's) says about the connection: 401 even with a token just
 * refreshed, or 403 (the grant lacks the permission; an admin or an application access policy denies
 * the mailbox), is `access_denied`; 404 (a deleted user, a mailbox or calendar that does not exist) is
 * `not_found`. Retrying either hourly for ever helps nobody.
 */
export function brokenBy(status: number): BrokenReason | undefined {
  if (status === 401 || status === 403) return 'access_denied';
  return status === 404 ? 'not_found' : undefined;
}

/**
 * Any other 4xx (mostly 400): the provider refuses the request as we make it, usually our bug or a
 * change on its side. Retried like the rest, but a connection whose reads are refused for
 * `REJECTED_FOR_MS` is broken with reason `rejected` (see `ConnectionWork.recording`), so the broken
 * connections census and its alert show it instead of hourly retries nobody sees.
 */
export class RejectedError extends ProviderError {
  constructor(provider: CalendarProvider, status: number, code: string, message: string) {
    super(provider, status, code, message, false);
    this.name = 'RejectedError';
  }
}

/** A day of rejections with no good read between: no longer a blip, and long enough to fix a provider change. */
export const REJECTED_FOR_MS = 24 * 3600_000;
/** The provider's own explanation of a rejection, shown as the connection's last error, kept short. */
const PROVIDER_MESSAGE_MAX = 200;

/**
 * Our error for an API answer that is neither throttling nor a lost sync state: 5xx (and no answer)
 * transient, 401/403/404 breaking (`brokenBy`), any other 4xx a `RejectedError` carrying the
 * provider's message (error messages carry no tokens).
 */
export function answerError(provider: CalendarProvider, status: number, code: string, label: string, providerMessage?: string): ProviderError {
  const message = `${label} answered ${status} ${code}`;
  const broken = brokenBy(status);
  if (status >= 400 && status < 500 && !broken) {
    const said = providerMessage?.trim().slice(0, PROVIDER_MESSAGE_MAX);
    return new RejectedError(provider, status, code, said ? `${message}: ${said}` : message);
  }
  return new ProviderError(provider, status, code, message, status >= 500 || status === 0, broken);
}

/** An answer no retry can change (see `brokenBy`). */
export const refusedForGood = (err: unknown): err is ProviderError & { broken: BrokenReason } => err instanceof ProviderError && err.broken !== undefined;

/** 429, 503, or Google's 403 rateLimitExceeded: wait `retryAfterMs` (the provider's `Retry-After` when it sent one). */
export class RateLimitedError extends ProviderError {
  constructor(provider: CalendarProvider, status: number, code: string, readonly retryAfterMs: number, readonly fromHeader: boolean) {
    super(provider, status, code, `${provider} throttled the request (${status} ${code}); retry in ${retryAfterMs} ms`, true);
    this.name = 'RateLimitedError';
  }
}

/** The refresh token is dead (`invalid_grant`, revoked consent): only the person (or admin) consenting again helps. */
export class InvalidGrantError extends ProviderError {
  constructor(provider: CalendarProvider, code: string, message: string) {
    super(provider, 400, code, message, false);
    this.name = 'InvalidGrantError';
  }
}

/** The sync token or delta link is no longer valid (410, `syncStateNotFound`): run a full sync. */
export class SyncStateGoneError extends ProviderError {
  constructor(provider: CalendarProvider, status: number, code: string) {
    super(provider, status, code, `${provider} sync state is gone (${status} ${code}); a full sync follows`, true);
    this.name = 'SyncStateGoneError';
  }
}

/** Work for a connection that is broken or gone: stop, nothing to retry. */
export class ConnectionUnavailableError extends Error {
  constructor(readonly connectionId: string, readonly state: 'broken' | 'gone') {
    super(`calendar connection ${connectionId} is ${state}`);
    this.name = 'ConnectionUnavailableError';
  }
}
