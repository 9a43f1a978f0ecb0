import { isoInstant } from '../clock/iso.js';
import type { Activity, Availability, BuiltinActivity } from '../domain/activity.js';
import type { Presence } from '../domain/presence.js';
import { escapeXml, nodesOf, readXml, textOf } from './xml.js';

export const PIDF_CONTENT_TYPE = 'application/pidf+xml';

const NS = {
  pidf: 'urn:ietf:params:xml:ns:pidf',
  dm: 'urn:ietf:params:xml:ns:pidf:data-model',
  rpid: 'urn:ietf:params:xml:ns:pidf:rpid',
  ts: 'urn:ietf:params:xml:ns:pidf:timed-status',
};

/** The RFC 4480 §3.2 activities the mapping below uses. */
export type RpidActivity = 'on-the-phone' | 'meeting' | 'presentation' | 'vacation' | 'away' | 'busy' | 'unknown';

/**
 * Canonical activity → RFC 4480 activity; null means no `<rpid:activities>` (the basic status says
 * it all). A tenant's custom reason becomes `<rpid:other>slug</rpid:other>`. Phones such as baresip
 * only understand away, busy and on-the-phone, so activities RPID lacks map onto those.
 */
export const RPID_ACTIVITY: Readonly<Record<BuiltinActivity, RpidActivity | null>> = {
  available: null,
  ringing: 'on-the-phone',
  'on-call': 'on-the-phone',
  'on-hold': 'on-the-phone',
  'in-meeting': 'meeting',
  presenting: 'presentation',
  focus: 'busy',
  'out-of-office': 'vacation',
  dnd: 'busy',
  away: 'away',
  break: 'away',
  'wrap-up': 'busy',
  'off-work': 'away',
  offline: null,
  unknown: 'unknown',
};

/** The human note per activity. Derived from the activity only, so no meeting title can leak. */
export const ACTIVITY_NOTE: Readonly<Record<BuiltinActivity, string>> = {
  available: 'Available',
  ringing: 'Ringing',
  'on-call': 'On the phone',
  'on-hold': 'On the phone (on hold)',
  'in-meeting': 'In a meeting',
  presenting: 'Presenting',
  focus: 'Focusing',
  'out-of-office': 'Out of office',
  dnd: 'Do not disturb',
  away: 'Away',
  break: 'On a break',
  'wrap-up': 'Wrapping up',
  'off-work': 'Off work',
  offline: 'Offline',
  unknown: 'Unknown',
};

/**
 * For someone whose activity may not be shown (design §6: people marked sensitive show their
 * availability only), the document says no more than the availability: no meeting, call or end.
 */
export const AVAILABILITY_ONLY: Readonly<Record<Availability, { rpid: RpidActivity | null; note: string }>> = {
  available: { rpid: null, note: 'Available' },
  busy: { rpid: 'busy', note: 'Busy' },
  dnd: { rpid: 'busy', note: 'Do not disturb' },
  away: { rpid: 'away', note: 'Away' },
  offline: { rpid: null, note: 'Offline' },
  unknown: { rpid: 'unknown', note: 'Unknown' },
};

/** How much a document tells: the activity (with its end and what comes next), or the availability alone. */
export type PidfDetail = 'activity' | 'availability';

const isBuiltin = (activity: Activity): activity is BuiltinActivity => Object.hasOwn(RPID_ACTIVITY, activity);

/** The note for an activity; a custom reason slug reads as words (`lunch-break` → `Lunch break`). */
export function noteFor(activity: Activity): string {
  if (isBuiltin(activity)) return ACTIVITY_NOTE[activity];
  const words = activity.replace(/-+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export type PidfPresence = Pick<Presence, 'availability' | 'activity' | 'routable' | 'since' | 'until' | 'next'>;

/** Who the document is about, and the ids that keep this source's tuple and person apart in the server's aggregate. */
export interface PidfIdentity {
  entity: string;
  tupleId: string;
  personId: string;
}

/** XML ID (NCName) rules: a tuple id cannot start with a digit (RFC 3863 §4.1.2). */
const XML_ID = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

const iso = isoInstant;

function activitiesXml(activity: Activity, until?: number): string {
  const rpid = isBuiltin(activity) ? RPID_ACTIVITY[activity] : undefined;
  if (rpid === null) return '';
  // Self-closing, rpid-prefixed elements: baresip matches these literal strings.
  const inner = rpid === undefined ? `<rpid:other>${escapeXml(activity)}</rpid:other>` : `<rpid:${rpid}/>`;
  return `<rpid:activities${until === undefined ? '' : ` until="${iso(until)}"`}>${inner}</rpid:activities>`;
}

/** What the document says of the person now, and from when (RFC 4481) what comes next: none of it for availability-only. */
function told(presence: PidfPresence, detail: PidfDetail): { note: string; activities: string; next: PidfPresence['next'] } {
  if (detail === 'availability') {
    const a = AVAILABILITY_ONLY[presence.availability];
    return { note: a.note, activities: a.rpid === null ? '' : `<rpid:activities><rpid:${a.rpid}/></rpid:activities>`, next: undefined };
  }
  return { note: noteFor(presence.activity), activities: activitiesXml(presence.activity, presence.until), next: presence.next };
}

/**
 * An `application/pidf+xml` document (RFC 3863, 4479, 4480): basic open only when available and
 * routable, RPID activities from `RPID_ACTIVITY`, and, when the next state is known, RFC 4481
 * `<ts:timed-status>` from the instant it starts.
 */
export function buildPidf(presence: PidfPresence, identity: PidfIdentity, detail: PidfDetail = 'activity'): string {
  if (!XML_ID.test(identity.tupleId)) throw new RangeError(`not an XML ID: ${identity.tupleId}`);
  if (!XML_ID.test(identity.personId)) throw new RangeError(`not an XML ID: ${identity.personId}`);
  const basic = presence.availability === 'available' && presence.routable ? 'open' : 'closed';
  const { note, activities, next } = told(presence, detail);
  const from = next ? ` from="${iso(next.at)}"` : '';
  let xml =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<presence xmlns="${NS.pidf}" xmlns:dm="${NS.dm}" xmlns:rpid="${NS.rpid}"` +
    `${next ? ` xmlns:ts="${NS.ts}"` : ''} entity="${escapeXml(identity.entity)}">\n` +
    `<tuple id="${identity.tupleId}">\n` +
    `<status><basic>${basic}</basic></status>\n`;
  if (next) {
    xml += `<ts:timed-status${from}><ts:basic>${next.availability === 'available' ? 'open' : 'closed'}</ts:basic></ts:timed-status>\n`;
  }
  xml +=
    `<note>${escapeXml(note)}</note>\n` +
    `<timestamp>${iso(presence.since)}</timestamp>\n` +
    '</tuple>\n' +
    `<dm:person id="${identity.personId}">\n`;
  if (activities) xml += `${activities}\n`;
  const nextActivities = next ? activitiesXml(next.activity) : '';
  if (nextActivities) xml += `<ts:timed-status${from}>${nextActivities}</ts:timed-status>\n`;
  return `${xml}</dm:person>\n</presence>`;
}

export interface PidfSummary {
  entity: string;
  /** open when any tuple is open, closed when some tuple is closed and none open. */
  basic?: 'open' | 'closed';
  /** Current RPID activity element names of every person (timed ones excluded). */
  activities: string[];
  /** Text of the first `<rpid:other>`. */
  other?: string;
  /** The first tuple note, else the first presence or person note. */
  note?: string;
}

export type PidfParseResult = { ok: true; value: PidfSummary } | { ok: false; error: string };

/** Reads a PIDF document (any namespace prefixes). Never throws. */
export function parsePidf(xml: string): PidfParseResult {
  const presence = nodesOf(readXml(xml, ['tuple', 'person', 'activities', 'note'])?.['presence'])[0];
  if (!presence) return { ok: false, error: 'not a PIDF document' };
  const tuples = nodesOf(presence['tuple']);
  const basics = tuples.map((t) => textOf(nodesOf(t['status'])[0]?.['basic']));
  const persons = nodesOf(presence['person']);
  const activities: string[] = [];
  let other: string | undefined;
  for (const element of persons.flatMap((p) => nodesOf(p['activities']))) {
    for (const [name, value] of Object.entries(element)) {
      if (name.startsWith('@_') || name === '#text') continue;
      activities.push(name);
      if (name === 'other') other ??= textOf(Array.isArray(value) ? value[0] : value);
    }
  }
  const notes = [...tuples, presence, ...persons].flatMap((n) => (Array.isArray(n['note']) ? n['note'] : []));
  const note = notes.map(textOf).find((n) => n !== undefined);
  const entity = presence['@_entity'];
  return {
    ok: true,
    value: {
      entity: typeof entity === 'string' ? entity : '',
      basic: basics.includes('open') ? 'open' : basics.includes('closed') ? 'closed' : undefined,
      activities,
      other,
      note,
    },
  };
}
