import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { idSchema } from '../../shared/domain/directory.js';
import { AppError, badRequest } from '../../shared/errors/errors.js';

export function zodDetails(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

/** The id in the path of a PUT that creates a record: one that could never exist is bad input, not an unknown record. */
export function recordId(raw: string | undefined, what: string): string {
  const parsed = idSchema.safeParse(raw);
  if (!parsed.success) throw badRequest('invalid_id', `${raw ?? ''} is not a valid ${what} id`, zodDetails(parsed.error).map((d) => ({ ...d, path: `${what}Id` })));
  return parsed.data;
}

interface BodyParserError extends Error {
  type?: string;
  status?: number;
}

/** Turns every failure into `{ "error": { "code", "message", "details"? } }` with a fitting status. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    let e: AppError;
    const bp = err as BodyParserError;
    if (err instanceof AppError) e = err;
    else if (bp?.type === 'entity.too.large') e = new AppError(413, 'body_too_large', 'the request body is too large');
    else if (bp?.type === 'entity.parse.failed') e = new AppError(400, 'invalid_json', 'the body is not valid JSON');
    else if (bp?.type === 'encoding.unsupported' || bp?.type === 'charset.unsupported') e = new AppError(415, 'unsupported_encoding', bp.message);
    else if (typeof bp?.status === 'number' && bp.status >= 400 && bp.status < 500) e = new AppError(bp.status, 'bad_request', bp.message);
    else {
      log.error({ err, method: req.method, url: req.originalUrl }, 'request failed');
      e = new AppError(500, 'internal_error', 'something went wrong; it has been logged');
    }
    // A stream that already began cannot turn into an error document: end it, and the client resumes.
    if (res.headersSent) {
      res.end();
      return;
    }
    if (e.retryAfterSec !== undefined) res.setHeader('Retry-After', String(e.retryAfterSec));
    const body: { code: string; message: string; details?: unknown } = { code: e.code, message: e.message };
    if (e.details !== undefined) body.details = e.details;
    res.status(e.status).json({ error: body });
  };
}
