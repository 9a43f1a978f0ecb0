import { z } from 'zod';
import { REQUEST_LIMIT_COUNTS } from '../../shared/domain/request-limits.js';
import { limitOf, type AnyRoute, type AuthMode } from './route.js';

const SECURITY: Record<AuthMode, Array<Record<string, string[]>>> = {
  none: [],
  key: [{ apiKey: [] }],
  operator: [{ operatorKey: [] }],
  device: [{ deviceToken: [] }],
  pbx: [{ pbxKeyId: [], pbxTimestamp: [], pbxSignature: [] }],
};

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
    },
  },
};

/** Where a 429 can come from: the route's request limit, and an address that failed authentication too often. */
function limitedDescription(r: AnyRoute): string | undefined {
  if (r.auth === 'none') return undefined;
  const limit = limitOf(r);
  const own = r.responses[429] ?? ([limit, r.holds].flatMap((c) => (c ? [`too many ${REQUEST_LIMIT_COUNTS[c]}`] : [])).join('; or ') || undefined);
  return `${own ? `${own}; or ` : ''}too many failed authentications from this address (rate_limited; retry after Retry-After seconds)`;
}

function jsonSchema(schema: z.ZodType): unknown {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

/** The OpenAPI 3.1 document, generated from the same route list the app is built from. */
export function buildOpenApi(routes: readonly AnyRoute[], version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters: unknown[] = [...r.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    if (r.query instanceof z.ZodObject) {
      for (const [name, s] of Object.entries(r.query.shape as Record<string, z.ZodType>)) {
        parameters.push({ name, in: 'query', required: !s.safeParse(undefined).success, schema: jsonSchema(s) });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, description] of Object.entries(r.responses)) {
      responses[status] = Number(status) >= 400 ? { description, content: { 'application/json': { schema: errorSchema } } } : { description };
    }
    const limited = limitedDescription(r);
    if (limited) {
      responses['429'] = { description: limited, headers: { 'Retry-After': { description: r.holds ? 'seconds until the request fits a rate limit; for the limit of streams open at once, when to look again (a place frees only when a stream closes)' : 'seconds until the request fits the limit', schema: { type: 'integer' } } }, content: { 'application/json': { schema: errorSchema } } };
    }
    responses['4XX'] ??= { description: 'bad input', content: { 'application/json': { schema: errorSchema } } };
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      security: SECURITY[r.auth],
      responses,
    };
    if (r.roles) op['x-roles'] = r.roles;
    if (parameters.length > 0) op.parameters = parameters;
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(r.body) } } };
    paths[path] ??= {};
    paths[path][r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Presence Hub', version, description: 'Merged presence for phone systems: who can take a call, and why.' },
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'An API key of the tenant (phk_…)' },
        operatorKey: { type: 'http', scheme: 'bearer', description: 'The OPERATOR_KEY from the environment' },
        deviceToken: { type: 'http', scheme: 'bearer', description: "A mobile device's own token (phd_…)" },
        pbxKeyId: { type: 'apiKey', in: 'header', name: 'X-Presence-Key-Id', description: '<tenant>/<pbx key id>' },
        pbxTimestamp: { type: 'apiKey', in: 'header', name: 'X-Presence-Timestamp', description: 'Unix seconds' },
        pbxSignature: { type: 'apiKey', in: 'header', name: 'X-Presence-Signature', description: 'v1=<hex HMAC-SHA256 of "<timestamp>.<body>">' },
      },
    },
  };
}
