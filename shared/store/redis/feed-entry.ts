import type { Presence } from '../../domain/presence.js';
import type { FeedEvent } from '../feed.js';
import type { StateEntry } from './redis-state.js';

const NL = 10;

/**
 * A change-feed entry is one field `x`: `<epoch>\n<tenant>\n<person>` for a removal, else followed by
 * `\n<version>\n<revision>\n<presence JSON>\n<state data>` (binary, to the end). One field rather than
 * one per value: every replica reads every entry, and the client's reply parser costs about a
 * microsecond per value. Ids never contain a newline, nor does JSON as `JSON.stringify` writes it.
 * Entries of the earlier layout (fields `e`, `t`, `p`, `d`) are read too.
 */
export function parseEntry(id: string, fields: ReadonlyArray<Buffer | string>): { event: FeedEvent; state: StateEntry } {
  const seq = id.slice(0, id.indexOf('-'));
  if (fields[0]?.toString() !== 'x') return earlier(seq, fields);
  const x = Buffer.isBuffer(fields[1]) ? fields[1] : Buffer.from(fields[1]!);
  const ends: number[] = [];
  for (let at = x.indexOf(NL); at >= 0 && ends.length < 6; at = x.indexOf(NL, at + 1)) ends.push(at);
  const part = (i: number) => x.toString('utf8', i === 0 ? 0 : ends[i - 1]! + 1, ends[i] ?? x.length);
  const event: FeedEvent = { id: `${part(0)}-${seq}`, tenantId: part(1), personId: part(2) };
  if (ends.length < 6) return { event, state: { tenantId: event.tenantId, personId: event.personId, version: 0 } };
  lazyPresence(event, x.subarray(ends[4]! + 1, ends[5]));
  // A copy: the reply's buffer is not held for as long as the replica holds the state.
  const data = Buffer.from(x.subarray(ends[5]! + 1));
  return { event, state: { tenantId: event.tenantId, personId: event.personId, version: Number(part(3)), rev: part(4), data } };
}

function earlier(seq: string, fields: ReadonlyArray<Buffer | string>): { event: FeedEvent; state: StateEntry } {
  const f: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) f[fields[i]!.toString()] = fields[i + 1]!.toString();
  const event: FeedEvent = { id: `${f.e}-${seq}`, tenantId: f.t!, personId: f.p! };
  if (f.d) lazyPresence(event, f.d);
  return { event, state: { tenantId: event.tenantId, personId: event.personId, version: 0 } };
}

/** Parsed on first use: every replica reads every change, most have no consumer for most of them. */
function lazyPresence(e: FeedEvent, raw: Buffer | string): void {
  let presence: Presence | undefined;
  Object.defineProperty(e, 'presence', { enumerable: true, get: () => (presence ??= JSON.parse(raw.toString()) as Presence) });
}
