import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signPbxRequest } from '../../services/api/auth.js';
import { hashToken } from '../../shared/crypto/secrets.js';
import { AVAILABILITIES } from '../../shared/domain/activity.js';
import { COLLECTIONS, type CollectionName } from '../../shared/store/keys.js';
import { ADMIN_KEY, createKeys, NO_REQUEST_LIMITS, OPERATOR_KEY, seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';

/**
 * Every operation of the served OpenAPI document, fed malformed input: wrong JSON types, junk and
 * prototype-pollution keys, out-of-range numbers, dates that are not dates, unknown fields, odd path
 * ids (`/`, `..`, `%00`, over Node's header limit), junk query strings and headers, wrong Content-Type
 * and encodings, and each role's key; the signed PBX batch signed correctly, so its parser is what is
 * exercised; the Graph and Google webhooks with their handshake and headers. The project rule, for
 * every route: never a 5xx; a 4xx says `{ error: { code, message } }` (the browser pages say the code
 * in the page); a request refused with a 4xx leaves every stored record as it was, and an accepted one
 * leaves every presence with a real availability; input that cannot be valid (not an object, not JSON,
 * not sent as JSON, an unknown field, an id no record can have) is refused; and each credential gets
 * exactly the 401 or 403 its key, role or token earns.
 *
 * FUZZ_SEED and FUZZ_RUNS override the fixed seed and the runs per operation; fast-check prints the
 * seed and path of a failure so it can be replayed. FUZZ_REPORT=1 prints the statuses seen per
 * operation; FUZZ_DEBUG=<part of "METHOD /path"> prints each request and answer of those operations.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const BODY_LIMIT = 65_536;
/** Both calendar providers configured, every provider URL on a closed loopback port: junk must never reach one. */
const NOWHERE = 'http://127.0.0.1:9';
const CALENDARS = {
  PUBLIC_BASE_URL: 'https://presence.example.test',
  MICROSOFT_CLIENT_ID: 'ms-client-id',
  MICROSOFT_CLIENT_SECRET: 'ms-client-secret',
  MICROSOFT_LOGIN_BASE_URL: NOWHERE,
  MICROSOFT_GRAPH_BASE_URL: NOWHERE,
  GOOGLE_CLIENT_ID: 'google-client-id.apps.googleusercontent.com',
  GOOGLE_CLIENT_SECRET: 'google-client-secret',
  GOOGLE_API_ROOT_URL: NOWHERE,
  GOOGLE_AUTH_URL: `${NOWHERE}/auth`,
  GOOGLE_TOKEN_URL: `${NOWHERE}/token`,
  GOOGLE_REVOKE_URL: `${NOWHERE}/revoke`,
};

type Schema = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Operation {
  method: string;
  path: string;
  security: string[];
  /** `x-roles`: the key roles the route admits. */
  roles?: string[];
  body?: Schema;
  query: Array<{ name: string; schema: Schema }>;
}
interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Nothing about this request can be valid, so it must be refused. */
  nonsense?: string;
  /** The bearer token sent, if any (a key, the operator key, a device token, or junk). */
  bearer?: string;
  /** A path id holds `/`, `?` or `#`: the request may not reach this operation at all. */
  rerouted?: boolean;
}
interface Answer {
  status: number;
  type: string;
  text: string;
}

// ── values ──

/** A JSON token that JSON.stringify cannot write (1e309, -0, a 30-digit integer): replaced in the text after stringify. */
const RAW = '\u0000raw:';
const raw = (token: string) => `${RAW}${token}`;
const toJson = (v: unknown) => JSON.stringify(v)?.replace(/"\\u0000raw:([^"]*)"/g, '$1') ?? 'undefined';

const isoInstant = fc
  .tuple(fc.date({ min: new Date('2026-03-01T00:00:00Z'), max: new Date('2026-03-09T00:00:00Z'), noInvalidDate: true }), fc.constantFrom('Z', '+02:00', '-05:30'))
  .map(([d, off]) => `${d.toISOString().slice(0, 19)}${off}`);
const notDates = fc.constantFrom('2026-02-30T10:00:00Z', '2026-03-02T24:00:00Z', '2026-03-02T10:00:00', '2026-03-02', 'tomorrow', '0000-00-00T00:00:00Z', '+275760-09-13T00:00:00.001Z', '9999-12-31T23:59:59Z', '1970-01-01T00:00:00Z', 'NaN', 'Invalid Date');
const oddNumbers = fc.constantFrom(raw('1e309'), raw('-1e309'), raw('-0'), raw('1e-400'), raw('123456789012345678901234567890'), raw('0.1e1'), -1, 0, 1.5, 2 ** 53, Number.MAX_SAFE_INTEGER + 2, 'NaN', '-0', '1e309', 'Infinity');
const oddStrings = fc.oneof(
  fc.constantFrom('', ' ', 'null', 'undefined', 'true', '\u0000', '\ud800', '\u202e', '../../etc/passwd', '<script>x</script>', "'; DROP TABLE people; --", '${7*7}', '%00', 'a\nb'),
  fc.string({ maxLength: 12, unit: 'grapheme' }),
  fc.constantFrom(9000, 70_000).map((n) => 'é'.repeat(n)),
);
const pollution = fc.constantFrom<unknown>(
  JSON.parse('{"__proto__":{"polluted":"yes"}}'),
  JSON.parse('{"constructor":{"prototype":{"polluted":"yes"}}}'),
  JSON.parse('{"__proto__":null,"toString":"x","hasOwnProperty":1,"valueOf":{}}'),
);
const junk: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom<unknown>(null, true, false, 0, [], {}),
    oddNumbers,
    oddStrings,
    notDates,
    pollution,
    fc.integer(),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'events', 'value', 'name', '__proto__', 'constructor', 'id'), tie('v'), { maxKeys: 3 }),
  ),
})).v;

/** Values the seeded directory knows, so generated bodies reach past "unknown person" into the handlers. */
const HINTS: Record<string, fc.Arbitrary<unknown>> = {
  personId: fc.constantFrom('alice', 'bob', 'constructor'),
  person: fc.constantFrom('alice', 'bob', 'constructor'),
  group: fc.constantFrom('support'),
  timeZone: fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York'),
  activity: fc.constantFrom('away', 'dnd', 'break', 'in-meeting', 'constructor', 'toString', '__proto__'),
  email: fc.constantFrom('alice@example.test', 'x@example.test'),
  url: fc.constantFrom('https://hooks.example.test/presence', 'http://127.0.0.1/x', 'https://169.254.169.254/latest'),
  baseUrl: fc.constantFrom('https://pbx.example.test:8089', 'http://10.0.0.1:8088'),
  tenant: fc.constantFrom('acme', 'beta'),
};

const future = fc.integer({ min: Date.parse('2026-03-02T09:31:00Z'), max: Date.parse('2026-03-03T09:00:00Z') }).map((t) => new Date(t).toISOString());
/**
 * Hand-made valid bodies where the schema alone rarely yields one (cross-field rules, known activities,
 * instants ahead of the clock), so mutations of them reach the handlers' own checks.
 */
const EXAMPLES: Record<string, fc.Arbitrary<unknown>> = {
  '/v1/people/{personId}/status': fc.record({ activity: fc.constantFrom('away', 'dnd', 'available', 'break', 'lunch', 'in-meeting', 'constructor', 'toString', '__proto__'), until: fc.oneof(future, fc.constantFrom('end-of-current-meeting', 'end-of-working-day')), note: fc.string({ maxLength: 20 }) }, { requiredKeys: ['activity'] }),
  '/v1/people/{personId}/queue-pause': fc.record({ groups: fc.constant(['support']), until: fc.oneof(future, fc.constantFrom('end-of-current-meeting', 'end-of-working-day')), reason: fc.constantFrom('lunch', 'training') }, { requiredKeys: [] }),
  '/v1/route': fc
    .tuple(fc.constantFrom({ group: 'support' }, { person: 'alice' }, { dialled: '2000' }, { dialled: '1001' }), fc.record({ at: fc.oneof(future, fc.constant(Date.parse('2026-03-02T12:00:00Z'))), skills: fc.constantFrom(['fr'], { fr: 2 }, ['constructor']), dryRun: fc.boolean(), caller: fc.constant('+4930123'), callId: fc.constant('c1') }, { requiredKeys: [] }))
    .map(([t, more]) => ({ ...t, ...more })),
  '/v1/groups/{groupId}': fc.record(
    { name: fc.constant('Sales'), kind: fc.constantFrom('hunt', 'queue'), strategy: fc.constantFrom('simultaneous', 'sequential', 'longest-idle', 'round-robin', 'fewest-calls'), members: fc.constantFrom([{ personId: 'alice' }], [{ personId: 'bob', priority: 2, skills: { fr: 3 } }]), requiredSkills: fc.constantFrom(['fr'], { fr: 1 }) },
    { requiredKeys: ['name'] },
  ),
  '/v1/directory/apply': fc.record(
    { tenant: fc.constant('acme'), people: fc.constant([{ id: 'alice', name: 'Alice', extension: '1001', teams: ['support'], devices: [{ id: 'alice-desk', kind: 'desk' }] }]), groups: fc.constant([{ id: 'support', name: 'Support', members: [{ personId: 'alice' }] }]) },
    { requiredKeys: ['tenant'] },
  ),
  '/v1/people/{personId}': fc.record({ name: fc.constant('Alice'), extension: fc.constantFrom('1001', '1004', '1005'), teams: fc.constant(['support']), timeZone: fc.constantFrom('Europe/Berlin', 'UTC'), workingHours: fc.constant({ mon: [['09:00', '17:00']] }), skills: fc.constant({ fr: 3 }) }, { requiredKeys: ['name'] }),
};

/** Values a JSON schema (as the OpenAPI document states it) accepts, mostly. */
function valid(s: Schema, name = '', depth = 0): fc.Arbitrary<unknown> {
  if (HINTS[name] && depth > 0) return fc.oneof({ weight: 3, arbitrary: HINTS[name] }, { weight: 1, arbitrary: validBare(s, depth) });
  return validBare(s, depth);
}
function validBare(s: Schema, depth: number): fc.Arbitrary<unknown> {
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...(s.enum as unknown[]));
  const alts = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (alts) return fc.oneof(...alts.map((a) => valid(a, '', depth)));
  switch (s.type) {
    case 'string':
      if (s.format === 'date-time') return isoInstant;
      if (s.pattern && s.format !== 'email') return fc.stringMatching(new RegExp(s.pattern)).filter((x) => x.length >= (s.minLength ?? 0) && x.length <= (s.maxLength ?? Infinity));
      return fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 16, 16) });
    case 'integer':
    case 'number': {
      const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1000);
      return fc.integer({ min, max: Math.min(s.maximum ?? min + 10_000, Number.MAX_SAFE_INTEGER) });
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      if (s.prefixItems) return fc.tuple(...(s.prefixItems as Schema[]).map((p) => valid(p, '', depth + 1)));
      const min = s.minItems ?? 0;
      return fc.array(valid(s.items ?? {}, '', depth + 1), { minLength: min, maxLength: Math.max(min, Math.min(s.maxItems ?? 3, 3)) });
    }
    case 'object': {
      if (depth > 4) return fc.constant({});
      const props = Object.entries((s.properties ?? {}) as Record<string, Schema>);
      const record = fc.record(Object.fromEntries(props.map(([k, p]) => [k, valid(p, k, depth + 1)])), { requiredKeys: (s.required ?? []) as string[] });
      if (!s.additionalProperties || s.additionalProperties === true) return record;
      const keys = s.propertyNames?.enum ? fc.constantFrom(...(s.propertyNames.enum as string[])) : s.propertyNames?.pattern ? fc.stringMatching(new RegExp(s.propertyNames.pattern)) : fc.string({ minLength: 1, maxLength: 8 });
      return fc.tuple(record, fc.dictionary(keys, valid(s.additionalProperties, '', depth + 1), { maxKeys: 2 })).map(([a, b]) => ({ ...b, ...a }));
    }
    default:
      return junk;
  }
}

/** Every place in a value (the value itself, each object property and array element), as a path. */
function places(v: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  const out = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...places(x, [...at, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...places(x, [...at, k]));
  return out;
}
const EXTRA_KEYS = ['__proto__', 'constructor', 'prototype', 'colour', 'id', 'tenantId', '', ' name', 'NAME'] as const;
type Mutation = { kind: 'replace'; value: unknown } | { kind: 'delete' } | { kind: 'add'; key: string; value: unknown };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: junk.map((value) => ({ kind: 'replace' as const, value })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'delete' as const }) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...EXTRA_KEYS), junk).map(([key, value]) => ({ kind: 'add' as const, key, value })) },
);
/** One change at one place of a valid value: a junk value there, the place removed, or a key added. */
function mutate(v: unknown, pick: number, m: Mutation): unknown {
  const copy = structuredClone(v);
  const all = places(copy);
  const path = all[pick % all.length]!;
  if (path.length === 0) {
    if (m.kind === 'replace') return m.value;
    if (m.kind === 'add' && copy && typeof copy === 'object' && !Array.isArray(copy)) Object.defineProperty(copy, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    return copy;
  }
  const parent = path.slice(0, -1).reduce<any>((o, k) => o[k], copy); // eslint-disable-line @typescript-eslint/no-explicit-any
  const key = path[path.length - 1]!;
  if (m.kind === 'replace') parent[key] = m.value;
  else if (m.kind === 'delete' && Array.isArray(parent)) parent.splice(key as number, 1);
  else if (m.kind === 'delete') delete parent[key];
  else if (parent[key] && typeof parent[key] === 'object' && !Array.isArray(parent[key])) Object.defineProperty(parent[key], m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
  return copy;
}

// ── the hub and what it holds ──

let h: TestHub;
let base: { host: string; port: number };
let pbx: PbxKey;
const keys: Record<string, string> = {};
let spareKeyId = '';
let deviceToken = '';
let connectLink = '';
let adminTicket = '';

const PATH_IDS: Record<string, () => string[]> = {
  personId: () => ['alice', 'bob', 'constructor'],
  deviceId: () => ['alice-desk', 'alice-phone'],
  keyId: () => [spareKeyId],
  tenantId: () => ['beta'],
  teamId: () => ['support'],
  groupId: () => ['support'],
  targetId: () => ['hook'],
  provider: () => ['microsoft', 'google'],
  link: () => [connectLink],
  ticket: () => [adminTicket],
};
/** Path segments as they go on the wire: some percent-encoded, some raw on purpose (`/`, `..`, a lone `%`). */
const oddIds = fc.oneof(
  fc.constantFrom('..', '.', 'a/b', '%2e%2e', '%2F..%2Fkeys', '%00', 'a%00b', '%', '%zz', '%C0%AE', '%E2%80%AE', '__proto__', 'constructor', 'hasOwnProperty', 'ALICE', '-x', '_', 'alice.', 'a'.repeat(64), 'a'.repeat(65), 'x'.repeat(3000), 'x'.repeat(17_000), 'alice%20', '%20alice', 'alice;x=1', 'alice?x', 'alice#x'),
  fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }).map(encodeURIComponent),
);
/** What an id in the path must look like to name anything at all. */
const ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const ID_RULES: Record<string, RegExp> = {
  personId: ID,
  deviceId: ID,
  keyId: ID,
  groupId: ID,
  targetId: ID,
  teamId: ID,
  tenantId: /^[a-z0-9][a-z0-9-]{0,62}$/,
  provider: /^(microsoft|google)$/,
  ticket: /^[A-Za-z0-9_-]{32}$/,
};
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return '%';
  }
}
const QUERY_NAMES = ['team', 'person', 'lastEventId', 'dryRun', 'prune', 'format', 'validationToken', 'state', 'code', 'error', 'tenant', 'admin_consent', 'connected', 'disconnected', '__proto__', 'constructor', 'x[y]', 'a'];
const queryValue = fc.oneof(fc.constantFrom('true', 'false', 'rtjson', 'support', 'alice', '', '1', '-1', 'x'.repeat(3000)), fc.string({ maxLength: 12, unit: 'grapheme' }));
const junkQuery = fc.array(fc.tuple(fc.constantFrom(...QUERY_NAMES), queryValue), { maxLength: 4 }).map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`));

interface Credential {
  headers: Record<string, string>;
  bearer?: string;
}
function credentials(op: Operation): fc.Arbitrary<Credential> {
  const bearer = (k: string): Credential => ({ headers: { Authorization: `Bearer ${k}` }, bearer: k });
  const junkAuth = fc.constantFrom<Credential>(
    { headers: {} },
    { headers: { Authorization: 'Bearer' } },
    { headers: { Authorization: 'Basic YTpi' } },
    { headers: { Authorization: `bearer  ${ADMIN_KEY} extra` } },
    bearer('phk_nope'),
    bearer('x'.repeat(5000)),
  );
  if (op.security.includes('apiKey')) {
    return fc.oneof({ weight: 5, arbitrary: fc.constant(bearer(ADMIN_KEY)) }, { weight: 5, arbitrary: fc.constantFrom(...Object.values(keys)).map(bearer) }, { weight: 1, arbitrary: junkAuth });
  }
  if (op.security.includes('operatorKey')) return fc.oneof({ weight: 3, arbitrary: fc.constant(bearer(OPERATOR_KEY)) }, { weight: 2, arbitrary: fc.constantFrom(ADMIN_KEY, keys.external!).map(bearer) }, { weight: 1, arbitrary: junkAuth });
  if (op.security.includes('deviceToken')) return fc.oneof({ weight: 4, arbitrary: fc.constant(deviceToken).map(bearer) }, { weight: 1, arbitrary: fc.constant(ADMIN_KEY).map(bearer) }, { weight: 1, arbitrary: junkAuth });
  return fc.oneof({ weight: 4, arbitrary: fc.constant({ headers: {} }) }, { weight: 1, arbitrary: junkAuth });
}

/** Failures that happen before any credential is looked at: routing, Node's parser, the body parser. */
const BEFORE_AUTH = new Set(['route_not_found', 'headers_too_large', 'malformed_request', 'bad_request', 'body_too_large', 'invalid_json', 'unsupported_media_type', 'unsupported_encoding']);

/**
 * The status a route must answer for this credential, as the store holds keys and tokens right now:
 * 401 without a valid one, 403 for a valid one of a role (or kind) the route does not admit.
 */
async function refusalFor(op: Operation, token: string | undefined): Promise<number | undefined> {
  const { directory } = h.hub.store;
  if (op.security.includes('apiKey')) {
    if (token === OPERATOR_KEY) return 403;
    const key = token === undefined ? undefined : await directory.findUnique('apiKeys', 'hash', hashToken(token));
    if (!key) return 401;
    return op.roles && !op.roles.includes(key.role) ? 403 : undefined;
  }
  if (op.security.includes('operatorKey')) return token === undefined ? 401 : token === OPERATOR_KEY ? undefined : 403;
  if (op.security.includes('deviceToken')) return token !== undefined && (await directory.findUnique('devices', 'tokenHash', hashToken(token))) ? undefined : 401;
  return undefined;
}

/** A body for the operation's schema: valid, one change away from valid, or no object at all. */
function bodyFor(schema: Schema, example: fc.Arbitrary<unknown> | undefined): fc.Arbitrary<{ text: string; nonsense?: string }> {
  const ok = example ? fc.oneof({ weight: 3, arbitrary: example }, { weight: 1, arbitrary: valid(schema) }) : valid(schema);
  const strict = schema.additionalProperties === false;
  return fc.oneof(
    { weight: 4, arbitrary: ok.map((v) => ({ text: toJson(v) })) },
    { weight: 5, arbitrary: fc.tuple(ok, fc.nat(), mutation).map(([v, n, m]) => ({ text: toJson(mutate(v, n, m)) })) },
    {
      weight: 1,
      arbitrary: fc.tuple(ok, fc.constantFrom('colour', 'isAdmin', 'tenantId')).map(([v, k]) => ({ text: toJson({ ...(v as object), [k]: 'x' }), ...(strict ? { nonsense: 'unknown field on a strict schema' } : {}) })),
    },
    { weight: 2, arbitrary: junk.filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)).map((v) => ({ text: toJson(v), nonsense: 'not an object' })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('{', '{"a":', '[1,', "{'a':1}", 'NaN', '{"a":1}{"b":2}', '\u00ef\u00bb\u00bf{}', '{"a":1,}', '<xml/>').map((text) => ({ text, nonsense: 'not JSON' })),
    },
    { weight: 1, arbitrary: fc.constant({ text: toJson({ pad: 'x'.repeat(BODY_LIMIT + 10) }), nonsense: 'over the body limit' }) },
  );
}

/** Headers some route reads besides credentials and Content-Type: resume ids, the OAuth browser cookie, encodings, proxies. */
const oddHeaderValue = fc.constantFrom('', '%', '%zz', '%E0%A4%A', '=', ';;;', 'x'.repeat(3000), '1-1', '-1', '99999999999999999999-9', 'gzip', '\u00e9');
/** The browser pages read their OAuth flow cookies (ph_oauth_…): they always get some, mostly malformed. */
const cookie = fc.constantFrom('ph_oauth_0123456789abcdef=%zz', 'other=1; ph_oauth_0123456789abcdef=%E0%A4%A', 'ph_oauth_0123456789abcdef=%', 'ph_oauth_0123456789abcdef=', 'ph_oauth_0123456789abcdef=a=b=c', '=x', 'ph_oauth_0123456789abcdef=abc');
const extraHeaders = fc.record(
  {
    'Last-Event-ID': oddHeaderValue,
    Cookie: oddHeaderValue,
    'Content-Encoding': fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'gzip, deflate', 'x-unknown'),
    'X-Forwarded-For': oddHeaderValue,
    Accept: oddHeaderValue,
  },
  { requiredKeys: [] },
);

const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant<string | undefined>('application/json') },
  { weight: 1, arbitrary: fc.constantFrom<string | undefined>(undefined, 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'multipart/form-data; boundary=x') },
);

function signedPbx(text: string, variant: string): Record<string, string> {
  const now = Math.floor(h.clock.now() / 1000);
  const ts = variant === 'stale' ? String(now - 3600) : variant === 'odd-ts' ? `${now}.5` : String(now);
  const sig = signPbxRequest(pbx.secret, ts, text);
  const headers: Record<string, string> = { 'X-Presence-Key-Id': pbx.signingKeyId, 'X-Presence-Timestamp': ts, 'X-Presence-Signature': sig };
  if (variant === 'wrong-sig') headers['X-Presence-Signature'] = `v1=${'0'.repeat(64)}`;
  if (variant === 'several-sigs') headers['X-Presence-Signature'] = `v1=abc  ${sig}`;
  if (variant === 'odd-key') headers['X-Presence-Key-Id'] = 'acme/../x/y';
  if (variant === 'no-headers') return {};
  return headers;
}

/** The request generator for one operation. */
function requests(op: Operation): fc.Arbitrary<Sent> {
  const params = [...op.path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1]!);
  const pathArb = fc.tuple(...params.map((p) => fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...PATH_IDS[p]!()) }, { weight: 1, arbitrary: oddIds }))).map((ids) => {
    let i = 0;
    const path = op.path.replace(/\{[A-Za-z]+\}/g, () => ids[i++]!);
    // A change naming an id that no record can have is refused (`?` and `#` end the path early, so the id is another).
    const impossible = op.method !== 'get' && params.some((p, j) => p !== 'link' && !/[/?#]/.test(ids[j]!) && !ID_RULES[p]!.test(decoded(ids[j]!)));
    // `/`, `?` and `#` end the id early, so the request may reach another route with other rules.
    const rerouted = ids.some((id) => /[/?#]/.test(id));
    return { path, impossible, rerouted };
  });
  const documented = op.query.map((q) =>
    fc.option(fc.oneof({ weight: 3, arbitrary: valid(q.schema).map((v) => String(v)) }, { weight: 1, arbitrary: queryValue }).map((v) => `${q.name}=${encodeURIComponent(v)}`), { nil: undefined }),
  );
  const queryArb = fc.tuple(fc.tuple(...documented), junkQuery, fc.nat(4).map((n) => n === 0)).map(([d, j, dup]) => {
    const parts = [...d.filter((x): x is string => x !== undefined), ...j];
    if (dup && parts[0]) parts.push(parts[0]);
    return parts.length ? `?${parts.join('&')}` : '';
  });
  const special = specialBody(op);
  const bodyArb: fc.Arbitrary<{ text?: string; nonsense?: string; headers?: Record<string, string>; type?: string | undefined; query?: string | undefined }> =
    special ??
    (op.body
      ? fc.tuple(bodyFor(op.body, EXAMPLES[op.path]), contentType).map(([b, type]) => {
          const wrongType = type === undefined || !type.startsWith('application/json') || type.includes('utf-16') || type.includes('latin1');
          return { text: b.text, type, ...(b.nonsense ? { nonsense: b.nonsense } : wrongType ? { nonsense: `sent as ${type ?? 'no type'}` } : {}) };
        })
      : fc.option(fc.tuple(junk, contentType).map(([v, type]) => ({ text: toJson(v), type })), { nil: undefined }).map((b) => b ?? {}));
  const extras = PAGES.test(op.path)
    ? fc.tuple(extraHeaders, cookie).map(([x, Cookie]) => ({ ...x, Cookie }))
    : fc.option(extraHeaders, { nil: undefined, freq: 3 });
  return fc.tuple(pathArb, queryArb, credentials(op), bodyArb, extras).map(([{ path, impossible, rerouted }, query, auth, b, extra]) => {
    const latin1 = Object.fromEntries(Object.entries(extra ?? {}).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('latin1')]));
    const headers: Record<string, string> = { ...latin1, ...auth.headers, ...(b.headers ?? {}) };
    if (b.type) headers['Content-Type'] = b.type;
    const q = [query.slice(1), b.query].filter(Boolean).join('&');
    const sent: Sent = { method: op.method.toUpperCase(), path: q ? `${path}?${q}` : path, headers };
    if (b.text !== undefined) sent.body = b.text;
    if (b.nonsense) sent.nonsense = b.nonsense;
    else if (impossible) sent.nonsense = 'an id no record can have';
    if (auth.bearer !== undefined) sent.bearer = auth.bearer;
    if (rerouted) sent.rerouted = true;
    return sent;
  });
}

/** The routes whose input is not (only) a documented JSON body: the signed PBX batch and the provider webhooks. */
function specialBody(op: Operation) {
  if (op.path === '/v1/pbx/events') {
    const event = fc
      .tuple(
        fc.constantFrom('registered', 'unregistered', 'ringing', 'answered', 'held', 'resumed', 'hangup', 'dnd-on', 'dnd-off'),
        fc.oneof(fc.record({ device: fc.constantFrom('alice-desk', 'alice-phone', 'nope', 'constructor') }), fc.record({ extension: fc.constantFrom('1001', '1002', '99') })),
        fc.oneof(fc.integer({ min: Date.parse('2026-03-02T09:00:00Z'), max: Date.parse('2026-03-02T09:32:00Z') }), isoInstant),
        fc.record(
          {
            callId: fc.string({ minLength: 1, maxLength: 8 }),
            queue: fc.constantFrom('support', 'nope', 'constructor'),
            wrapUpSeconds: fc.integer({ min: 0, max: 3600 }),
            expiresSec: fc.integer({ min: 1, max: 604_800 }),
            contact: fc.constantFrom('sip:alice@192.0.2.10', ''),
          },
          { requiredKeys: [] },
        ),
      )
      .map(([type, target, at, more]) => ({ type, ...target, at, ...more }));
    const batch = fc.oneof(
      { weight: 3, arbitrary: fc.array(event, { minLength: 1, maxLength: 4 }).map((events) => ({ text: toJson({ events }) })) },
      { weight: 4, arbitrary: fc.tuple(fc.array(event, { minLength: 1, maxLength: 3 }), fc.nat(), mutation).map(([events, n, m]) => ({ text: toJson(mutate({ events }, n, m)) })) },
      { weight: 1, arbitrary: junk.filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)).map((v) => ({ text: toJson(v), nonsense: 'not an object' })) },
      { weight: 1, arbitrary: fc.constantFrom('', '{', '\u00ef\u00bb\u00bf{"events":[]}', '{"events":[]}{}').map((text) => ({ text, nonsense: 'not JSON' })) },
    );
    const variant = fc.oneof({ weight: 6, arbitrary: fc.constant('signed') }, { weight: 1, arbitrary: fc.constantFrom('stale', 'odd-ts', 'wrong-sig', 'several-sigs', 'odd-key', 'no-headers') });
    return fc.tuple(batch, variant, contentType).map(([b, v, type]) => ({ ...b, type, headers: signedPbx(b.text, v) }));
  }
  if (op.path.startsWith('/v1/webhooks/microsoft')) {
    const item = fc.record(
      {
        subscriptionId: fc.oneof(fc.constantFrom('sub-1', 'sub-2'), junk),
        clientState: fc.oneof(fc.constantFrom('client-state', 'wrong'), junk),
        changeType: fc.oneof(fc.constant('updated'), junk),
        lifecycleEvent: fc.oneof(fc.constantFrom('reauthorizationRequired', 'subscriptionRemoved', 'missed'), junk),
        resource: fc.oneof(fc.constant('users/x/events/y'), junk),
      },
      { requiredKeys: ['subscriptionId'] },
    );
    const body = fc.oneof(
      { weight: 4, arbitrary: fc.array(fc.oneof(item, junk), { maxLength: 3 }).map((value) => ({ text: toJson({ value }) })) },
      { weight: 2, arbitrary: junk.map((v) => ({ text: toJson(v) })) },
      { weight: 1, arbitrary: fc.constantFrom('', '{', 'validationToken').map((text) => ({ text })) },
    );
    const handshake = fc.option(fc.constantFrom('validationToken=abc%20def', 'validationToken=', 'validationToken=a&validationToken=b', `validationToken=${'x'.repeat(3000)}`, 'validationToken=%3Cscript%3E'), { nil: undefined });
    return fc.tuple(body, contentType, handshake).map(([b, type, q]) => ({ ...b, type, headers: {}, query: q }));
  }
  if (op.path === '/v1/webhooks/google') {
    const header = (name: string, values: fc.Arbitrary<string>) => fc.option(values.map((v) => [name, v] as const), { nil: undefined });
    const odd = fc.constantFrom('', ' ', 'x'.repeat(300), '-1', '1e309', '1.5', 'NaN', '0x10', '\u00e9');
    return fc
      .tuple(
        header('X-Goog-Channel-Id', fc.oneof(fc.constantFrom('chan-1', 'chan-2'), odd)),
        header('X-Goog-Channel-Token', fc.oneof(fc.constantFrom('chan-token', 'wrong'), odd)),
        header('X-Goog-Resource-Id', fc.oneof(fc.constantFrom('res-1', 'res-2'), odd)),
        header('X-Goog-Resource-State', fc.oneof(fc.constantFrom('sync', 'exists', 'not_exists', 'EXISTS'), odd)),
        header('X-Goog-Message-Number', fc.oneof(fc.nat().map(String), odd)),
        fc.option(junk.map(toJson), { nil: undefined }),
      )
      .map(([a, b, c, d, e, text]) => ({
        headers: Object.fromEntries([a, b, c, d, e].filter((x): x is readonly [string, string] => x !== undefined).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('latin1')])),
        ...(text !== undefined ? { text, type: 'application/json' } : {}),
      }));
  }
  return undefined;
}

// ── the wire ──

/** Sends exactly these bytes (no URL normalisation, so `..` and `%00` reach the server as written). */
function send(req: Sent): Promise<Answer> {
  const { path } = req;
  return new Promise((resolve, reject) => {
    const body = req.body === undefined ? undefined : Buffer.from(req.body, 'utf8');
    const r = httpRequest({ ...base, method: req.method, path, headers: { ...req.headers, ...(body ? { 'Content-Length': String(body.length) } : {}) } }, (res) => {
      const type = String(res.headers['content-type'] ?? '');
      // A stream that opened is an answer: read no further.
      if (type.startsWith('text/event-stream')) {
        res.destroy();
        resolve({ status: res.statusCode!, type, text: '' });
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, type, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(body);
  });
}

/** Every stored record the store port can list: directory collections of each tenant, per-person states, routing state. */
async function stored(): Promise<unknown> {
  const { directory, state, routingState } = h.hub.store;
  const tenants = await directory.list('tenants', '*');
  const out: Record<string, unknown> = { tenants };
  for (const t of [...tenants.map((x) => x.id), 'beta']) {
    for (const c of Object.keys(COLLECTIONS) as CollectionName[]) if (c !== 'tenants') out[`${t}/${c}`] = await directory.list(c, t);
  }
  for (const k of (await state.keys()).sort((a, b) => `${a.tenantId}/${a.personId}`.localeCompare(`${b.tenantId}/${b.personId}`))) {
    out[`state ${k.tenantId}/${k.personId}`] = await state.read(k.tenantId, k.personId);
  }
  out.routing = { group: await routingState.readGroup('acme', 'support'), agents: [...(await routingState.readAgents('acme', ['alice', 'bob', 'constructor']))] };
  return out;
}

const errorCode = (res: Answer): string | undefined => (res.type.startsWith('application/json') && res.status >= 400 ? (JSON.parse(res.text) as { error?: { code?: string } }).error?.code : undefined);

const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

/** Whatever was accepted, every stored presence still says one of the availabilities. */
async function checkStates(): Promise<void> {
  const { state } = h.hub.store;
  for (const k of await state.keys()) {
    const { presence } = await state.read(k.tenantId, k.personId);
    if (presence) expect(AVAILABILITIES, `${k.tenantId}/${k.personId} stored ${JSON.stringify(presence).slice(0, 300)}`).toContain(presence.availability);
  }
}
const PAGES = /^\/(connect|oauth)\//;

function checkAnswer(req: Sent, res: Answer): void {
  const what = `${req.method} ${req.path.slice(0, 200)} answered ${res.status}: ${res.text.slice(0, 300)}`;
  expect(res.status, what).toBeGreaterThanOrEqual(200);
  expect(res.status, what).toBeLessThan(500);
  if (req.nonsense) expect(res.status, `${what} (nonsense: ${req.nonsense})`).toBeGreaterThanOrEqual(400);
  if (res.status < 400) return;
  if (PAGES.test(req.path) && res.type.startsWith('text/html')) {
    // A person's browser gets a page, with the code in it for support.
    expect(/data-error-code="([^"]+)"/.exec(res.text)?.[1], what).toMatch(SNAKE);
    return;
  }
  expect(res.type, what).toMatch(/^application\/json/);
  const err = (JSON.parse(res.text) as { error?: { code?: unknown; message?: unknown } }).error;
  expect(err?.code, what).toMatch(SNAKE);
  expect(typeof err?.message === 'string' && err.message.length > 0, what).toBe(true);
}

// ── the runs ──

/** Runs that take away what later operations need (people, keys, tokens, tenants) go last. */
function order(op: Operation): number {
  if (op.path === '/v1/heartbeat') return 0;
  if (op.method === 'delete' && op.path === '/v1/tenants/{tenantId}') return 4;
  if (op.method === 'delete' || op.path.endsWith('/token')) return 3;
  if ((op.method === 'put' && /^\/v1\/(people\/\{personId\}(\/devices\/\{deviceId\})?|tenant)$/.test(op.path)) || op.path === '/v1/directory/apply') return 2;
  return 1;
}

describe('every route, fed malformed input, answers a clear 4xx and loses nothing stored', () => {
  let ops: Operation[] = [];

  beforeAll(async () => {
    h = await startTestHub({
      // Thousands of requests at one instant, many with junk credentials: request limits off, so each
      // answer is the route's own (request-limits.test.ts covers the limits).
      env: { ...CALENDARS, BODY_LIMIT_BYTES: String(BODY_LIMIT), ...NO_REQUEST_LIMITS },
      resolve: async (host) => (host.endsWith('.example.test') ? [{ address: '93.184.215.14', family: 4 }] : []),
    });
    const url = new URL(await h.listen());
    base = { host: url.hostname, port: Number(url.port) };
    pbx = await seedAlice(h);
    await h.put('/v1/people/bob', { name: 'Bob', extension: '1002', teams: ['support'] }).expect(201);
    deviceToken = (await h.put('/v1/people/alice/devices/alice-phone', { kind: 'mobile' }).expect(201)).body.token;
    // `constructor` is a valid id that every plain object also inherits: it stands for every such name.
    await h.put('/v1/people/constructor', { name: 'Con', extension: '1003', teams: ['support'], skills: { constructor: 1 } }).expect(201);
    await h.put('/v1/groups/support', { name: 'Support', kind: 'queue', extension: '2000', strategy: 'round-robin', members: [{ personId: 'constructor' }, { personId: 'alice' }, { personId: 'bob' }] }).expect(201);
    await h.put('/v1/people/alice/queue-pause', { groups: ['support'], reason: 'lunch' }).expect(200);
    await h.put('/v1/targets/hook', { kind: 'webhook', name: 'hook', url: 'https://hooks.example.test/presence', enabled: false }).expect(201);
    await h.put('/v1/people/alice/status', { activity: 'away', until: '2026-03-02T11:00:00Z' }).expect(200);
    keys.admin = ADMIN_KEY;
    Object.assign(keys, await createKeys(h));
    spareKeyId = (await h.post('/v1/keys', { name: 'spare', role: 'external' }).expect(201)).body.id;
    keys.beta = (await h.post('/v1/tenants', { id: 'beta', name: 'Beta' }, OPERATOR_KEY).expect(201)).body.adminKey.secret;
    keys.operator = OPERATOR_KEY;
    // A Graph subscription and a Google channel, as a consent would have stored them.
    const sub = { tenantId: 'acme', connectionId: 'conn-1', personId: 'alice', kind: 'events' as const, expiresAt: Date.parse('2026-03-05T00:00:00Z'), createdAt: h.clock.now() };
    await h.hub.store.directory.write([
      { op: 'put', collection: 'calendarSubscriptions', doc: { ...sub, id: 'ms-1', provider: 'microsoft', externalId: 'microsoft:sub-1', secretHash: hashToken('client-state') } },
      { op: 'put', collection: 'calendarSubscriptions', doc: { ...sub, id: 'g-1', provider: 'google', externalId: 'google:chan-1', resourceId: 'res-1', secretHash: hashToken('chan-token') } },
    ]);
    connectLink = h.hub.calendars.links.issue('acme', 'alice').token;
    adminTicket = (await h.hub.calendars.adminConsentFlow.issue('acme')).ticket;
    const doc = (await h.http.get('/openapi.json').expect(200)).body as { paths: Record<string, Record<string, Schema>> };
    ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, o]) => ({
        method,
        path,
        security: ((o.security ?? []) as Array<Record<string, unknown>>).flatMap((s) => Object.keys(s)),
        ...(o['x-roles'] ? { roles: o['x-roles'] as string[] } : {}),
        ...(o.requestBody ? { body: o.requestBody.content['application/json'].schema as Schema } : {}),
        query: ((o.parameters ?? []) as Array<{ in: string; name: string; schema: Schema }>).filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema })),
      })),
    );
    ops.sort((a, b) => order(a) - order(b));
  });
  afterAll(() => h?.stop());

  it('covers every operation of the OpenAPI document', () => {
    expect(ops.length).toBeGreaterThanOrEqual(60);
  });

  it('never answers 5xx, explains every 4xx, refuses nonsense, and a refusal changes nothing stored', async () => {
    const seen: Record<string, Record<number, number>> = {};
    for (const [i, op] of ops.entries()) {
      const name = `${op.method.toUpperCase()} ${op.path}`;
      seen[name] = {};
      await fc.assert(
        fc.asyncProperty(requests(op), async (req) => {
          const before = await stored();
          const refusal = req.rerouted ? undefined : await refusalFor(op, req.bearer);
          const res = await send(req);
          seen[name]![res.status] = (seen[name]![res.status] ?? 0) + 1;
          if (process.env.FUZZ_DEBUG && name.includes(process.env.FUZZ_DEBUG)) console.log(req.method, req.path.slice(0, 120), JSON.stringify(req.headers).slice(0, 200), req.body?.slice(0, 300), '=>', res.status, res.text.slice(0, 300));
          checkAnswer(req, res);
          if (refusal !== undefined && !BEFORE_AUTH.has(errorCode(res) ?? '')) expect(res.status, `${req.method} ${req.path.slice(0, 200)} with that credential: ${res.text.slice(0, 200)}`).toBe(refusal);
          if (res.status >= 400) expect(await stored(), `${name} refused with ${res.status} yet changed the store`).toEqual(before);
          else await checkStates();
        }),
        { seed: SEED + i, numRuns: RUNS, endOnFailure: true },
      );
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    if (process.env.FUZZ_REPORT) console.log(JSON.stringify(seen, null, 1));
  }, 300_000);
});
