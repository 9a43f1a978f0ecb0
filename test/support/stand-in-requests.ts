import type { Request } from 'express';

/** One request a provider stand-in received: enough to tell call kinds apart (a delta with or without a token, a refresh). */
export interface StandInRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** `grant_type` of a token request. */
  grant?: string;
}

export function recordOf(req: Request): StandInRequest {
  const query = Object.fromEntries(Object.entries(req.query).map(([k, v]) => [k, String(v)]));
  const grant = (req.body as Record<string, unknown> | undefined)?.grant_type;
  return { method: req.method, path: req.path, query, ...(typeof grant === 'string' ? { grant } : {}) };
}
