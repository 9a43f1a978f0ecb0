import { createHash } from 'node:crypto';
import type { Person } from '../../shared/domain/directory.js';
import type { Target } from '../../shared/domain/target.js';

/** Keys sorted at every level: replicas that hold the same record in another key order agree. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Which directory record, and which configuration of the target, a state was rendered with: a renamed or
 * newly sensitive person reads differently at the same version, and a target pointed elsewhere (a new
 * URL, server or device name) holds nothing yet. Kept in the delivery ledger, so a replica taking a
 * target over, or opening it after it was reconfigured, sends again what changed since.
 */
export function renderingOf(person: Person | undefined, target: Target): string {
  return createHash('sha256').update(canonical([target, person ?? null])).digest('base64url').slice(0, 16);
}
