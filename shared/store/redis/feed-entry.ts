import type { Presence } from '../../domain/presence.js';
import type { FeedCause, FeedEvent } from '../feed.js';
import type { StateEntry } from './redis-state.js';

/**
 * The cause of an entry that is no news to anyone: a write only the replicas' copies of the state must
 * follow (`outage-bound.ts`), neither dispatched to listeners nor replayed.
 */
export const COPIES_ONLY = 'copies';

const NL = 10;
const X = 0x78;

/**
 * A change-feed entry is one field `x`: `<epoch>\n<tenant>\n<person>` for a removal, else followed by
 * `\n<order>\n<revision>\n<presence JSON>\n<state data>` (binary, to the end; the order is the presence
 * version, or its view or order floor when higher: `orderOf` in redis-state.ts). One field rather than one
 * per value: every replica reads every entry, and the client's reply parser costs about a microsecond per
 * value. Ids never contain a newline, nor does JSON as `JSON.stringify` writes it. An event that is not a
 * new state has a second field `c`, its cause. Entries of the earlier layout (fields `e`, `t`, `p`, `d`)
 * are read too.
 */
export function parseEntry(id: string, fields: ReadonlyArray<Buffer | string>): { event: FeedEvent; state: StateEntry; copiesOnly?: boolean } {
  const seq = id.slice(0, id.indexOf('-'));
  const name = fields[0];
  // Compared as bytes: a string made of the field name of every entry would only be garbage.
  const packed = typeof name === 'string' ? name === 'x' : name?.length === 1 && name[0] === X;
  if (!packed) return earlier(seq, fields);
  const x = Buffer.isBuffer(fields[1]) ? fields[1] : Buffer.from(fields[1]!);
  // The header (up to the revision) is decoded at once; the presence only if someone asks for it.
  let end = -1;
  for (let n = 0; n < 5; n++) {
    end = x.indexOf(NL, end + 1);
    if (end < 0) break;
  }
  const head = x.toString('utf8', 0, end < 0 ? x.length : end).split('\n');
  const [epoch, tenantId, personId, version, rev] = head as [string, string, string, string?, string?];
  const next = end < 0 ? -1 : x.indexOf(NL, end + 1);
  if (next < 0 || rev === undefined) return { event: { id: `${epoch}-${seq}`, tenantId, personId }, state: { tenantId, personId, version: 0 } };
  // A copy: the reply's buffer (a socket read of many entries) is not held for as long as the replica
  // holds the state.
  const data = Buffer.allocUnsafe(x.length - next - 1);
  x.copy(data, 0, next + 1);
  const written = fields.length >= 4 && fields[2]!.toString() === 'c' ? fields[3]!.toString() : undefined;
  const copiesOnly = written === COPIES_ONLY;
  const cause = copiesOnly ? undefined : (written as FeedCause | undefined);
  const event = new ChangeEvent(`${epoch}-${seq}`, tenantId, personId, x, end + 1, next, cause);
  return { event, state: { tenantId, personId, version: Number(version), rev, data }, copiesOnly };
}

/**
 * A change with its presence parsed on first use: every replica reads every change, most have no
 * consumer for most of them. A class, not an object literal with a getter, which V8 builds slowly.
 */
class ChangeEvent implements FeedEvent {
  private parsed: Presence | undefined;

  constructor(
    readonly id: string,
    readonly tenantId: string,
    readonly personId: string,
    private raw: Buffer | undefined,
    private readonly from: number,
    private readonly to: number,
    readonly cause: FeedCause | undefined,
  ) {}

  get presence(): Presence {
    if (this.raw !== undefined) {
      this.parsed = JSON.parse(this.raw.toString('utf8', this.from, this.to)) as Presence;
      this.raw = undefined;
    }
    return this.parsed!;
  }
}

function earlier(seq: string, fields: ReadonlyArray<Buffer | string>): { event: FeedEvent; state: StateEntry } {
  const f: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) f[fields[i]!.toString()] = fields[i + 1]!.toString();
  const raw = f.d;
  let presence: Presence | undefined;
  const event: FeedEvent = raw
    ? { id: `${f.e}-${seq}`, tenantId: f.t!, personId: f.p!, get presence() { return (presence ??= JSON.parse(raw) as Presence); } }
    : { id: `${f.e}-${seq}`, tenantId: f.t!, personId: f.p! };
  return { event, state: { tenantId: event.tenantId, personId: event.personId, version: 0 } };
}
