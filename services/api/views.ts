import type { Person } from '../../shared/domain/directory.js';
import type { Presence } from '../../shared/domain/presence.js';
import type { z } from 'zod';
import type { Principal } from './auth.js';
import type { presenceViewSchema } from './view-schema.js';

/**
 * Detail levels of design §6, least to most: an external partner sees available/busy; a colleague the
 * availability; a supervisor or PBX the activity and until when; an administrator (or the person
 * themself) the deciding source and the explanation. Sensitive people show supervisors and PBXs only
 * their availability (and, to a PBX, whether and where they can be rung).
 */
export type Detail = 'binary' | 'availability' | 'activity' | 'full';

export function detailFor(p: Principal, person: Pick<Person, 'id' | 'sensitive'>): Detail {
  if (p.kind !== 'key') return 'availability';
  switch (p.role) {
    case 'admin':
      return 'full';
    case 'member':
      return p.personId === person.id ? 'full' : 'availability';
    case 'supervisor':
    case 'pbx':
      return person.sensitive ? 'availability' : 'activity';
    case 'external':
      return 'binary';
  }
}

/** Whether a caller at this detail may see what someone is doing and until when (not just their availability). */
export const seesActivity = (detail: Detail): boolean => detail === 'full' || detail === 'activity';

/** What a caller is shown of one person; `view-schema.ts` documents it. */
export type PresenceView = z.output<typeof presenceViewSchema>;

const iso = (ms: number) => new Date(ms).toISOString();
const isPbxKey = (p: Principal) => p.kind === 'key' && p.role === 'pbx';

/** Whether a caller may see which of someone's endpoints are reachable now: as `viewOf` shows them. */
export const seesEndpoints = (p: Principal, person: Pick<Person, 'id' | 'sensitive'>): boolean => seesActivity(detailFor(p, person)) || isPbxKey(p);

/** Principals with the same kind of view of a person get equal `viewOf` results for any presence. */
export function viewKind(p: Principal, person: Pick<Person, 'id' | 'sensitive'>): string {
  const detail = detailFor(p, person);
  // Only the availability level differs by principal: a PBX also sees whether and where to ring.
  return detail === 'availability' && isPbxKey(p) ? 'availability+endpoints' : detail;
}

/**
 * When what a viewer of this kind sees of a person began: those who see only the availability, when it
 * began; an external partner, when the person last went from available to busy or back; a phone system
 * looking at a sensitive person, when the availability, routability or endpoints last changed. Undefined
 * for those who see every change, and in states stored before these instants were kept.
 */
function shownSince(kind: string, presence: Presence): number | undefined {
  switch (kind) {
    case 'availability':
      return presence.availabilitySince;
    case 'binary':
      return presence.binarySince;
    case 'availability+endpoints':
      return presence.routingSince;
    default:
      return undefined;
  }
}

/**
 * Whether a new state reads to a viewer of this kind exactly as the one before it, version aside: sending
 * it anyway would tell the viewer when something they may not see changed behind it.
 */
export function unchangedFor(kind: string, presence: Presence): boolean {
  const shown = shownSince(kind, presence);
  return shown !== undefined && shown < presence.since;
}

/**
 * The version a viewer of this kind is shown. Versions are seeded from the clock, so a state's own tells
 * to the millisecond when it began: those who see less get the instant what they see began instead, which
 * grows as what they see changes (the engine never lets these instants go back) but says nothing of the
 * changes behind it. Never below the view floor, so a view that shrank (someone marked sensitive) keeps
 * its version: it only grows, for every viewer.
 */
export function shownVersion(kind: string, presence: Presence): number {
  return Math.max(shownSince(kind, presence) ?? presence.version, presence.viewFloor ?? 0);
}

export function viewOf(presence: Presence, person: Pick<Person, 'id' | 'name' | 'sensitive'>, p: Principal): PresenceView {
  const detail = detailFor(p, person);
  const version = shownVersion(viewKind(p, person), presence);
  if (detail === 'binary') {
    return { personId: person.id, availability: presence.availability === 'available' ? 'available' : 'busy', version };
  }
  const v: PresenceView = { personId: person.id, name: person.name, availability: presence.availability, version };
  // Nothing merged yet (version 0, e.g. after a restart lost a person's hot state): unknown since when.
  if (presence.version > 0) v.since = iso(detail === 'availability' ? (presence.availabilitySince ?? presence.since) : presence.since);
  const isPbx = isPbxKey(p);
  if (detail === 'availability') {
    if (isPbx) {
      v.routable = presence.routable;
      v.endpoints = presence.endpoints;
    }
    return v;
  }
  v.activity = presence.activity;
  v.routable = presence.routable;
  v.endpoints = presence.endpoints;
  if (presence.until !== undefined) v.until = iso(presence.until);
  if (presence.note !== undefined) v.note = presence.note;
  if (presence.next) v.next = { ...presence.next, at: iso(presence.next.at) };
  if (detail === 'full') {
    if (presence.source) v.source = presence.source;
    if (presence.rule) v.rule = presence.rule;
    v.explanation = presence.explanation;
  }
  return v;
}

/** Whether live streams show two records of a person alike: what `viewOf`, `viewKind` and a team filter read. */
export function sameOnStreams(a: Person, b: Person): boolean {
  return a.name === b.name && a.sensitive === b.sensitive && a.teams.every((t) => b.teams.includes(t)) && b.teams.every((t) => a.teams.includes(t));
}

/** The state shown for a person with no signals yet: version 0, which views show without a `since`. */
export function unknownPresence(personId: string): Presence {
  return { personId, availability: 'unknown', activity: 'unknown', routable: false, endpoints: [], explanation: [], since: 0, version: 0 };
}
