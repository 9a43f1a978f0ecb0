import { createHmac, randomBytes } from 'node:crypto';
import { safeEqual } from '../../shared/crypto/secrets.js';

/** A Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * Standard Webhooks signature: base64 HMAC-SHA256, keyed with the secret's base64-decoded bytes, over
 * `<webhook-id>.<webhook-timestamp>.<body>`; sent as `webhook-signature: v1,<signature>`.
 */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** Receiver-side check, for tests and for documentation of what receivers do. */
export function verifyWebhook(secret: string, headers: Record<string, string | undefined>, body: string, nowSec: number, toleranceSec = 300): boolean {
  const id = headers['webhook-id'];
  const ts = Number(headers['webhook-timestamp']);
  const sigs = headers['webhook-signature'];
  if (!id || !Number.isFinite(ts) || !sigs || Math.abs(nowSec - ts) > toleranceSec) return false;
  const expected = signWebhook(secret, id, ts, body);
  return sigs.split(' ').some((s) => safeEqual(s, expected));
}
