import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../../shared/clock/clock.js';
import { safeEqual } from '../../shared/crypto/secrets.js';
import { AppError, WrongCredentials } from '../../shared/errors/errors.js';

export interface ConnectLinkClaims {
  tenantId: string;
  personId: string;
  expiresAt: number;
}

const claimsSchema = z.object({ t: z.string().min(1).max(63), p: z.string().min(1).max(64), e: z.number().int().positive() }).strict();

/**
 * Signed, expiring connect links: `<base64url claims>.<base64url HMAC-SHA256>`. The link is the only
 * credential a person needs to connect or disconnect their own calendar, so it names one tenant and one
 * person, and it expires. Verification is constant time.
 */
export class ConnectLinks {
  constructor(
    private readonly key: Buffer,
    private readonly ttlMs: number,
    private readonly clock: Clock,
  ) {}

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(`connect-link.v1.${payload}`).digest('base64url');
  }

  issue(tenantId: string, personId: string, expiresAt = this.clock.now() + this.ttlMs): { token: string; expiresAt: number } {
    const payload = Buffer.from(JSON.stringify({ t: tenantId, p: personId, e: expiresAt })).toString('base64url');
    return { token: `${payload}.${this.mac(payload)}`, expiresAt };
  }

  verify(token: string): ConnectLinkClaims {
    const invalid = new WrongCredentials('invalid_connect_link', 'this connect link is not valid; ask your administrator for a new one', 404);
    const [payload, mac, extra] = token.split('.');
    if (!payload || !mac || extra !== undefined || token.length > 600) throw invalid;
    if (!safeEqual(mac, this.mac(payload))) throw invalid;
    let claims;
    try {
      claims = claimsSchema.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
    } catch {
      throw invalid;
    }
    if (claims.e <= this.clock.now()) throw new AppError(410, 'connect_link_expired', 'this connect link has expired; ask your administrator for a new one');
    return { tenantId: claims.t, personId: claims.p, expiresAt: claims.e };
  }
}
