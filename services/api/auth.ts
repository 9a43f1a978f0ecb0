import type { Request } from 'express';
import { hashToken, hmacSha256Hex, safeEqual } from '../../shared/crypto/secrets.js';
import type { Role } from '../../shared/domain/directory.js';
import { AppError, forbidden, unauthorized, WrongCredentials } from '../../shared/errors/errors.js';
import type { Hub } from '../hub.js';
import type { AuthMode } from './route.js';

export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'operator' }
  | { kind: 'key'; tenantId: string; keyId: string; role: Role; personId?: string }
  | { kind: 'device'; tenantId: string; personId: string; deviceId: string }
  | { kind: 'pbx'; tenantId: string; keyId: string; /** The batch's replay fingerprint. */ replayKey: string };

/** The tenant a PBX request says it signs for (unverified: only for looking up its failed-authentication bucket). */
export function claimedPbxTenant(req: Request): string | undefined {
  return req.header(SIGNATURE_HEADERS.keyId)?.split('/')[0];
}

export type KeyPrincipal = Extract<Principal, { kind: 'key' }>;

function bearer(req: Request): string {
  const h = req.headers.authorization;
  if (!h) throw unauthorized('missing_credentials', 'send Authorization: Bearer <key>');
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  if (!m) throw unauthorized('invalid_credentials', 'Authorization must be a Bearer token');
  return m[1]!;
}

export const SIGNATURE_HEADERS = {
  keyId: 'x-presence-key-id',
  timestamp: 'x-presence-timestamp',
  signature: 'x-presence-signature',
} as const;

/** The string a PBX signs: `<unix seconds>.<raw body>`, HMAC-SHA256 with its key, hex, sent as `v1=<hex>`. */
export function signedPayload(timestamp: string, body: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from(`${timestamp}.`), Buffer.isBuffer(body) ? body : Buffer.from(body)]);
}

export function signPbxRequest(secret: string, timestamp: string, body: Buffer | string): string {
  return `v1=${hmacSha256Hex(secret, signedPayload(timestamp, body))}`;
}

export async function authenticate(hub: Hub, req: Request, mode: AuthMode, roles?: readonly Role[]): Promise<Principal> {
  switch (mode) {
    case 'none':
      return { kind: 'anonymous' };
    case 'operator': {
      const token = bearer(req);
      if (!hub.config.operatorKey || !safeEqual(token, hub.config.operatorKey)) {
        throw new WrongCredentials('operator_only', 'this route needs the operator key', 403);
      }
      return { kind: 'operator' };
    }
    case 'key': {
      const token = bearer(req);
      // The operator key is valid, just not here: say so rather than call it unknown.
      if (hub.config.operatorKey && safeEqual(token, hub.config.operatorKey)) {
        throw forbidden('tenant_required', 'the operator key belongs to no tenant: use a key of the tenant (the operator key creates, lists and deletes tenants and sets their request limits at /v1/tenants)');
      }
      const key = await hub.store.directory.findUnique('apiKeys', 'hash', hashToken(token));
      if (!key) throw new WrongCredentials('invalid_credentials', 'unknown or revoked API key');
      if (roles && !roles.includes(key.role)) throw forbidden('forbidden_role', `${key.role} keys may not use this route`);
      const p: Principal = { kind: 'key', tenantId: key.tenantId, keyId: key.id, role: key.role };
      if (key.personId) p.personId = key.personId;
      return p;
    }
    case 'device': {
      const device = await hub.store.directory.findUnique('devices', 'tokenHash', hashToken(bearer(req)));
      if (!device) throw new WrongCredentials('invalid_device_token', 'unknown or revoked device token');
      return { kind: 'device', tenantId: device.tenantId, personId: device.personId, deviceId: device.id };
    }
    case 'pbx':
      return verifyPbxSignature(hub, req);
  }
}

async function verifyPbxSignature(hub: Hub, req: Request): Promise<Principal> {
  const keyRef = req.header(SIGNATURE_HEADERS.keyId);
  const timestamp = req.header(SIGNATURE_HEADERS.timestamp);
  const signatures = req.header(SIGNATURE_HEADERS.signature);
  if (!keyRef || !timestamp || !signatures) {
    throw unauthorized('missing_signature', `send ${Object.values(SIGNATURE_HEADERS).join(', ')}`);
  }
  const [tenantId, keyId] = keyRef.split('/');
  const key = tenantId && keyId ? await hub.store.directory.get('apiKeys', tenantId, keyId) : undefined;
  if (!key || key.role !== 'pbx') throw new WrongCredentials('invalid_credentials', 'unknown PBX key id (expected <tenant>/<key id>)');
  const secret = hub.directory.pbxSecret(key);
  if (!secret) throw unauthorized('invalid_credentials', 'this key cannot sign');
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const expected = signPbxRequest(secret, timestamp, body);
  if (!signatures.split(/\s+/).some((s) => safeEqual(s, expected))) {
    throw new WrongCredentials('invalid_signature', 'the signature does not match the body', 401, key.tenantId);
  }
  const sec = Number(timestamp);
  const now = hub.clock.now();
  const window = hub.config.pbx.replayWindowMs;
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now - sec * 1000) > window) {
    throw unauthorized('stale_timestamp', `the timestamp must be within ${window / 1000} s of now`);
  }
  const replayKey = `pbx:${tenantId}:${expected}`;
  if (!(await hub.replay.firstSeen(replayKey, now, 2 * window))) {
    throw new AppError(409, 'replayed_request', 'this signed batch was already received');
  }
  return { kind: 'pbx', tenantId: key.tenantId, keyId: key.id, replayKey };
}

/** A member key may act only on its own person; other roles pass. */
export function assertSelfOrRoles(p: Principal, personId: string, roles: readonly Role[]): void {
  if (p.kind !== 'key') throw forbidden('forbidden_principal', 'an API key is required');
  if (roles.includes(p.role)) return;
  if (p.role === 'member' && p.personId === personId) return;
  throw forbidden('not_your_person', 'a member key may only read or change its own person');
}

export function tenantOf(p: Principal): string {
  if (p.kind === 'key' || p.kind === 'device' || p.kind === 'pbx') return p.tenantId;
  throw forbidden('tenant_required', 'this route needs a tenant-scoped credential');
}
