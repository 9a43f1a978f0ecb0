import type { Presence } from '../../shared/domain/presence.js';

/** Asterisk device states an ARI-controlled device can take (ARI Devicestates API). */
export type AsteriskDeviceState = 'NOT_INUSE' | 'INUSE' | 'BUSY' | 'RINGING' | 'ONHOLD' | 'UNAVAILABLE';

/**
 * The canonical state as an Asterisk device state, so BLF lamps and queue `state_interface`s follow
 * it: only a routable person is NOT_INUSE (queues ring them); call states keep their own lamps; every
 * other reason not to ring (meeting, DND, wrap-up) is BUSY, so queues skip the member; nobody
 * reachable or nothing known is UNAVAILABLE.
 */
export function asteriskDeviceState(p: Presence | undefined): AsteriskDeviceState {
  if (!p) return 'UNAVAILABLE';
  switch (p.activity) {
    case 'ringing':
      return 'RINGING';
    case 'on-call':
      return 'INUSE';
    case 'on-hold':
      return 'ONHOLD';
  }
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
];
