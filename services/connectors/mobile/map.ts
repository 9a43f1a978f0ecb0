import type { Device, Person } from '../../../shared/domain/directory.js';
import type { Signal } from '../../../shared/domain/signal.js';
import type { SignalChange } from '../../merger/apply-changes.js';
import type { HeartbeatInput } from './schema.js';

export const mobileSignalId = (deviceId: string) => `mobile:${deviceId}`;

export interface HeartbeatTtls {
  foregroundTtlMs: number;
  backgroundTtlMs: number;
}

/** A heartbeat makes the app a reachable endpoint until its TTL runs out without another one. */
export function heartbeatChange(input: HeartbeatInput, device: Device, person: Person, ttl: HeartbeatTtls, now: number): SignalChange {
  const contact = device.contact ?? person.mobileNumber;
  const endpoint = contact ? { id: device.id, kind: 'mobile' as const, contact } : { id: device.id, kind: 'mobile' as const };
  const reachable = input.state !== 'signed-out';
  const id = mobileSignalId(device.id);
  const claim: Signal['claim'] = { kind: 'endpoint', endpoint, reachable };
  const note = input.state;
  // Both shapes written out whole, so a stored signal keeps all its fields inside the object.
  const signal: Signal = reachable
    ? { id, source: 'mobile', claim, observedAt: now, note, until: now + (input.state === 'foreground' ? ttl.foregroundTtlMs : ttl.backgroundTtlMs) }
    : { id, source: 'mobile', claim, observedAt: now, note };
  return { op: 'put', signal };
}
