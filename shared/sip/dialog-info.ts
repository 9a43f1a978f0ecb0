import type { CallState } from '../domain/signal.js';
import { nodesOf, readXml, textOf, type XmlNode } from './xml.js';

export const DIALOG_INFO_CONTENT_TYPE = 'application/dialog-info+xml';

/** RFC 4235 §3.7.1 dialog states. */
export const DIALOG_STATES = ['trying', 'proceeding', 'early', 'confirmed', 'terminated'] as const;
export type DialogState = (typeof DIALOG_STATES)[number];

export interface DialogInfoDialog {
  id: string;
  callId?: string;
  localTag?: string;
  remoteTag?: string;
  direction?: 'initiator' | 'recipient';
  state: DialogState;
  /** Why it ended (`rejected`, `remote-bye`, …). */
  event?: string;
  code?: number;
  /** The local side stopped rendering media: `+sip.rendering="no"` (RFC 4235 §4.1.6.2). */
  held: boolean;
}

export interface DialogInfo {
  version: number;
  state: 'full' | 'partial';
  entity: string;
  dialogs: DialogInfoDialog[];
}

export type DialogInfoResult = { ok: true; value: DialogInfo } | { ok: false; error: string };

const attr = (node: XmlNode | undefined, name: string): string | undefined => {
  const value = node?.[`@_${name}`];
  return typeof value === 'string' ? value : undefined;
};

function isHeld(dialog: XmlNode): boolean {
  const targets = nodesOf(nodesOf(dialog['local'])[0]?.['target']);
  return targets
    .flatMap((t) => nodesOf(t['param']))
    .some((p) => attr(p, 'pname')?.toLowerCase() === '+sip.rendering' && attr(p, 'pvalue')?.toLowerCase() === 'no');
}

function readDialog(node: XmlNode): DialogInfoDialog | undefined {
  const id = attr(node, 'id');
  const stateNode = nodesOf(node['state'])[0] ?? node['state'];
  const state = DIALOG_STATES.find((s) => s === textOf(stateNode));
  if (!id || !state) return undefined;
  const direction = attr(node, 'direction');
  const code = Number(attr(nodesOf(stateNode)[0], 'code'));
  return {
    id,
    callId: attr(node, 'call-id'),
    localTag: attr(node, 'local-tag'),
    remoteTag: attr(node, 'remote-tag'),
    direction: direction === 'initiator' || direction === 'recipient' ? direction : undefined,
    state,
    event: attr(nodesOf(stateNode)[0], 'event'),
    code: Number.isInteger(code) && code > 0 ? code : undefined,
    held: isHeld(node),
  };
}

/** Reads an `application/dialog-info+xml` document with any prefixes. Never throws. */
export function parseDialogInfo(xml: string): DialogInfoResult {
  const root = nodesOf(readXml(xml, ['dialog', 'target', 'param'])?.['dialog-info'])[0];
  if (!root) return { ok: false, error: 'not a dialog-info document' };
  const version = attr(root, 'version');
  const state = attr(root, 'state');
  if (!version || !/^\d{1,15}$/.test(version)) return { ok: false, error: 'missing or bad version' };
  if (state !== 'full' && state !== 'partial') return { ok: false, error: 'missing or bad state' };
  const dialogs = nodesOf(root['dialog'])
    .map(readDialog)
    .filter((d): d is DialogInfoDialog => d !== undefined);
  return { ok: true, value: { version: Number(version), state, entity: attr(root, 'entity') ?? '', dialogs } };
}

export type LineState = 'idle' | CallState;

/** Higher is busier: a confirmed call outweighs one on hold, which outweighs a ringing one. */
const RANK: Readonly<Record<LineState, number>> = { idle: 0, ringing: 1, 'on-hold': 2, 'on-call': 3 };

/** BLF reading of one dialog: an outgoing call being set up already engages the line. */
export function dialogLineState(dialog: DialogInfoDialog): LineState {
  switch (dialog.state) {
    case 'terminated':
      return 'idle';
    case 'confirmed':
      return dialog.held ? 'on-hold' : 'on-call';
    default:
      return dialog.direction === 'initiator' ? 'on-call' : 'ringing';
  }
}

/** The busiest state among the dialogs; none means idle. */
export function lineState(info: DialogInfo): LineState {
  return info.dialogs.map(dialogLineState).reduce<LineState>((a, b) => (RANK[b] > RANK[a] ? b : a), 'idle');
}

export type DialogInfoUpdate =
  /** `missed`: a partial document skipped a version, so state may be lost; refresh the subscription. */
  | { kind: 'applied'; info: DialogInfo; missed: boolean }
  /** Not newer than what is known (RFC 4235 §4.1: discard). */
  | { kind: 'outdated' };

/**
 * Applies a NOTIFY's document to the known state of the same subscription: `full` replaces,
 * `partial` overlays dialogs by id. Terminated dialogs are dropped; the result is always `full`.
 */
export function mergeDialogInfo(known: DialogInfo | undefined, incoming: DialogInfo): DialogInfoUpdate {
  if (known && incoming.version <= known.version) return { kind: 'outdated' };
  const dialogs = new Map<string, DialogInfoDialog>();
  if (incoming.state === 'partial') for (const d of known?.dialogs ?? []) dialogs.set(d.id, d);
  for (const d of incoming.dialogs) dialogs.set(d.id, d);
  const live = [...dialogs.values()].filter((d) => d.state !== 'terminated');
  const missed = incoming.state === 'partial' && (!known || incoming.version !== known.version + 1);
  return { kind: 'applied', info: { ...incoming, state: 'full', dialogs: live }, missed };
}
