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
function put(signal: Omit<Signal, 'source' | 'observedAt'>, observedAt: number): Extract<SignalChange, { op: 'put' }> {
  const { id, claim, until } = signal;
  return { op: 'put', signal: until === undefined ? { id, claim, source: 'pbx', observedAt } : { id, claim, until, source: 'pbx', observedAt } };
}

function cleared(signalId: string, observedAt: number): SignalChange {
  return put({ id: signalId, claim: { kind: 'cleared' }, until: observedAt + TOMBSTONE_MS }, observedAt);
}

/** Whether a call signal the test picks by id was answered (on a call or on hold, not only ringing). */
function answered(isCall: (signalId: string) => boolean): (signals: readonly Signal[]) => boolean {
  return (signals) => signals.some((s) => isCall(s.id) && s.claim.kind === 'call' && s.claim.state !== 'ringing');
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
      // Wrap-up follows a call the person had: one that rang out was never theirs (as for routing's
      // call counts), so the check runs before the hang-up clears the call's state.
      const wrap = event.wrapUpSeconds ?? (event.queue ? defaultWrapUpSeconds : 0);
      const out: SignalChange[] = [];
      if (wrap > 0) {
        const call = pbxSignalIds.call(id, event.callId);
        const prefix = pbxSignalIds.callPrefix(id);
        const wrapUp = put({ id: pbxSignalIds.wrapUp(id), claim: { kind: 'wrap-up' }, until: observedAt + wrap * 1000 }, observedAt);
        out.push({ ...wrapUp, when: answered(event.callId ? (s) => s === call : (s) => s.startsWith(prefix)) });
      }
      if (event.callId) out.push(cleared(pbxSignalIds.call(id, event.callId), observedAt));
      else {
        out.push(
          { op: 'clear', prefix: pbxSignalIds.callPrefix(id), observedAt, keepMs: TOMBSTONE_MS, source: 'pbx' },
          // Also a tombstone for a call event without a call id that arrives late.
          cleared(pbxSignalIds.call(id), observedAt),
        );
      }
      return out;
    }
    case 'dnd-on':
      return [put({ id: pbxSignalIds.dnd(id), claim: { kind: 'dnd' } }, observedAt)];
    case 'dnd-off':
      return [cleared(pbxSignalIds.dnd(id), observedAt)];
  }
}
