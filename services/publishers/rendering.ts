import { createHash } from 'node:crypto';
import type { Person } from '../../shared/domain/directory.js';
import { stableJson } from '../../shared/domain/stable-json.js';
import type { Target } from '../../shared/domain/target.js';

/**
 * Which directory record, and which configuration of the target, a state was rendered with: a renamed or
 * newly sensitive person reads differently at the same version, and a target pointed elsewhere (a new
 * URL, server or device name) holds nothing yet. Kept in the delivery ledger, so a replica taking a
 * target over, or opening it after it was reconfigured, sends again what changed since.
 */
export function renderingOf(person: Person | undefined, target: Target): string {
  return createHash('sha256').update(stableJson([target, person ?? null])).digest('base64url').slice(0, 16);
}
