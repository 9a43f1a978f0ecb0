import express, { type RequestHandler } from 'express';
import { AppError, badRequest, WrongCredentials } from '../../shared/errors/errors.js';
import type { Hub } from '../hub.js';
import { authenticate, claimedPbxTenant, type Principal } from './auth.js';
import { errorHandler, zodDetails } from './http-errors.js';
import { limitOf, type AnyRoute } from './route.js';

function requireJson(): RequestHandler {
  return (req, _res, next) => {
    const length = Number(req.headers['content-length'] ?? 0);
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if ((length > 0 || chunked) && !req.is('application/json')) {
      next(new AppError(415, 'unsupported_media_type', 'send the body as application/json'));
      return;
    }
    next();
  };
}

/** Builds the express app from the route list: parse, authenticate, validate, handle, answer. */
export function buildApp(hub: Hub, routes: readonly AnyRoute[]): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // A hop count: the client is the address the outermost trusted proxy saw, not what the client put first.
  app.set('trust proxy', hub.config.http.trustProxy);
  app.set('query parser', 'simple');
  // Error bodies quote what the client sent (a path, a URL): never let a browser read them as anything but JSON.
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // A safe point: transitions already due run before this request's work (timeline.ts `runDue`).
    hub.engine.timeline.runDue();
    next();
  });
  const limit = hub.config.http.bodyLimitBytes;
  // Any JSON text parses (RFC 8259 allows a bare number or null), so a body of the wrong shape gets
  // invalid_body from the schema rather than invalid_json.
  const json = express.json({ limit, strict: false });
  const raw = express.raw({ limit, type: () => true });

  /** Whose bucket a request of a limited route takes from: its key, or its device. */
  const bucketOf = (p: Principal): { tenantId: string; key: string } | undefined =>
    p.kind === 'key' ? { tenantId: p.tenantId, key: `${p.tenantId}/${p.keyId}` } : p.kind === 'device' ? { tenantId: p.tenantId, key: `${p.tenantId}/${p.deviceId}` } : undefined;

  for (const r of routes) {
    const parsers: RequestHandler[] = r.raw ? [raw] : r.body ? [requireJson(), json] : [];
    const requestLimit = limitOf(r);
    app[r.method](r.path, ...parsers, async (req, res, next) => {
      try {
        // An address that guessed too often is refused before its credential is checked, right or wrong.
        if (r.auth !== 'none') hub.limits.refuseGuesser(req.ip, r.auth === 'pbx' ? claimedPbxTenant(req) : undefined);
        const principal = await authenticate(hub, req, r.auth, r.roles).catch((err: unknown) => {
          if (err instanceof WrongCredentials) void hub.limits.failedAuth(req.ip, err.tenantId);
          throw err;
        });
        const bucket = bucketOf(principal);
        if (r.holds && bucket) {
          // Given back however the response ends: answered, refused below, client gone, cut off, shut down.
          const release = await hub.limits.hold(bucket.tenantId, r.holds, bucket.key);
          if (res.closed) release();
          else res.once('close', release);
        }
        if (requestLimit && bucket) await hub.limits.take(bucket.tenantId, requestLimit, bucket.key);
        let body: unknown;
        if (r.body && !r.raw) {
          const parsed = r.body.safeParse(req.body === undefined ? {} : req.body);
          if (!parsed.success) throw badRequest('invalid_body', 'the body does not match the schema', zodDetails(parsed.error));
          body = parsed.data;
        }
        let query: unknown;
        if (r.query) {
          const parsed = r.query.safeParse(req.query);
          if (!parsed.success) throw badRequest('invalid_query', 'the query does not match the schema', zodDetails(parsed.error));
          query = parsed.data;
        }
        const reply = await r.handle({ req, res, principal, body, query, params: req.params as Record<string, string> });
        hub.metrics.httpRequests.inc({ route: `${r.method.toUpperCase()} ${r.path}`, status: String(reply?.status ?? 200) });
        if (!reply) return;
        for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
        if (reply.status === 204) res.status(204).end();
        else res.status(reply.status ?? 200).json(reply.body);
      } catch (err) {
        hub.metrics.httpRequests.inc({ route: `${r.method.toUpperCase()} ${r.path}`, status: String(err instanceof AppError ? err.status : 500) });
        next(err);
      }
    });
  }
  app.use((req, _res, next) => next(new AppError(404, 'route_not_found', `no route ${req.method} ${req.path}`)));
  app.use(errorHandler(hub.log));
  return app;
}
