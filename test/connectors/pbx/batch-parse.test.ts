import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { zodDetails } from '../../../services/api/http-errors.js';
import { parsePbxBatch } from '../../../services/connectors/pbx/batch-parse.js';
import { PBX_EVENT_TYPES, pbxBatchSchema } from '../../../services/connectors/pbx/schema.js';

/** Strings of the lengths around a rule's bounds, and arbitrary ones. */
const sized = (...bounds: number[]) =>
  fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom(...bounds.flatMap((b) => [b - 1, b, b + 1]).filter((n) => n >= 0)).map((n) => 'x'.repeat(n)),
  );
const ints = (lo: number, hi: number) =>
  fc.oneof(fc.integer({ min: lo - 2, max: hi + 2 }), fc.constantFrom(lo - 1, lo, hi, hi + 1, 1.5, -0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 1e21));
const junk = fc.oneof(fc.constant(null), fc.boolean(), fc.string({ maxLength: 4 }), fc.integer(), fc.array(fc.integer(), { maxLength: 2 }), fc.object({ maxDepth: 1 }));
const offsets = fc.constantFrom('Z', '+02:00', '-05:30', '+0200', '+02', 'z', '');
const isoAt = fc
  .tuple(fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }), offsets, fc.constantFrom('', '.5', '.123', '.123456789'))
  .map(([d, off, frac]) => `${d.toISOString().slice(0, 19)}${frac}${off}`);
const at = fc.oneof(fc.integer({ min: -5, max: 2 ** 45 }), ints(1, Number.MAX_SAFE_INTEGER), isoAt, fc.constantFrom('2026-03-02', '2026-13-02T10:00:00Z', '2026-03-02 10:00:00Z', '2026-03-02T25:00:00Z', 'now'), junk);

const fields = {
    type: fc.oneof(fc.constantFrom(...PBX_EVENT_TYPES), fc.constantFrom('Ringing', 'dnd', ''), junk),
    device: fc.oneof(sized(1, 128), junk),
    extension: fc.oneof(fc.stringMatching(/^[0-9*#+]{0,22}$/), fc.constantFrom('1234', '12a', '+49 30', '#*'), junk),
    at,
    callId: fc.oneof(sized(1, 256), junk),
    queue: fc.oneof(sized(1, 128), junk),
    wrapUpSeconds: fc.oneof(ints(0, 3600), junk),
    expiresSec: fc.oneof(ints(1, 7 * 24 * 3600), junk),
    contact: fc.oneof(sized(300), junk),
    stray: junk,
};
const eventArb = fc.record(fields, { requiredKeys: [] });
/** Events that pass the schema: a type, one target, a good `at`, and good optional fields. */
const validEvent = fc
  .tuple(
    fc.constantFrom(...PBX_EVENT_TYPES),
    fc.oneof(fc.record({ device: fc.string({ minLength: 1, maxLength: 128 }) }), fc.record({ extension: fc.stringMatching(/^[0-9*#+]{1,20}$/) })),
    fc.oneof(fc.integer({ min: 1, max: 2 ** 45 }), isoAt.filter((s) => s.endsWith('Z') || /[+-]\d\d:\d\d$/.test(s))),
    fc.record(
      {
        callId: fc.string({ minLength: 1, maxLength: 256 }),
        queue: fc.string({ minLength: 1, maxLength: 128 }),
        wrapUpSeconds: fc.integer({ min: 0, max: 3600 }),
        expiresSec: fc.integer({ min: 1, max: 7 * 24 * 3600 }),
        contact: fc.string({ maxLength: 300 }),
      },
      { requiredKeys: [] },
    ),
  )
  .map(([type, target, at, more]) => ({ type, ...target, at, ...more }));
/** A valid event with one field set to anything that field's generator makes (often just out of bounds). */
const nearlyValid = fc
  .tuple(validEvent, fc.constantFrom(...(Object.keys(fields) as Array<keyof typeof fields>)))
  .chain(([e, k]) => (fields[k] as fc.Arbitrary<unknown>).map((v) => ({ ...e, [k]: v })));
const batchArb = fc.oneof(
  fc.record({ events: fc.array(fc.oneof(validEvent, nearlyValid, eventArb), { minLength: 0, maxLength: 4 }) }),
  fc.record({ events: fc.array(validEvent, { minLength: 1, maxLength: 4 }) }),
  fc.record({ events: fc.array(nearlyValid, { minLength: 1, maxLength: 2 }) }),
  fc.record({ events: fc.array(validEvent, { minLength: 1, maxLength: 2 }), extra: junk }),
  junk,
);

/** What the endpoint sees: a JSON body parsed (own `__proto__` keys included). */
const asJson = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;

const KNOWN = new Set<unknown>(PBX_EVENT_TYPES);
const isUnknownType = (e: unknown) => typeof e === 'object' && e !== null && !Array.isArray(e) && typeof (e as { type?: unknown }).type === 'string' && (e as { type: string }).type !== '' && !KNOWN.has((e as { type: string }).type);

/**
 * The schema's answer with events of unknown types set aside: they stand as `undefined`, and errors name
 * the others by their place in the batch sent. A batch of unknown types only is accepted when well formed.
 */
function expected(json: unknown): { success: boolean; data?: unknown; details?: Array<{ path: string; message: string }> } {
  const events = (json as { events?: unknown } | null)?.events;
  if (!Array.isArray(events) || events.length === 0 || !events.some(isUnknownType)) {
    const r = pbxBatchSchema.safeParse(json);
    return r.success ? { success: true, data: r.data } : { success: false, details: zodDetails(r.error) };
  }
  const positions = events.flatMap((e, i) => (isUnknownType(e) ? [] : [i]));
  const rest = { ...(json as object), events: positions.map((i) => events[i]) };
  const r = positions.length > 0 ? pbxBatchSchema.safeParse(rest) : pbxBatchSchema.extend({ events: z.array(z.never()) }).safeParse(rest);
  if (!r.success) return { success: false, details: zodDetails(r.error).map((d) => ({ ...d, path: d.path.replace(/^events\.(\d+)/, (_, k: string) => `events.${positions[Number(k)]}`) })) };
  let k = 0;
  return { success: true, data: { events: events.map((e) => (isUnknownType(e) ? undefined : r.data.events[k++])) } };
}

describe('parsePbxBatch answers as pbxBatchSchema, events of unknown types aside', () => {
  it('same success, same data, same error details, on random valid and invalid batches', () => {
    let accepted = 0;
    let withUnknown = 0;
    fc.assert(
      fc.property(batchArb, (b) => {
        const json = asJson(b);
        const fast = parsePbxBatch(json);
        const want = expected(json);
        expect(fast.success).toBe(want.success);
        if (fast.success) {
          accepted++;
          if (fast.data.events.includes(undefined)) withUnknown++;
          expect(fast.data).toStrictEqual(want.data);
        } else {
          expect(zodDetails(fast.error)).toEqual(want.details);
        }
      }),
      { numRuns: 5000 },
    );
    // The generators reach every side.
    expect(accepted).toBeGreaterThan(1000);
    expect(accepted).toBeLessThan(4000);
    expect(withUnknown).toBeGreaterThan(50);
  });

  it('an event without a usable at says what at must be, not only that the input is invalid', () => {
    for (const at of [undefined, 1.5, true]) {
      const r = parsePbxBatch({ events: [{ type: 'dnd-on', device: 'd1', at }] });
      expect(r.success ? [] : zodDetails(r.error)).toEqual([{ path: 'events.0.at', message: 'the PBX timestamp: RFC 3339 with an offset, or epoch milliseconds (an integer)' }]);
    }
  });

  it('an own "__proto__" key is refused as the schema refuses it', () => {
    const json = JSON.parse('{"events":[{"type":"registered","device":"d1","at":1,"__proto__":{"x":1}}]}') as unknown;
    expect(parsePbxBatch(json).success).toBe(false);
    expect(pbxBatchSchema.safeParse(json).success).toBe(false);
  });

  it('hands a plainly valid batch back as it came (no copy per event)', () => {
    const json = asJson({ events: [{ type: 'registered', device: 'd1', at: 1, expiresSec: 60, contact: 'sip:a@b' }, { type: 'hangup', extension: '100', at: '2026-03-02T10:00:00+01:00', queue: 'q' }] });
    const r = parsePbxBatch(json);
    expect(r.success && r.data).toBe(json);
  });
});
