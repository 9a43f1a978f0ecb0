import { describe, expect, it } from 'vitest';
import { parsePublicationAddress, publicationAddress } from '../../services/publishers/sip/publication-address.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');
const held = { presentity: 'sip:19@example.test', etag: 'b-19', expiresAt: T0 + 600_000 };
const leaving = [{ presentity: 'sip:11@example.test', etag: 'a-11', expiresAt: T0 + 300_000, server: { host: 'a.example.test', port: 5070 } }];

/**
 * The SIP publisher's address in the delivery ledger. During a rolling upgrade replicas of the previous version
 * (which kept only the publication, as top-level presentity, etag and expiry) and of this one read each other's.
 */
describe('SIP publication address in the delivery ledger', () => {
  it("reads an address written before removals were kept as the publication kept up, with none under way", () => {
    expect(parsePublicationAddress(JSON.stringify(held))).toEqual({ held, leaving: [] });
  });

  it('keeps the publication where the previous version reads it, beside the removals under way', () => {
    const written = publicationAddress({ held, leaving })!;
    const { presentity, etag, expiresAt } = JSON.parse(written) as Record<string, unknown>;
    expect({ presentity, etag, expiresAt }).toEqual(held);
    expect(parsePublicationAddress(written)).toEqual({ held, leaving });
  });

  it('keeps the server that issued the etag of the publication kept up, the only one that knows it', () => {
    const atB = { ...held, server: { host: 'b.example.test', port: 5080 } };
    const written = publicationAddress({ held: atB, leaving: [] })!;
    expect(JSON.parse(written)).toEqual({ ...held, host: 'b.example.test', port: 5080 });
    expect(parsePublicationAddress(written)).toEqual({ held: atB, leaving: [] });
  });

  it('drops what it cannot read, not the rest', () => {
    const broken = JSON.stringify({ ...held, leaving: [{ presentity: 'sip:12@example.test', etag: 'a-12', expiresAt: T0 }, { ...leaving[0], host: 'a.example.test', port: 5070, server: undefined }, 'x'] });
    expect(parsePublicationAddress(broken)).toEqual({ held, leaving });
    expect(parsePublicationAddress(JSON.stringify({ ...held, leaving: 'x' }))).toEqual({ held, leaving: [] });
    expect(parsePublicationAddress('{not json')).toBeUndefined();
    expect(parsePublicationAddress('PJSIP/11')).toBeUndefined();
    expect(publicationAddress({ leaving: [] })).toBeUndefined();
  });
});
