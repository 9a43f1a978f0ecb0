import type { Endpoint, Signal } from '../../../shared/domain/signal.js';
import type { SignalChange } from '../../merger/apply-changes.js';
import type { PbxEvent } from './schema.js';

/** Ended calls and cleared DND are remembered this long, so late events for them are recognised as old. */
export const TOMBSTONE_MS = 10 * 60_000;

/** The endpoint a PBX event naming an extension (not a device) speaks for. */
export const extensionEndpointId = (extension: string) => `ext-${extension}`;

export const pbxSignalIds = {
  registration: (endpointId: string) => `pbx:reg:${endpointId}`,
  callPrefix: (endpointId: string) => `pbx:call:${endpointId}:`,
  call: (endpointId: string, callId = '_') => `pbx:call:${endpointId}:${callId}`,
  dnd: (endpointId: string) => `pbx:dnd:${endpointId}`,
  wrapUp: (endpointId: string) => `pbx:wrap:${endpointId}`,
};

const CALL_STATE = { ringing: 'ringing', answered: 'on-call', held: 'on-hold', resumed: 'on-call' } as const;

// Module-level rather than closures per event: this runs for every PBX event. Each shape is written out
// whole, so a stored signal keeps all its fields inside the object (no separate property store).
function put(signal: Omit<Signal, 'source' | 'observedAt'>, observedAt: number): SignalChange {
  const { id, claim, until } = signal;
  return { op: 'put', signal: until === undefined ? { id, claim, source: 'pbx', observedAt } : { id, claim, until, source: 'pbx', observedAt } };
}

function cleared(signalId: string, observedAt: number): SignalChange {
  return put({ id: signalId, claim: { kind: 'cleared' }, until: observedAt + TOMBSTONE_MS }, observedAt);
}

/** Also used by the SIP dialog (BLF) subscriber, which reports the same kinds of facts. */
export function pbxEventChanges(event: PbxEvent, endpoint: Endpoint, observedAt: number, defaultWrapUpSeconds: number): SignalChange[] {
  const id = endpoint.id;
  switch (event.type) {
    case 'registered': {
      const s: Omit<Signal, 'source' | 'observedAt'> = { id: pbxSignalIds.registration(id), claim: { kind: 'endpoint', endpoint, reachable: true } };
      if (event.expiresSec !== undefined) s.until = observedAt + event.expiresSec * 1000;
      return [put(s, observedAt)];
    }
    case 'unregistered':
      return [put({ id: pbxSignalIds.registration(id), claim: { kind: 'endpoint', endpoint, reachable: false } }, observedAt)];
    case 'ringing':
    case 'answered':
    case 'held':
    case 'resumed':
      return [put({ id: pbxSignalIds.call(id, event.callId), claim: { kind: 'call', state: CALL_STATE[event.type] } }, observedAt)];
    case 'hangup': {
      const out: SignalChange[] = event.callId
        ? [cleared(pbxSignalIds.call(id, event.callId), observedAt)]
        : [
            { op: 'clear', prefix: pbxSignalIds.callPrefix(id), observedAt, keepMs: TOMBSTONE_MS, source: 'pbx' },
            // Also a tombstone for a call event without a call id that arrives late.
            cleared(pbxSignalIds.call(id), observedAt),
          ];
      const wrap = event.wrapUpSeconds ?? (event.queue ? defaultWrapUpSeconds : 0);
      if (wrap > 0) out.push(put({ id: pbxSignalIds.wrapUp(id), claim: { kind: 'wrap-up' }, until: observedAt + wrap * 1000 }, observedAt));
      return out;
    }
    case 'dnd-on':
      return [put({ id: pbxSignalIds.dnd(id), claim: { kind: 'dnd' } }, observedAt)];
    case 'dnd-off':
      return [cleared(pbxSignalIds.dnd(id), observedAt)];
  }
}
