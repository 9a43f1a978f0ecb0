import { describe, expect, it } from 'vitest';
import { parseNameAddress, tagOf } from '../../shared/sip/address.js';
import { SipParseError } from '../../shared/sip/errors.js';
import { createRequest, headerSeconds, responseTo, serialize, serializedLength, SipHeaders } from '../../shared/sip/message.js';
import { parseMessage } from '../../shared/sip/parser.js';
import { StreamFramer } from '../../shared/sip/stream-framer.js';
import { parseVia } from '../../shared/sip/via.js';

const crlf = (lines: string[]) => lines.join('\r\n');

const NOTIFY = crlf([
  'NOTIFY sip:192.0.2.100:5060 SIP/2.0',
  'v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa1;rport, SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKa0',
  'Via: SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bKzz',
  'f: "Presence, Server" <sip:presence@example.test>;tag=srv1',
  't: <sip:watcher@example.test>;tag=w1',
  'i: call-1@example.test',
  'CSeq: 7 NOTIFY',
  'o: dialog',
  'Subscription-State: active;',
  '  expires=60',
  'm: <sip:presence@192.0.2.1:5060>',
  'Record-Route: <sip:p1.example.test;lr>, <sip:p2.example.test;lr>',
  'Record-Route: <sip:p3.example.test;lr>',
  'c: application/dialog-info+xml',
  'l: 5',
  '',
  'hello',
]);

describe('message parser', () => {
  it('expands compact forms and looks headers up case-insensitively', () => {
    const m = parseMessage(NOTIFY);
    expect(m.kind).toBe('request');
    if (m.kind !== 'request') return;
    expect(m.method).toBe('NOTIFY');
    expect(m.uri).toBe('sip:192.0.2.100:5060');
    expect(m.headers.get('CALL-ID')).toBe('call-1@example.test');
    expect(m.headers.get('event')).toBe('dialog');
    expect(m.headers.get('Content-Type')).toBe('application/dialog-info+xml');
    expect(m.headers.get('contact')).toBe('<sip:presence@192.0.2.1:5060>');
    expect(m.body).toBe('hello');
  });

  it('joins folded lines', () => {
    const m = parseMessage(NOTIFY);
    expect(m.headers.get('subscription-state')).toBe('active; expires=60');
  });

  it('reads every Via, whether repeated or comma-joined, in order', () => {
    const vias = parseMessage(NOTIFY).headers.getAll('via');
    expect(vias).toHaveLength(3);
    expect(vias.map((v) => parseVia(v)?.params['branch'])).toEqual(['z9hG4bKa1', 'z9hG4bKa0', 'z9hG4bKzz']);
    expect(parseVia(vias[1])).toMatchObject({ transport: 'TCP', sentBy: '10.0.0.1' });
    expect(parseVia(vias[0])?.params['rport']).toBe('');
  });

  it('splits multi-valued headers but not commas inside quotes', () => {
    const m = parseMessage(NOTIFY);
    expect(m.headers.getAll('record-route')).toEqual([
      '<sip:p1.example.test;lr>',
      '<sip:p2.example.test;lr>',
      '<sip:p3.example.test;lr>',
    ]);
    expect(m.headers.getAll('from')).toEqual(['"Presence, Server" <sip:presence@example.test>;tag=srv1']);
  });

  it('parses responses and keeps the body to Content-Length, dropping extra datagram bytes', () => {
    const m = parseMessage(
      crlf(['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: <sip:a@b>;tag=1', 'To: <sip:a@b>;tag=2', 'Call-ID: x', 'CSeq: 1 PUBLISH', 'SIP-ETag: a.1.2', 'Expires: 120', 'Content-Length: 3', '', 'abcdef']),
    );
    expect(m).toMatchObject({ kind: 'response', status: 200, reason: 'OK', body: 'abc' });
    expect(m.headers.get('sip-etag')).toBe('a.1.2');
    expect(headerSeconds(m, 'expires')).toBe(120);
  });

  it('accepts bare LF line ends and leading CRLFs', () => {
    const m = parseMessage('\r\n' + NOTIFY.replaceAll('\r\n', '\n'));
    expect(m.headers.getAll('via')).toHaveLength(3);
    expect(m.body).toBe('hello');
  });

  it.each([
    ['garbage', 'hello world'],
    ['missing Call-ID', NOTIFY.replace(/^i: .*$/m, 'X-Foo: 1')],
    ['bad CSeq', NOTIFY.replace('CSeq: 7 NOTIFY', 'CSeq: seven NOTIFY')],
    ['CSeq method mismatch', NOTIFY.replace('CSeq: 7 NOTIFY', 'CSeq: 7 INVITE')],
    ['body shorter than Content-Length', NOTIFY.replace('l: 5', 'l: 50')],
    ['header without colon', NOTIFY.replace('o: dialog', 'o dialog')],
    ['continuation first', ' folded\r\n' + NOTIFY.split('\r\n').slice(1).join('\r\n')],
  ])('throws SipParseError for %s', (_, text) => {
    expect(() => parseMessage(text)).toThrow(SipParseError);
  });

  it('serialises with canonical names and a Content-Length from the byte length', () => {
    const request = createRequest('PUBLISH', 'sip:alice@example.test', [
      ['v', 'SIP/2.0/UDP h:5060;branch=z9hG4bK1'],
      ['f', '<sip:alice@example.test>;tag=1'],
      ['t', '<sip:alice@example.test>'],
      ['i', 'c1'],
      ['cseq', '1 PUBLISH'],
      ['sip-if-match', 'e1'],
    ], 'é');
    const text = serialize(request).toString();
    expect(text).toContain('\r\nCall-ID: c1\r\n');
    expect(text).toContain('\r\nSIP-If-Match: e1\r\n');
    expect(text).toContain('\r\nContent-Length: 2\r\n\r\né');
    expect(parseMessage(serialize(request))).toMatchObject({ method: 'PUBLISH', body: 'é' });
    // The UDP size check counts bytes without serialising; it must agree, multi-byte text and a stale Content-Length included.
    request.headers.append('Content-Length', '999');
    request.headers.append('Subject', 'Grüße');
    expect(serializedLength(request)).toBe(serialize(request).length);
    const m = parseMessage(NOTIFY);
    if (m.kind !== 'request') throw new Error('request expected');
    expect(serializedLength(m)).toBe(serialize(m).length);
    expect(serializedLength(responseTo(m, 200, 'x'))).toBe(serialize(responseTo(m, 200, 'x')).length);
  });

  it('builds responses that copy the dialog headers and add a To tag', () => {
    const m = parseMessage(NOTIFY);
    if (m.kind !== 'request') throw new Error('request expected');
    const r = responseTo(m, 200, 'mine');
    expect(r.headers.getAll('via')).toEqual(m.headers.getAll('via'));
    expect(r.headers.get('to')).toBe('<sip:watcher@example.test>;tag=w1');
    m.headers.set('To', '<sip:watcher@example.test>');
    expect(responseTo(m, 481, 'mine').headers.get('to')).toBe('<sip:watcher@example.test>;tag=mine');
  });

  it('keeps the position of a header replaced with set', () => {
    const h = new SipHeaders([['Via', 'a'], ['To', 'b'], ['Via', 'c']]);
    h.set('v', 'd');
    expect(h.entries()).toEqual([['Via', 'd'], ['To', 'b']]);
  });
});

describe('name-addr', () => {
  it.each([
    ['"Alice \\"A\\"" <sip:alice@example.test;transport=tcp>;tag=abc;x="1;2"', 'Alice "A"', 'sip:alice@example.test;transport=tcp', { tag: 'abc', x: '1;2' }],
    ['Bob <sips:bob@example.test>', 'Bob', 'sips:bob@example.test', {}],
    ['<sip:carol@example.test>;TAG=t1;lr', undefined, 'sip:carol@example.test', { tag: 't1', lr: '' }],
    ['sip:dave@example.test;tag=9', undefined, 'sip:dave@example.test', { tag: '9' }],
  ])('parses %s', (text, displayName, uri, params) => {
    const parsed = parseNameAddress(text);
    expect(parsed.displayName).toBe(displayName);
    expect(parsed.uri).toBe(uri);
    expect({ ...parsed.params }).toEqual(params);
  });

  it('gives tags, and undefined for malformed values', () => {
    expect(tagOf('<sip:a@b>;tag=xyz')).toBe('xyz');
    expect(tagOf('<sip:a@b>')).toBeUndefined();
    expect(tagOf('<sip:a@b')).toBeUndefined();
    expect(() => parseNameAddress('"unterminated <sip:a@b>')).toThrow(SipParseError);
  });
});

describe('stream framer', () => {
  const one = Buffer.from(NOTIFY);
  const response = serialize(responseTo(parseMessage(NOTIFY) as never, 200, 't'));

  it('cuts several messages out of one chunk, skipping keep-alive CRLFs', () => {
    const framer = new StreamFramer();
    const frames = framer.push(Buffer.concat([Buffer.from('\r\n\r\n'), one, response, Buffer.from('\r\n')]));
    expect(frames.map((f) => parseMessage(f).kind)).toEqual(['request', 'response']);
    expect(parseMessage(frames[0]!).body).toBe('hello');
  });

  it('joins a message split at every byte', () => {
    const framer = new StreamFramer();
    const frames: Buffer[] = [];
    for (let i = 0; i < one.length; i++) frames.push(...framer.push(one.subarray(i, i + 1)));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.equals(one)).toBe(true);
  });

  it('handles a message split inside the body followed by the start of the next one', () => {
    const framer = new StreamFramer();
    const stream = Buffer.concat([one, one, one]);
    const cut1 = one.length - 2;
    const cut2 = one.length + 10;
    expect(framer.push(stream.subarray(0, cut1))).toHaveLength(0);
    expect(framer.push(stream.subarray(cut1, cut2))).toHaveLength(1);
    expect(framer.push(stream.subarray(cut2))).toHaveLength(2);
  });

  it('rejects a stream message without Content-Length and oversized messages', () => {
    expect(() => new StreamFramer().push(Buffer.from(NOTIFY.replace('l: 5\r\n', '')))).toThrow(SipParseError);
    expect(() => new StreamFramer(100).push(Buffer.alloc(200, 'a'))).toThrow(SipParseError);
  });
});
