import { z } from 'zod';
import { REQUEST_LIMIT_COUNTS } from '../../shared/domain/request-limits.js';
import { limitOf, type AnyRoute, type AuthMode } from './route.js';
import { webhookRemovedSchema, webhookUpdatedSchema } from './view-schema.js';

const SECURITY: Record<AuthMode, Array<Record<string, string[]>>> = {
  none: [],
  key: [{ apiKey: [] }],
  operator: [{ operatorKey: [] }],
  device: [{ deviceToken: [] }],
  pbx: [{ pbxKeyId: [], pbxTimestamp: [], pbxSignature: [] }],
};

/** `{ error: { code, message, details? } }`, every failure's answer (`http-errors.ts`). */
const envelope = (code: Record<string, unknown>) => ({
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string', ...code }, message: { type: 'string', description: 'for people' }, details: { description: 'more on what was wrong, where there is more to say (invalid_body: `[{ path, message }]`)' } },
    },
  },
});

/** Codes any route of its kind may answer, whatever its own descriptions say (`app.ts`, `auth.ts`). */
function commonCodes(r: AnyRoute, status: number | '4XX'): string[] {
  const byStatus: Record<number, string[]> = {
    400: ['invalid_body', 'invalid_json', 'invalid_query', 'invalid_id'],
    401: { none: [], key: ['missing_credentials', 'invalid_credentials'], operator: ['missing_credentials', 'invalid_credentials'], device: ['missing_credentials', 'invalid_credentials', 'invalid_device_token'], pbx: ['missing_signature', 'invalid_credentials', 'invalid_signature', 'stale_timestamp'] }[r.auth],
    403: { none: [], key: ['forbidden_role', 'forbidden_principal', 'not_your_person', 'tenant_required'], operator: ['operator_only'], device: [], pbx: [] }[r.auth],
    413: ['body_too_large'],
    415: ['unsupported_media_type', 'unsupported_encoding'],
  };
  return status === '4XX' ? Object.values(byStatus).flat() : (byStatus[status] ?? []);
}

/**
 * The error answer of one status: the codes its description names (`tenant_not_found`, …) and those of
 * every route of its kind, as examples rather than an enum, so a client meeting a code added later still
 * reads the envelope. Its pages aside, a route answers every failure so.
 */
function errorContent(description: string, common: string[]): unknown {
  const codes = [...new Set([...(description.match(/\b[a-z][A-Za-z]*(?:_[a-z][A-Za-z]*)+\b/g) ?? []), ...common])];
  return { 'application/json': { schema: codes.length === 0 ? { $ref: '#/components/schemas/Error' } : envelope({ description: 'machine-readable and stable', examples: codes }) } };
}

/** Where a 429 can come from: the route's request limit, and an address that failed authentication too often. */
function limitedDescription(r: AnyRoute): string | undefined {
  if (r.auth === 'none') return undefined;
  const limit = limitOf(r);
  const own = r.responses[429] ?? ([limit, r.holds].flatMap((c) => (c ? [`too many ${REQUEST_LIMIT_COUNTS[c]}`] : [])).join('; or ') || undefined);
  return `${own ? `${own}; or ` : ''}too many failed authentications from this address (rate_limited; retry after Retry-After seconds)`;
}

/**
 * A body as JSON Schema. A request body is read as input: an object there stays open unless declared
 * strict. A response is read as output (a field with a default is always answered) and every object of
 * it stays open, since fields are only ever added. A schema with a `meta` id goes to `components.schemas`
 * once and is referred to, so a generated client has one type for it.
 */
function jsonSchema(schema: z.ZodType, components: Record<string, unknown>, io: 'input' | 'output' = 'input'): unknown {
  const json = JSON.stringify(z.toJSONSchema(schema, { io, unrepresentable: 'any' })).replaceAll('"#/$defs/', '"#/components/schemas/');
  const open = (key: string, value: unknown) => (io === 'output' && key === 'additionalProperties' && value === false ? undefined : value);
  const { $schema: _s, $defs, ...rest } = JSON.parse(json, open) as Record<string, unknown>;
  Object.assign(components, $defs);
  return rest;
}

/** The signed deliveries of webhook targets (OpenAPI 3.1 `webhooks`): what a receiver is sent. */
function webhooks(components: Record<string, unknown>): unknown {
  const header = (name: string, description: string) => ({ name, in: 'header', required: true, description, schema: { type: 'string' } });
  return {
    presence: {
      post: {
        summary: 'A person\'s new state (presence.updated) or their removal (presence.removed), POSTed to a webhook target\'s URL',
        description:
          'Verify before parsing: HMAC-SHA256 keyed with the base64-decoded part of the secret after `whsec_`, over `<webhook-id>.<webhook-timestamp>.<raw body>`, base64, compared with each `v1,` entry of `webhook-signature`; refuse a timestamp more than 5 minutes from your clock. Deduplicate by `webhook-id`, and per person drop a version lower than the one you hold.',
        parameters: [
          header('webhook-id', '`msg_<tenant>_<person>_<version>`, the same for a retry of the same delivery; a re-rendering of the same version (a directory edit, an edited target) ends in `_r<ms>`, a withdrawal from the target\'s scope in `_w<ms>`'),
          header('webhook-timestamp', 'unix seconds of this attempt'),
          header('webhook-signature', 'space-separated `v1,<base64 signature>`, one per secret that signs (two or more for 24 hours after a rotation)'),
        ],
        requestBody: { required: true, content: { 'application/json': { schema: { oneOf: [jsonSchema(webhookUpdatedSchema, components), jsonSchema(webhookRemovedSchema, components)] } } } },
        responses: { '2XX': { description: 'taken; anything else (or no answer within PUBLISH_TIMEOUT_MS) is retried with backoff, with the newest state; a redirect is never followed nor retried' } },
      },
    },
  };
}

/** The OpenAPI 3.1 document, generated from the same route list the app is built from. */
export function buildOpenApi(routes: readonly AnyRoute[], version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  const schemas: Record<string, unknown> = { Error: envelope({ description: 'machine-readable and stable' }) };
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
        parameters.push({ name, in: 'query', required: !s.safeParse(undefined).success, schema: jsonSchema(s, schemas) });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, description] of Object.entries(r.responses)) {
      const returned = r.returns?.[Number(status)];
      const media = typeof r.produces === 'string' ? (Number(status) >= 300 && Number(status) < 400 ? undefined : r.produces) : r.produces?.[Number(status)];
      if (media) responses[status] = { description, content: { [media]: { schema: { type: 'string' } } } };
      else if (returned) responses[status] = { description, content: { 'application/json': { schema: jsonSchema(returned, schemas, 'output') } } };
      else if (Number(status) >= 400) responses[status] = { description, content: errorContent(description, commonCodes(r, Number(status))) };
      else if (r.streams && Number(status) === 200) {
        for (const e of r.streams.events) jsonSchema(e, schemas);
        const events = r.streams.events.map((e) => z.globalRegistry.get(e)?.id).join(', ');
        responses[status] = { description, content: { [r.streams.mediaType]: { schema: { type: 'string', description: `each event's data is JSON: ${events} (components.schemas)` } } } };
      } else if (Number(status) >= 300) responses[status] = { description, headers: { Location: { description: 'where to go', schema: { type: 'string' } } } };
      else responses[status] = { description };
    }
    const limited = limitedDescription(r);
    if (limited) {
      responses['429'] = { description: limited, headers: { 'Retry-After': { description: r.holds ? 'seconds until the request fits a rate limit; for the limit of streams open at once, when to look again (a place frees only when a stream closes)' : 'seconds until the request fits the limit', schema: { type: 'integer' } } }, content: errorContent(limited, []) };
    }
    responses['4XX'] ??= { description: r.auth === 'none' ? 'bad input' : 'bad input, or credentials not accepted', content: errorContent('', commonCodes(r, '4XX')) };
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      security: SECURITY[r.auth],
      responses,
    };
    if (r.roles) op['x-roles'] = r.roles;
    if (parameters.length > 0) op.parameters = parameters;
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(r.body, schemas) } } };
    paths[path] ??= {};
    paths[path][r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Presence Hub', version, description: 'Merged presence for phone systems: who can take a call, and why.' },
    paths,
    webhooks: webhooks(schemas),
    components: {
      schemas,
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
