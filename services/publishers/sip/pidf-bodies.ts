import type { Person } from '../../../shared/domain/directory.js';
import type { Presence } from '../../../shared/domain/presence.js';
import type { SipTarget } from '../../../shared/domain/target.js';
import { buildPidf, type PidfDetail, type PidfPresence } from '../../../shared/sip/pidf.js';
import { presentityOf } from './presentity.js';

/** Our tuple and person ids in the server's aggregate: the same ids replace our own earlier document (Kamailio §4.2). */
const IDENTITY = { tupleId: 'presence-hub', personId: 'p-presence-hub' };

interface Built {
  sipUri: string | undefined;
  extension: string | undefined;
  detail: PidfDetail;
  entity: string;
  state: PidfPresence;
  body: string;
}

/**
 * Whether the document of `b` would tell watchers nothing new: the fields `buildPidf` writes, but for
 * its timestamp. A change the document does not show (a note, another source, a second phone) moves the
 * merge's `since`; the document keeps the instant its own content began (RFC 3863 §4.1.7), so the
 * presence server is not sent, and does not NOTIFY every watcher of, a document that differs only there.
 * Availability-only documents likewise keep theirs while the availability holds (a meeting ending into a
 * call, both busy, is nothing new).
 */
const sameDocument = (detail: PidfDetail, a: PidfPresence, b: PidfPresence): boolean =>
  a.availability === b.availability &&
  a.routable === b.routable &&
  (detail === 'availability' ||
    (a.activity === b.activity &&
      a.until === b.until &&
      a.next?.at === b.next?.at &&
      a.next?.availability === b.next?.availability &&
      a.next?.activity === b.next?.activity));

/**
 * The PIDF document last built per person: a delivery of the same state (a re-publication, another
 * version that changed nothing the document shows) reuses it, and the presentity is derived again
 * only when the person's SIP URI or extension changed.
 */
export class PidfBodies {
  private readonly built = new Map<string, Built>();

  constructor(private readonly target: Pick<SipTarget, 'domain'>) {}

  of(personId: string, person: Pick<Person, 'id' | 'sipUri' | 'extension' | 'sensitive'>, current: PidfPresence & Pick<Presence, 'availabilitySince'>): string {
    // The presence server shows the document to every watcher: for a sensitive person, what a PBX key may see (design §6),
    // dated when the availability began (a document built afresh, on another replica or after a restart, must
    // not date their last change of activity).
    const detail: PidfDetail = person.sensitive ? 'availability' : 'activity';
    const presence = detail === 'availability' ? { ...current, since: current.availabilitySince ?? current.since } : current;
    const last = this.built.get(personId);
    const samePerson = last !== undefined && last.sipUri === person.sipUri && last.extension === person.extension;
    if (samePerson && last.detail === detail && sameDocument(detail, last.state, presence)) return last.body;
    const entity = samePerson ? last.entity : presentityOf(person, this.target);
    const body = buildPidf(presence, { entity, ...IDENTITY }, detail);
    // Only the fields the document shows, not the whole state (its explanation may be large).
    const { availability, activity, routable, since, until, next } = presence;
    const state = { availability, activity, routable, since, until, next };
    if (last === undefined) {
      this.built.set(personId, { sipUri: person.sipUri, extension: person.extension, detail, entity, state, body });
      return body;
    }
    // Updated in place: the entry outlives many deliveries, a new one each time would reach the old generation.
    last.sipUri = person.sipUri;
    last.extension = person.extension;
    last.detail = detail;
    last.entity = entity;
    last.state = state;
    last.body = body;
    return body;
  }

  forget(personId: string): void {
    this.built.delete(personId);
  }

  clear(): void {
    this.built.clear();
  }
}
