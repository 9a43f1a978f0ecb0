import type { Person } from '../../shared/domain/directory.js';
import type { Presence } from '../../shared/domain/presence.js';

/** Asterisk device states an ARI-controlled device can take (ARI Devicestates API). */
export type AsteriskDeviceState = 'NOT_INUSE' | 'INUSE' | 'BUSY' | 'RINGING' | 'ONHOLD' | 'UNAVAILABLE';

/**
 * The canonical state as an Asterisk device state, so BLF lamps and queue `state_interface`s follow
 * it: only a routable person is NOT_INUSE (queues ring them); call states keep their own lamps; every
 * other reason not to ring (meeting, DND, wrap-up) is BUSY, so queues skip the member; nobody
 * reachable or nothing known is UNAVAILABLE. A person marked sensitive shows the PBX what a `pbx` key
 * sees of them: whether to ring them, not what they do (a Teams or mobile call the PBX does not carry
 * would otherwise light INUSE); the PBX's own calls still light the lamps it drives itself.
 */
export function asteriskDeviceState(p: Presence | undefined, person: Pick<Person, 'sensitive'> | undefined): AsteriskDeviceState {
  if (!p) return 'UNAVAILABLE';
  // A state whose directory record could not be read (deleted meanwhile) is shown as for a sensitive person.
  if (person && !person.sensitive) return callState(p) ?? availabilityState(p);
  return availabilityState(p);
}

function callState(p: Presence): AsteriskDeviceState | undefined {
  switch (p.activity) {
    case 'ringing':
      return 'RINGING';
    case 'on-call':
      return 'INUSE';
    case 'on-hold':
      return 'ONHOLD';
  }
  return undefined;
}

function availabilityState(p: Presence): AsteriskDeviceState {
  if (p.routable) return 'NOT_INUSE';
  switch (p.availability) {
    case 'busy':
    case 'dnd':
      return 'BUSY';
    default:
      return 'UNAVAILABLE';
  }
}

/** The README prints this table; each row is a canonical state and its device state. */
export const ARI_MAPPING_TABLE: ReadonlyArray<[string, AsteriskDeviceState]> = [
  ['ringing', 'RINGING'],
  ['on-call', 'INUSE'],
  ['on-hold', 'ONHOLD'],
  ['available and routable', 'NOT_INUSE'],
  ['busy or dnd (meeting, presenting, focus, wrap-up, DND, custom busy reasons)', 'BUSY'],
  ['away, offline, unknown, or available without a reachable endpoint', 'UNAVAILABLE'],
  ['person removed', 'UNAVAILABLE'],
  ['a person marked sensitive: ringing, on-call or on-hold, as for any other busy state', 'BUSY'],
];
