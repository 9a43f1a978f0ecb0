/**
 * A failure the HTTP layer turns into `{ "error": { "code", "message" } }` with `status`.
 * `code` is machine-readable and stable; `message` is for humans.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly retryAfterSec?: number,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (code: string, message: string, details?: unknown) => new AppError(400, code, message, details);
export const unauthorized = (code: string, message: string) => new AppError(401, code, message);
export const forbidden = (code: string, message: string) => new AppError(403, code, message);
export const notFound = (what: string, id?: string) =>
  new AppError(404, `${what}_not_found`, id === undefined ? `${what} not found` : `${what} ${id} not found`);
export const conflict = (code: string, message: string) => new AppError(409, code, message);
export const unprocessable = (code: string, message: string, details?: unknown) => new AppError(422, code, message, details);
export const unavailable = (code: string, message: string, retryAfterSec = 5) =>
  new AppError(503, code, message, undefined, retryAfterSec);

/**
 * A secret that is unknown or does not match (an API key, device token, PBX signature, connect link, OAuth
 * state): what someone guessing sees, counted per client address (`RequestLimiter.failedAuth`);
 * `tenantId` when it named a PBX key that exists (its signature is what was wrong).
 */
export class WrongCredentials extends AppError {
  constructor(code: string, message: string, status = 401, readonly tenantId?: string) {
    super(status, code, message);
  }
}

/** A store write that would break a unique lookup (an extension or SIP URI used twice). */
export class UniqueViolation extends AppError {
  constructor(
    readonly collection: string,
    readonly index: string,
    readonly value: string,
  ) {
    super(409, `${index}_taken`, `${collection}.${index} ${value} is already in use`);
  }
}

/**
 * A conditional store write refused: a document it needed was gone (`exists: true`) or one it must not
 * find was there (`exists: false`). Nothing of the batch was written; callers say what it means.
 */
export class WriteRefused extends AppError {
  constructor(readonly condition: { collection: string; tenantId: string; id: string; exists: boolean }) {
    super(409, 'write_refused', `${condition.collection} ${condition.id} ${condition.exists ? 'is gone' : 'exists'}`);
  }
}
