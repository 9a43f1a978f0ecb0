import { describe, expect, it } from 'vitest';
import {
  dialogLineState,
  lineState,
  mergeDialogInfo,
  parseDialogInfo,
  type DialogInfo,
  type DialogInfoDialog,
} from '../../shared/sip/dialog-info.js';

const doc = (version: number, state: 'full' | 'partial', dialogs: string) =>
  `<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="${version}" state="${state}" entity="sip:1001@example.test">${dialogs}</dialog-info>`;

const parsed = (xml: string): DialogInfo => {
  const result = parseDialogInfo(xml);
  if (!result.ok) throw new Error(result.error);
  return result.value;
};

const dialog = (over: Partial<DialogInfoDialog>): DialogInfoDialog => ({ id: 'd', state: 'confirmed', held: false, ...over });

describe('dialog-info parser', () => {
  it('reads version, state, entity and dialogs', () => {
    const info = parsed(
      doc(
        3,
        'full',
        `<dialog id="a" call-id="c1" local-tag="l1" remote-tag="r1" direction="recipient"><state>early</state></dialog>
         <dialog id="b" direction="initiator"><state event="rejected" code="486">terminated</state></dialog>`,
      ),
    );
    expect(info).toEqual({
      version: 3,
      state: 'full',
      entity: 'sip:1001@example.test',
      dialogs: [
        { id: 'a', callId: 'c1', localTag: 'l1', remoteTag: 'r1', direction: 'recipient', state: 'early', event: undefined, code: undefined, held: false },
        { id: 'b', callId: undefined, localTag: undefined, remoteTag: undefined, direction: 'initiator', state: 'terminated', event: 'rejected', code: 486, held: false },
      ],
    });
  });

  it('accepts any prefix and sees a held call', () => {
    const info = parsed(`<d:dialog-info xmlns:d="urn:ietf:params:xml:ns:dialog-info" version="0" state="partial" entity="sip:x@y">
      <d:dialog id="h"><d:state>confirmed</d:state>
        <d:local><d:identity>sip:x@y</d:identity><d:target uri="sip:x@10.0.0.1"><d:param pname="+sip.rendering" pvalue="no"/></d:target></d:local>
      </d:dialog></d:dialog-info>`);
    expect(info.state).toBe('partial');
    expect(info.dialogs[0]).toMatchObject({ id: 'h', state: 'confirmed', held: true });
    expect(lineState(info)).toBe('on-hold');
  });

  it('skips dialogs without id or with an unknown state', () => {
    const info = parsed(doc(1, 'full', '<dialog><state>early</state></dialog><dialog id="x"><state>dancing</state></dialog>'));
    expect(info.dialogs).toEqual([]);
  });

  it.each([
    ['not XML', 'hello'],
    ['another document', '<presence/>'],
    ['no version', '<dialog-info state="full" entity="e"/>'],
    ['bad state', '<dialog-info version="1" state="half" entity="e"/>'],
    ['unclosed', '<dialog-info version="1" state="full"><dialog>'],
  ])('returns an error for %s', (_, xml) => {
    expect(parseDialogInfo(xml).ok).toBe(false);
  });
});

describe('line state', () => {
  it.each([
    [dialog({ state: 'early', direction: 'recipient' }), 'ringing'],
    [dialog({ state: 'trying', direction: 'recipient' }), 'ringing'],
    [dialog({ state: 'early' }), 'ringing'],
    [dialog({ state: 'early', direction: 'initiator' }), 'on-call'],
    [dialog({ state: 'confirmed' }), 'on-call'],
    [dialog({ state: 'confirmed', held: true }), 'on-hold'],
    [dialog({ state: 'terminated' }), 'idle'],
  ] as const)('%o is %s', (d, expected) => {
    expect(dialogLineState(d)).toBe(expected);
  });

  it('is idle with no dialogs and the busiest of several', () => {
    const info = (dialogs: DialogInfoDialog[]): DialogInfo => ({ version: 1, state: 'full', entity: 'e', dialogs });
    expect(lineState(info([]))).toBe('idle');
    expect(lineState(info([dialog({ id: 'a', state: 'early', direction: 'recipient' }), dialog({ id: 'b', state: 'confirmed' })]))).toBe('on-call');
    expect(lineState(info([dialog({ id: 'a', state: 'early', direction: 'recipient' }), dialog({ id: 'b', held: true })]))).toBe('on-hold');
    expect(lineState(info([dialog({ id: 'a', state: 'terminated' }), dialog({ id: 'b', state: 'early', direction: 'recipient' })]))).toBe('ringing');
  });
});

describe('merging documents', () => {
  const full = parsed(doc(1, 'full', '<dialog id="a" direction="recipient"><state>early</state></dialog>'));

  it('overlays a partial document on the known dialogs and drops terminated ones', () => {
    const second = mergeDialogInfo(full, parsed(doc(2, 'partial', '<dialog id="b"><state>confirmed</state></dialog>')));
    expect(second.kind === 'applied' && second.info.dialogs.map((d) => d.id)).toEqual(['a', 'b']);
    if (second.kind !== 'applied') return;
    expect(second.missed).toBe(false);
    expect(lineState(second.info)).toBe('on-call');

    const third = mergeDialogInfo(second.info, parsed(doc(3, 'partial', '<dialog id="b"><state>terminated</state></dialog>')));
    expect(third.kind === 'applied' && lineState(third.info)).toBe('ringing');
  });

  it('replaces everything with a full document', () => {
    const next = mergeDialogInfo(full, parsed(doc(2, 'full', '')));
    expect(next.kind === 'applied' && next.info.dialogs).toEqual([]);
  });

  it('discards documents that are not newer and flags a version gap', () => {
    expect(mergeDialogInfo(full, parsed(doc(1, 'full', ''))).kind).toBe('outdated');
    const gap = mergeDialogInfo(full, parsed(doc(5, 'partial', '')));
    expect(gap).toMatchObject({ kind: 'applied', missed: true });
    expect(mergeDialogInfo(undefined, parsed(doc(5, 'partial', '')))).toMatchObject({ kind: 'applied', missed: true });
    expect(mergeDialogInfo(undefined, full)).toMatchObject({ kind: 'applied', missed: false });
  });
});
