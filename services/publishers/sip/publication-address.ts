import type { Publication } from '../../../shared/sip/publisher.js';

/** A publication of one presentity, as the delivery ledger keeps it for a replica taking the target over. */
export interface HeldPublication extends Publication {
  presentity: string;
}

export function publicationAddress(p: HeldPublication): string {
  return JSON.stringify({ presentity: p.presentity, etag: p.etag, expiresAt: p.expiresAt });
}

/** Undefined for anything else: no address (written before publications were kept), or another publisher's. */
export function parsePublicationAddress(address: string | undefined): HeldPublication | undefined {
  if (!address?.startsWith('{')) return undefined;
  let p: Partial<Record<keyof HeldPublication, unknown>>;
  try {
    p = JSON.parse(address) as typeof p;
  } catch {
    return undefined;
  }
  const { presentity, etag, expiresAt } = p;
  if (typeof presentity !== 'string' || typeof etag !== 'string' || typeof expiresAt !== 'number' || !etag) return undefined;
  return { presentity, etag, expiresAt };
}
