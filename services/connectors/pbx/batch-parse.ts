import { z } from 'zod';
import { CONTACT_PATTERN } from '../../../shared/domain/directory.js';
import { PBX_EVENT_TYPES, pbxBatchSchema, pbxEventSchema, type PbxBatch, type PbxEvent } from './schema.js';

const TYPES = new Set<unknown>(PBX_EVENT_TYPES);
const FIELDS = new Set(['type', 'device', 'extension', 'at', 'callId', 'queue', 'wrapUpSeconds', 'expiresSec', 'contact']);
const EXTENSION = /^[0-9*#+]{1,20}$/;
/** The schema's own rule for `at`, asked only for strings (RFC 3339 is more than a plain check should redo). */
const atSchema = pbxEventSchema.shape.at;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optString = (v: unknown, min: number, max: number) => v === undefined || (typeof v === 'string' && v.length >= min && v.length <= max);
const optInt = (v: unknown, min: number, max: number) => v === undefined || (Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max);

/** True only for an event `pbxEventSchema` accepts unchanged; anything else goes to the schema. */
function plainValidEvent(e: unknown): boolean {
  if (!isObject(e)) return false;
  for (const k in e) if (!FIELDS.has(k)) return false;
  const { at } = e;
  return (
    TYPES.has(e.type) &&
    optString(e.device, 1, 128) &&
    (e.extension === undefined || (typeof e.extension === 'string' && EXTENSION.test(e.extension))) &&
    (e.device === undefined) !== (e.extension === undefined) &&
    ((Number.isSafeInteger(at) && (at as number) > 0) || (typeof at === 'string' && atSchema.safeParse(at).success)) &&
    optString(e.callId, 1, 256) &&
    optString(e.queue, 1, 128) &&
    optInt(e.wrapUpSeconds, 0, 3600) &&
    optInt(e.expiresSec, 1, 7 * 24 * 3600) &&
    (e.contact === undefined || (typeof e.contact === 'string' && e.contact.length <= 300 && CONTACT_PATTERN.test(e.contact)))
  );
}

/** An event of a type this version does not know: a newer PBX's, refused on its own rather than with its batch. */
const isUnknownType = (e: unknown): boolean => isObject(e) && typeof e.type === 'string' && e.type.length > 0 && !TYPES.has(e.type);

/** A batch as parsed: `undefined` in place of each event of an unknown type (its index still counts). */
export interface ParsedBatch {
  events: Array<PbxEvent | undefined>;
}

/** The rest of a batch some of whose events are of unknown types: possibly none. */
const knownEventsSchema = pbxBatchSchema.extend({ events: z.array(pbxEventSchema) });

/**
 * `pbxBatchSchema.safeParse` for a JSON body, without building the schema's copy of every event when the
 * whole batch is plainly valid (the schema has no transforms, so the input is the result). Any batch with
 * something the plain check does not accept goes to the schema, which decides and words every error;
 * events of an unknown type are left out of that, and stand as `undefined`.
 */
export function parsePbxBatch(json: unknown): { success: true; data: ParsedBatch } | { success: false; error: z.ZodError } {
  if (isObject(json) && Array.isArray(json.events) && json.events.length > 0) {
    let plain = true;
    for (const k in json) if (k !== 'events') plain = false;
    for (let i = 0; plain && i < json.events.length; i++) plain = plainValidEvent(json.events[i]);
    if (plain) return { success: true, data: json as PbxBatch };
    const raw = json.events as unknown[];
    const positions = raw.flatMap((e, i) => (isUnknownType(e) ? [] : [i]));
    if (positions.length < raw.length) {
      const r = knownEventsSchema.safeParse({ ...json, events: positions.map((i) => raw[i]) });
      if (!r.success) {
        // Errors name events by their place in the batch sent.
        for (const issue of r.error.issues) if (issue.path[0] === 'events' && typeof issue.path[1] === 'number') issue.path[1] = positions[issue.path[1]]!;
        return { success: false, error: r.error };
      }
      const events: Array<PbxEvent | undefined> = raw.map(() => undefined);
      positions.forEach((at, k) => (events[at] = r.data.events[k]));
      return { success: true, data: { events } };
    }
  }
  const r = pbxBatchSchema.safeParse(json);
  return r.success ? { success: true, data: r.data } : { success: false, error: r.error };
}
