import type { CalendarProvider } from '../../shared/domain/calendar.js';

/**
 * Few, small errors that say whether a retry can help. A job runner retries `transient` ones with
 * backoff, waits `retryAfterMs` for throttling, and stops for good on a broken grant.
 */
export class ProviderError extends Error {
  constructor(
    readonly provider: CalendarProvider,
    readonly status: number,
    readonly code: string,
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

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
