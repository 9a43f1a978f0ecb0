import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseNameAddress, tagOf } from '../../shared/sip/address.js';
import { lineState, mergeDialogInfo, parseDialogInfo, type DialogInfo } from '../../shared/sip/dialog-info.js';
import { parseChallenges } from '../../shared/sip/digest.js';
import { SipParseError } from '../../shared/sip/errors.js';
import { createRequest, serialize, type SipResponse } from '../../shared/sip/message.js';
import { parseMessage } from '../../shared/sip/parser.js';
import { parsePidf } from '../../shared/sip/pidf.js';
import { StreamFramer } from '../../shared/sip/stream-framer.js';
import { parseSubscriptionState, Subscriber } from '../../shared/sip/subscriber.js';
import { parseVia } from '../../shared/sip/via.js';
import { setup, TARGET } from './helpers.js';

const VALID = serialize(
  createRequest(
    'NOTIFY',
    'sip:hub@192.0.2.100:5060',
    [
      ['Via', 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1'],
      ['From', '"Srv" <sip:1001@example.test>;tag=a'],
      ['To', '<sip:hub@example.test>;tag=b'],
      ['Call-ID', 'c1'],
      ['CSeq', '1 NOTIFY'],
      ['Event', 'dialog'],
      ['Subscription-State', 'active;expires=60'],
    ],
    '<dialog-info version="1" state="full" entity="e"><dialog id="x"><state>early</state></dialog></dialog-info>',
  ),
).toString('latin1');

const DIALOG_INFO = `<?xml version="1.0"?><d:dialog-info xmlns:d="urn:ietf:params:xml:ns:dialog-info" version="2" state="partial" entity="sip:1@x"><d:dialog id="a" direction="recipient"><d:state code="486" event="rejected">confirmed</d:state><d:local><d:target uri="sip:x"><d:param pname="+sip.rendering" pvalue="no"/></d:target></d:local></d:dialog></d:dialog-info>`;

/** A known-good text with random edits: inserted, deleted and replaced runs, so inputs stay near valid. */
const mutated = (base: string) =>
  fc
    .array(fc.tuple(fc.nat(base.length), fc.nat(12), fc.string({ unit: 'binary', maxLength: 12 })), { maxLength: 6 })
    .map((edits) => edits.reduce((text, [at, del, ins]) => text.slice(0, at) + ins + text.slice(at + del), base));

const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 1500 }).map((b) => Buffer.from(b)),
  mutated(VALID).map((s) => Buffer.from(s, 'latin1')),
);

const expectOnlyParseErrors = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SipParseError);
  }
};

let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

describe('fuzz: message layer', () => {
  it('parseMessage throws nothing but SipParseError', () => {
    fc.assert(fc.property(bytes, (data) => expectOnlyParseErrors(() => parseMessage(data))), { numRuns: 1000 });
  });

  it('the stream framer throws nothing but SipParseError, whatever the chunking', () => {
    fc.assert(
      fc.property(bytes, fc.array(fc.nat(1500), { maxLength: 8 }), (data, cuts) => {
        const framer = new StreamFramer();
        const points = [...new Set([0, ...cuts.map((c) => c % (data.length + 1)), data.length])].sort((a, b) => a - b);
        expectOnlyParseErrors(() => {
          for (let i = 1; i < points.length; i++) for (const frame of framer.push(data.subarray(points[i - 1], points[i]))) {
            expectOnlyParseErrors(() => parseMessage(frame));
          }
        });
      }),
      { numRuns: 500 },
    );
  });

  it('the stream framer returns valid messages intact however they are split', () => {
    const message = Buffer.from(VALID, 'latin1');
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.nat(), { maxLength: 10 }), (count, cuts) => {
        const stream = Buffer.concat(Array.from({ length: count }, () => message));
        const points = [...new Set([0, ...cuts.map((c) => c % stream.length), stream.length])].sort((a, b) => a - b);
        const framer = new StreamFramer();
        const frames = points.slice(1).flatMap((end, i) => framer.push(stream.subarray(points[i], end)));
        expect(frames).toHaveLength(count);
        for (const frame of frames) expect(frame.equals(message)).toBe(true);
      }),
    );
  });

  it('header value parsers never throw (name-addr only SipParseError)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        tagOf(text);
        parseVia(text);
        parseChallenges([text]);
        parseSubscriptionState(text);
        expectOnlyParseErrors(() => parseNameAddress(text));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('fuzz: bodies and the NOTIFY handler', () => {
  const xmlish = fc.oneof(fc.string({ maxLength: 300 }), mutated(DIALOG_INFO), mutated('<presence entity="x"><tuple id="t"><status><basic>open</basic></status></tuple></presence>'));

  it('dialog-info and PIDF parsers return results, never throw', () => {
    let known: DialogInfo | undefined;
    fc.assert(
      fc.property(xmlish, (xml) => {
        const result = parseDialogInfo(xml);
        if (result.ok) {
          lineState(result.value);
          const update = mergeDialogInfo(known, result.value);
          if (update.kind === 'applied') known = update.info;
        }
        expect(typeof parsePidf(xml).ok).toBe('boolean');
      }),
      { numRuns: 1000 },
    );
  });

  it('a subscriber fed arbitrary NOTIFYs and bytes keeps answering and never throws', async () => {
    const h = setup();
    let known: DialogInfo | undefined;
    const subscriber = new Subscriber({
      core: h.core,
      target: TARGET,
      subscriber: 'sip:hub@example.test',
      resource: 'sip:1001@example.test',
      onNotify: ({ body }) => {
        const parsed = parseDialogInfo(body);
        if (!parsed.ok) return;
        const update = mergeDialogInfo(known, parsed.value);
        if (update.kind === 'applied') known = update.info;
        if (known) lineState(known);
      },
    });
    subscriber.start();
    await h.clock.advance(0);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        xmlish,
        fc.constantFrom('active', 'pending;expires=30', 'terminated;reason=timeout', 'garbage;;=', ''),
        fc.constantFrom('dialog', 'presence', ''),
        bytes,
        async (body, state, event, raw) => {
          n += 1;
          // Aim at the current subscription, which terminations and timeouts keep replacing.
          const subscribe = h.transport.lastRequest('SUBSCRIBE');
          const callId = subscribe.headers.get('call-id') ?? '';
          const localTag = tagOf(subscribe.headers.get('from')) ?? '';
          const notify = createRequest('NOTIFY', 'sip:hub@192.0.2.100:5060', [
            ['Via', `SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfuzz${n}`],
            ['From', '<sip:1001@example.test>;tag=ntf'],
            ['To', `<sip:hub@example.test>;tag=${localTag}`],
            ['Call-ID', callId],
            ['CSeq', `${n} NOTIFY`],
            ['Event', event],
            ['Subscription-State', state],
          ], body);
          const before = h.transport.sent.length;
          h.transport.inject(notify);
          h.transport.inject(raw);
          await h.clock.advance(1_000);
          const answers = h.transport.sent
            .slice(before)
            .map((s) => s.message)
            .filter((m): m is SipResponse => m.kind === 'response' && parseVia(m.headers.get('via'))?.params['branch'] === `z9hG4bKfuzz${n}`);
          expect(answers.map((a) => [200, 400, 481, 489].includes(a.status))).toEqual([true]);
        },
      ),
      { numRuns: 300 },
    );
    subscriber.dispose();
  });
});
