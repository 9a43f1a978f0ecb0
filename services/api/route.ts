import type { Request, Response } from 'express';
import type { z } from 'zod';
import type { Role } from '../../shared/domain/directory.js';
import type { HeldLimitClass, RateLimitClass } from '../../shared/domain/request-limits.js';
import type { Principal } from './auth.js';

/**
 * How a route authenticates: an API key (`Authorization: Bearer phk_…`), the operator key, a mobile
 * device's own token, a PBX's HMAC signature, or nothing (health, metrics, OpenAPI).
 */
export type AuthMode = 'none' | 'key' | 'operator' | 'device' | 'pbx';

export interface RouteContext<B, Q> {
  req: Request;
  res: Response;
  principal: Principal;
  body: B;
  query: Q;
  params: Record<string, string>;
}

export interface Reply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One HTTP route, declared once: the express app and the OpenAPI document are both built from it. */
export interface Route<B = unknown, Q = unknown> {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;
  summary: string;
  tag: string;
  auth: AuthMode;
  roles?: readonly Role[];
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  /** The body reaches the handler as raw bytes (signature checks need them unparsed). */
  raw?: boolean;
  responses: Record<number, string>;
  /** For the OpenAPI document: the JSON body answered, by status (a failure's is the error envelope unless named here). */
  returns?: Partial<Record<number, z.ZodType>>;
  /** For the OpenAPI document: an answer that is not JSON (a page, a script, metrics), its media type by status, or one for every answer with a body. */
  produces?: string | Partial<Record<number, string>>;
  /** For the OpenAPI document: a success that is not JSON (the event stream), with the schemas of its events. */
  streams?: { mediaType: string; events: readonly z.ZodType[] };
  /**
   * The request limit a call counts against when not its credential's own (`api` per key, `heartbeats`
   * per device); PBX batches count their events in the handler, once their size is known.
   */
  limit?: RateLimitClass;
  /** A limit of what is open at once: the call holds one of its tenant's places until its response closes. */
  holds?: HeldLimitClass;
  /** Returns a reply, or nothing when it wrote the response itself (streams). */
  handle(ctx: RouteContext<B, Q>): Promise<Reply | undefined>;
}

/** The per-request limit of a route, if any: its own, or the one of the credential it takes. */
export function limitOf(r: Route<any, any>): RateLimitClass | undefined { // eslint-disable-line @typescript-eslint/no-explicit-any
  return r.limit ?? (r.auth === 'key' ? 'api' : r.auth === 'device' ? 'heartbeats' : undefined);
}

export function route<B = undefined, Q = undefined>(r: Route<B, Q>): Route<B, Q> {
  return r;
}

/** Route lists mix body types; the app treats them uniformly. */
export type AnyRoute = Route<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
