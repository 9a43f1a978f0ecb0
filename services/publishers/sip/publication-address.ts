import type { Publication } from '../../../shared/sip/publisher.js';
import type { HostPort } from '../../../shared/sip/transport.js';

/** A publication of one presentity, as the delivery ledger keeps it for a replica taking the target over. */
export interface HeldPublication extends Publication {
  presentity: string;
}

/**
 * A publication of a presentity the person no longer has (a new extension or SIP URI, or none: deleted, out of
 * the target's scope), whose removal the server holding it has not taken yet: at that server, since no other
 * knows its entity-tag (RFC 3903 §4.1).
 */
export interface LeavingPublication extends HeldPublication {
  server: HostPort;
}

/** Where a SIP target holds one person: the publication kept up for them, and those being removed. */
export interface PublicationAddress {
  held?: HeldPublication;
  leaving: LeavingPublication[];
}

/** Undefined when the target holds nothing of the person. Written as the ledger kept a publication before removals were kept. */
export function publicationAddress({ held, leaving }: PublicationAddress): string | undefined {
  if (!held && leaving.length === 0) return undefined;
  const current = held && { presentity: held.presentity, etag: held.etag, expiresAt: held.expiresAt };
  const removing = leaving.map((l) => ({ presentity: l.presentity, etag: l.etag, expiresAt: l.expiresAt, host: l.server.host, port: l.server.port }));
  return JSON.stringify({ ...current, ...(removing.length > 0 ? { leaving: removing } : {}) });
}

type Fields<T> = Partial<Record<keyof T, unknown>>;

function heldOf({ presentity, etag, expiresAt }: Fields<HeldPublication>): HeldPublication | undefined {
  if (typeof presentity !== 'string' || typeof etag !== 'string' || typeof expiresAt !== 'number' || !etag) return undefined;
  return { presentity, etag, expiresAt };
}

/** Undefined for anything else: no address (written before publications were kept), or another publisher's. */
export function parsePublicationAddress(address: string | undefined): PublicationAddress | undefined {
  if (!address?.startsWith('{')) return undefined;
  let p: Fields<HeldPublication> & { leaving?: unknown };
  try {
    p = JSON.parse(address) as typeof p;
  } catch {
    return undefined;
  }
  const leaving: LeavingPublication[] = [];
  for (const l of Array.isArray(p.leaving) ? (p.leaving as Array<Fields<HeldPublication & HostPort>>) : []) {
    const publication = heldOf(l);
    if (publication && typeof l.host === 'string' && typeof l.port === 'number') leaving.push({ ...publication, server: { host: l.host, port: l.port } });
  }
  const held = heldOf(p);
  return held || leaving.length > 0 ? { ...(held ? { held } : {}), leaving } : undefined;
}
