/**
 * Minimal presence documents for harness scenarios, written the way real
 * publishers send them (protocols.md 3.2 and 3.3). Tests of the hub's own
 * document builder should not use these as the expected output.
 */

export interface PidfOptions {
  /** Presentity AOR, e.g. sip:alice@example.test. */
  entity: string;
  /** Tuple id; Kamailio merges publications by it (same id = replace). Must not start with a digit. */
  tupleId?: string;
  basic?: 'open' | 'closed';
  note?: string;
  /** RPID activities, e.g. ['on-the-phone']; put in a dm:person with id `p-<tupleId>`. */
  activities?: string[];
}

export function pidf({ entity, tupleId = 't-harness', basic = 'open', note, activities = [] }: PidfOptions): string {
  const person = activities.length
    ? `\n  <dm:person id="p-${tupleId}"><rpid:activities>${activities.map((a) => `<rpid:${a}/>`).join('')}</rpid:activities></dm:person>`
    : '';
  const noteXml = note === undefined ? '' : `<note>${escapeXml(note)}</note>`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="${escapeXml(entity)}">`,
    `  <tuple id="${tupleId}"><status><basic>${basic}</basic></status>${noteXml}</tuple>${person}`,
    '</presence>',
  ].join('\n');
}

export type DialogState = 'trying' | 'proceeding' | 'early' | 'confirmed' | 'terminated';

export interface DialogInfoOptions {
  entity: string;
  /** Goes up by one per document (RFC 4235 4.1). */
  version: number;
  dialogs: Array<{ id: string; state: DialogState; direction?: 'initiator' | 'recipient'; callId?: string }>;
}

export function dialogInfo({ entity, version, dialogs }: DialogInfoOptions): string {
  const items = dialogs.map(({ id, state, direction = 'recipient', callId = id }) =>
    `  <dialog id="${escapeXml(id)}" call-id="${escapeXml(callId)}" direction="${direction}"><state>${state}</state></dialog>`,
  );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="${version}" state="full" entity="${escapeXml(entity)}">`,
    ...items,
    '</dialog-info>',
  ].join('\n');
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
