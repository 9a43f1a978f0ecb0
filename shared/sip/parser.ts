import { isAscii } from 'node:buffer';
import { SipParseError } from './errors.js';
import { parseCSeq, SipHeaders, type SipMessage } from './message.js';

const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;
const REQUIRED = ['via', 'from', 'to', 'call-id', 'cseq'] as const;
const CR = 13;
const LF = 10;
const SP = 32;
const TAB = 9;

/** Where the header section ends and the body starts, searching from `offset`; undefined if not yet complete. */
export function locateBody(data: Buffer | string, offset = 0): { headEnd: number; bodyStart: number } | undefined {
  const crlf = data.indexOf('\r\n\r\n', offset);
  const lf = data.indexOf('\n\n', offset);
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return { headEnd: crlf, bodyStart: crlf + 4 };
  if (lf >= 0) return { headEnd: lf, bodyStart: lf + 2 };
  return undefined;
}

/** Skips the CRLFs that precede a message (RFC 3261 §7.5) and keep-alives (RFC 5626 §3.5.1). */
export function skipLineBreaks(data: Buffer, offset = 0): number {
  let at = offset;
  while (at < data.length && (data[at] === CR || data[at] === LF)) at++;
  return at;
}

/**
 * Parses one message from a datagram or one stream frame. Throws only `SipParseError`.
 * Without Content-Length the body runs to the end (RFC 3261 §18.3, datagrams); bytes past it are dropped.
 */
export function parseMessage(input: Buffer | string): SipMessage {
  const data = typeof input === 'string' ? Buffer.from(input) : input;
  // ASCII (almost every message): one decoding, and character offsets are byte offsets.
  const text = isAscii(data) ? data.toString('latin1') : undefined;
  const start = skipLineBreaks(data);
  const located = locateBody(text ?? data, start) ?? { headEnd: data.length, bodyStart: data.length };
  const head = decode(data, text, start, located.headEnd);
  let lineEnd = head.indexOf('\n');
  if (lineEnd < 0) lineEnd = head.length;
  const startLine = head.charCodeAt(lineEnd - 1) === CR && lineEnd < head.length ? head.slice(0, lineEnd - 1) : head.slice(0, lineEnd);
  const headers = parseHeaderLines(head, lineEnd + 1);
  for (const name of REQUIRED) if (!headers.has(name)) throw new SipParseError(`missing ${name} header`);
  if (!parseCSeq(headers.get('cseq'))) throw new SipParseError('malformed CSeq');

  const available = data.length - located.bodyStart;
  const declared = headers.get('content-length');
  let length = available;
  if (declared !== undefined) {
    if (!/^\d{1,9}$/.test(declared)) throw new SipParseError('malformed Content-Length');
    length = Number(declared);
    if (length > available) throw new SipParseError('body shorter than Content-Length');
  }
  const body = decode(data, text, located.bodyStart, located.bodyStart + length);

  const response = /^SIP\/2\.0 ([1-6]\d\d)(?: (.*))?$/.exec(startLine);
  if (response) return { kind: 'response', status: Number(response[1]), reason: response[2] ?? '', headers, body };
  const request = /^(\S+) (\S+) SIP\/2\.0$/.exec(startLine);
  if (!request?.[1] || !request[2] || !TOKEN.test(request[1]) || !request[2].includes(':')) {
    throw new SipParseError(`bad start line: ${startLine.slice(0, 80)}`);
  }
  if (parseCSeq(headers.get('cseq'))?.method !== request[1]) throw new SipParseError('CSeq method differs from the method');
  return { kind: 'request', method: request[1], uri: request[2], headers, body };
}

/** Bytes `from` to `to` as text: sliced from `text` (the whole message, ASCII) when there is one. */
function decode(data: Buffer, text: string | undefined, from: number, to: number): string {
  return text === undefined ? data.toString('utf8', from, to) : text.slice(from, to);
}

/** Header lines from `from` on, split at LF or CRLF, with folding (a line starting with space or tab continues the previous one, §7.3.1). */
function parseHeaderLines(head: string, from: number): SipHeaders {
  const headers = new SipHeaders();
  // The line waiting for continuation lines: [start, stop) of `head`, or its folded text once it had some.
  let start = -1;
  let stop = -1;
  let folded: string | undefined;
  for (let at = from; at < head.length + 1; ) {
    let end = head.indexOf('\n', at);
    if (end < 0) end = head.length;
    const lineStart = at;
    const lineEnd = end > at && end < head.length && head.charCodeAt(end - 1) === CR ? end - 1 : end;
    at = end + 1;
    const first = lineEnd > lineStart ? head.charCodeAt(lineStart) : -1;
    if (first === SP || first === TAB) {
      if (start < 0) throw new SipParseError('continuation line before any header');
      folded = `${folded ?? head.slice(start, stop)} ${head.slice(lineStart, lineEnd).trim()}`;
    } else if (lineEnd > lineStart) {
      if (start >= 0) addHeaderLine(headers, head, start, stop, folded);
      start = lineStart;
      stop = lineEnd;
      folded = undefined;
    }
  }
  if (start >= 0) addHeaderLine(headers, head, start, stop, folded);
  return headers;
}

/** Adds the header in `head` from `start` to `stop`, or in `folded` when it had continuation lines. */
function addHeaderLine(headers: SipHeaders, head: string, start: number, stop: number, folded: string | undefined): void {
  const text = folded ?? head;
  const from = folded === undefined ? start : 0;
  const to = folded === undefined ? stop : folded.length;
  const colon = text.indexOf(':', from);
  const name = colon < 0 || colon >= to ? '' : text.slice(from, colon).trim();
  if (!TOKEN.test(name)) throw new SipParseError(`bad header line: ${text.slice(from, Math.min(to, from + 80))}`);
  // Leading blanks skipped here spare `append` a second copy when it trims.
  let value = colon + 1;
  while (value < to && (text.charCodeAt(value) === SP || text.charCodeAt(value) === TAB)) value++;
  headers.append(name, text.slice(value, to));
}
