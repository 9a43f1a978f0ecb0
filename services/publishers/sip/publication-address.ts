import type { Publication } from '../../../shared/sip/publisher.js';
import type { HostPort } from '../../../shared/sip/transport.js';

/**
 * A publication of one presentity, as the delivery ledger keeps it for a replica taking the target over; `server`:
 * the one of the target's servers that issued its entity-tag, the only one that knows it (RFC 3903 §4.1), when
 * known (absent in addresses written before it was kept).
 */
export interface HeldPublication extends Publication {
  presentity: string;
  server?: HostPort;
}

/**
 * A publication of a presentity the person no longer has (a new extension or SIP URI, or none: deleted, out of
 * the target's scope), whose removal the server holding it has not taken yet: at that server, since no other
 * knows its entity-tag.
 */
export interface LeavingPublication extends HeldPublication {
  server: HostPort;
}

/** Where a SIP target holds one person: the publication kept up for them, and those being removed. */
export interface PublicationAddress {
  held?: HeldPublication;
  leaving: LeavingPublication[];
}

const written = ({ presentity, etag, expiresAt, server }: HeldPublication) => ({ presentity, etag, expiresAt, ...(server ? { host: server.host, port: server.port } : {}) });

/** Undefined when the target holds nothing of the person. Written as the ledger kept a publication before removals were kept. */
export function publicationAddress({ held, leaving }: PublicationAddress): string | undefined {
  if (!held && leaving.length === 0) return undefined;
  const removing = leaving.map(written);
  return JSON.stringify({ ...(held ? written(held) : {}), ...(removing.length > 0 ? { leaving: removing } : {}) });
}

type Fields = Partial<Record<keyof Publication | 'presentity' | keyof HostPort, unknown>>;

function heldOf({ presentity, etag, expiresAt, host, port }: Fields): HeldPublication | undefined {
  if (typeof presentity !== 'string' || typeof etag !== 'string' || typeof expiresAt !== 'number' || !etag) return undefined;
  return { presentity, etag, expiresAt, ...(typeof host === 'string' && typeof port === 'number' ? { server: { host, port } } : {}) };
}

/** Undefined for anything else: no address (written before publications were kept), or another publisher's. */
export function parsePublicationAddress(address: string | undefined): PublicationAddress | undefined {
  if (!address?.startsWith('{')) return undefined;
  let p: Fields & { leaving?: unknown };
  try {
    p = JSON.parse(address) as typeof p;
  } catch {
    return undefined;
  }
  const leaving: LeavingPublication[] = [];
  for (const l of Array.isArray(p.leaving) ? (p.leaving as Fields[]) : []) {
    const publication = heldOf(l);
    if (publication?.server) leaving.push({ ...publication, server: publication.server });
  }
  const held = heldOf(p);
  return held || leaving.length > 0 ? { ...(held ? { held } : {}), leaving } : undefined;
}
