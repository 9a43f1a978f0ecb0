import type { Endpoint } from '../../../shared/domain/signal.js';
import type { LineState } from '../../../shared/sip/dialog-info.js';
import { pbxEventChanges } from '../../connectors/pbx/map.js';
import type { PbxEvent } from '../../connectors/pbx/schema.js';
import type { SignalChange } from '../../merger/apply-changes.js';

const EVENT: Record<LineState, PbxEvent['type']> = {
  idle: 'hangup',
  ringing: 'ringing',
  'on-call': 'answered',
  'on-hold': 'held',
};

/**
 * A phone's line state read over SIP (dialog package, BLF) as the same signals a PBX's HTTP events give:
 * early → ringing, confirmed → on-call, terminated or no dialog → idle (RFC 4235).
 */
export function lineStateChanges(state: LineState, endpoint: Endpoint, observedAt: number): SignalChange[] {
  const event = { type: EVENT[state], device: endpoint.id, at: observedAt } as PbxEvent;
  return pbxEventChanges(event, endpoint, observedAt, 0);
}
