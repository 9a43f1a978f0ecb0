/** RFC 3261 §7.3.3 compact forms, plus the event-package ones (RFC 6665 `o`, `u`). */
const COMPACT: Readonly<Record<string, string>> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event',
  u: 'allow-events',
  r: 'refer-to',
  b: 'referred-by',
  x: 'session-expires',
};

const SPECIAL_CASE: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'sip-etag': 'SIP-ETag',
  'sip-if-match': 'SIP-If-Match',
  'mime-version': 'MIME-Version',
};

/** Headers whose values are comma-separated lists (RFC 3261 §7.3.1), so one line may hold several. */
const LIST_HEADERS: ReadonlySet<string> = new Set([
  'via',
  'route',
  'record-route',
  'contact',
  'allow',
  'allow-events',
  'supported',
  'require',
  'proxy-require',
  'unsupported',
  'accept',
]);

/** The lower-case long name a header is stored and looked up by. */
function longKey(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.length === 1 ? (COMPACT[lower] ?? lower) : lower;
}

interface HeaderName {
  key: string;
  display: string;
}

/** Key and canonical name per name as written: every request and answer uses the same dozen names. */
const NAMES = new Map<string, HeaderName>();

function headerName(name: string): HeaderName {
  let known = NAMES.get(name);
  if (known === undefined) {
    const key = longKey(name);
    known = { key, display: displayName(key) };
    // Bounded: names from the wire are cached only while the map is small.
    if (NAMES.size < 256) NAMES.set(name, known);
  }
  return known;
}

const headerKey = (name: string): string => headerName(name).key;

/** Canonical names by key, computed once: serializing runs this for every header of every message. */
const DISPLAY_NAMES = new Map<string, string>(Object.entries(SPECIAL_CASE));

function displayName(key: string): string {
  let name = DISPLAY_NAMES.get(key);
  if (name === undefined) {
    name = key.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
    // Bounded: names from the wire are cached only while the map is small.
    if (DISPLAY_NAMES.size < 256) DISPLAY_NAMES.set(key, name);
  }
  return name;
}

/** Splits on commas outside quoted strings and angle brackets; with `first`, stops at the first non-empty part. */
function splitList(value: string, parts: string[], first = false): void {
  let start = 0;
  let quoted = false;
  let angle = false;
  for (let i = 0; i <= value.length; i++) {
    const ch = value[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '<') angle = true;
    else if (ch === '>') angle = false;
    else if (ch === undefined || (ch === ',' && !angle)) {
      const part = value.slice(start, i).trim();
      start = i + 1;
      if (part.length > 0) {
        parts.push(part);
        if (first) return;
      }
    }
  }
  // A quote left open runs to the end: the rest is one part.
  if (start <= value.length && quoted) {
    const part = value.slice(start).trim();
    if (part.length > 0) parts.push(part);
  }
}

interface Field {
  key: string;
  /** The canonical name (`Call-ID`), written on the wire. */
  name: string;
  value: string;
}

/** Ordered header fields with case-insensitive names; compact names are expanded on the way in. */
export class SipHeaders {
  private readonly fields: Field[] = [];

  constructor(entries: Iterable<readonly [string, string]> = []) {
    for (const [name, value] of entries) this.append(name, value);
  }

  append(name: string, value: string): this {
    const { key, display } = headerName(name);
    this.fields.push({ key, name: display, value: value.trim() });
    return this;
  }

  /** Replaces every field of this name by one, where the first was (else at the end). */
  set(name: string, value: string): this {
    const { key, display } = headerName(name);
    const field = { key, name: display, value: value.trim() };
    const fields = this.fields;
    let at = -1;
    for (let i = fields.length - 1; i >= 0; i--) {
      if (fields[i]!.key !== key) continue;
      if (at >= 0) fields.splice(at, 1);
      at = i;
    }
    if (at < 0) fields.push(field);
    else fields[at] = field;
    return this;
  }

  delete(name: string): this {
    const key = headerKey(name);
    for (let i = this.fields.length - 1; i >= 0; i--) if (this.fields[i]?.key === key) this.fields.splice(i, 1);
    return this;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** The first field's value. */
  get(name: string): string | undefined {
    const key = headerKey(name);
    for (const f of this.fields) if (f.key === key) return f.value;
    return undefined;
  }

  /** Every value in order; list headers are also split at commas, so `Via: a, b` gives two values. */
  getAll(name: string): string[] {
    const key = headerKey(name);
    const list = LIST_HEADERS.has(key);
    const values: string[] = [];
    for (const f of this.fields) {
      if (f.key !== key) continue;
      if (list) splitList(f.value, values);
      else values.push(f.value);
    }
    return values;
  }

  /** `getAll(name)[0]` without splitting the rest (the top Via of every response). */
  first(name: string): string | undefined {
    const key = headerKey(name);
    if (!LIST_HEADERS.has(key)) return this.get(key);
    let values: string[] | undefined;
    for (const f of this.fields) {
      if (f.key !== key) continue;
      // Without a comma the field is one value (the usual top Via), as splitList would find.
      if (!f.value.includes(',')) {
        if (f.value.length > 0) return f.value;
        continue;
      }
      values ??= [];
      splitList(f.value, values, true);
      if (values.length > 0) return values[0];
    }
    return undefined;
  }

  /** Fields in order, with canonical names (`Call-ID`, `CSeq`, `SIP-ETag`). */
  entries(): Array<[string, string]> {
    return this.fields.map((f) => [f.name, f.value]);
  }

  /** Bytes of `wireLines()`, without building it. */
  wireLength(): number {
    let n = 0;
    for (const f of this.fields) if (f.key !== 'content-length') n += f.name.length + Buffer.byteLength(f.value) + 4;
    return n;
  }

  /** `Name: value` CRLF for every field but Content-Length (written from the body). */
  wireLines(): string {
    let text = '';
    for (const f of this.fields) if (f.key !== 'content-length') text = text + f.name + ': ' + f.value + '\r\n';
    return text;
  }
}

export interface SipRequest {
  readonly kind: 'request';
  method: string;
  uri: string;
  headers: SipHeaders;
  body: string;
}

export interface SipResponse {
  readonly kind: 'response';
  status: number;
  reason: string;
  headers: SipHeaders;
  body: string;
}

export type SipMessage = SipRequest | SipResponse;

export function createRequest(
  method: string,
  uri: string,
  headers: Iterable<readonly [string, string]>,
  body = '',
): SipRequest {
  return { kind: 'request', method, uri, headers: new SipHeaders(headers), body };
}

const REASONS: Readonly<Record<number, string>> = {
  100: 'Trying',
  200: 'OK',
  202: 'Accepted',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  412: 'Conditional Request Failed',
  423: 'Interval Too Brief',
  481: 'Call/Transaction Does Not Exist',
  489: 'Bad Event',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/**
 * A response that copies Via, From, To, Call-ID and CSeq from the request (RFC 3261 §8.2.6.2);
 * `toTag` is added to To when the request had none and the response is not a 100.
 */
export function responseTo(request: SipRequest, status: number, toTag?: string): SipResponse {
  const headers = new SipHeaders();
  for (const via of request.headers.getAll('via')) headers.append('Via', via);
  headers.append('From', request.headers.get('from') ?? '');
  let to = request.headers.get('to') ?? '';
  if (toTag !== undefined && status > 100 && !/;\s*tag=/i.test(to)) to += `;tag=${toTag}`;
  headers.append('To', to);
  headers.append('Call-ID', request.headers.get('call-id') ?? '');
  headers.append('CSeq', request.headers.get('cseq') ?? '');
  return { kind: 'response', status, reason: REASONS[status] ?? 'Unknown', headers, body: '' };
}

const startLine = (message: SipMessage): string =>
  message.kind === 'request' ? `${message.method} ${message.uri} SIP/2.0\r\n` : `SIP/2.0 ${message.status} ${message.reason}\r\n`;

/** The wire form as text; Content-Length is always written from the body's byte length. */
export function wireText(message: SipMessage): string {
  return `${startLine(message)}${message.headers.wireLines()}Content-Length: ${Buffer.byteLength(message.body)}\r\n\r\n${message.body}`;
}

/** Wire form; Content-Length is always written from the body's byte length. */
export function serialize(message: SipMessage): Buffer {
  return Buffer.from(wireText(message));
}

/** Bytes `serialize` would produce (the UDP size check runs for every request). */
export function serializedLength(message: SipMessage): number {
  const body = Buffer.byteLength(message.body);
  return Buffer.byteLength(startLine(message)) + message.headers.wireLength() + `Content-Length: ${body}\r\n\r\n`.length + body;
}

/** A header holding a non-negative integer (Expires, Min-Expires, Retry-After), else undefined. */
export function headerSeconds(message: SipMessage, name: string): number | undefined {
  const match = /^(\d{1,10})\b/.exec(message.headers.get(name) ?? '');
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export interface CSeq {
  seq: number;
  method: string;
}

/** RFC 3261 §20.16: a 32-bit sequence number and the method. */
export function parseCSeq(value: string | undefined): CSeq | undefined {
  const match = /^(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)$/.exec(value?.trim() ?? '');
  if (!match?.[1] || !match[2]) return undefined;
  const seq = Number(match[1]);
  return seq < 2 ** 31 ? { seq, method: match[2] } : undefined;
}
