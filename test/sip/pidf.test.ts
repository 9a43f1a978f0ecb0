import { XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { BUILTIN_ACTIVITIES } from '../../shared/domain/activity.js';
import { ACTIVITY_NOTE, buildPidf, noteFor, parsePidf, RPID_ACTIVITY, type PidfPresence } from '../../shared/sip/pidf.js';

const ID = { entity: 'sip:alice@example.test', tupleId: 't-hub', personId: 'p-hub' };
const SINCE = Date.parse('2026-03-02T09:00:00Z');
const presence = (over: Partial<PidfPresence> = {}): PidfPresence => ({
  availability: 'available',
  activity: 'available',
  routable: true,
  since: SINCE,
  ...over,
});

describe('PIDF builder', () => {
  it('decides every built-in activity explicitly', () => {
    expect(Object.keys(RPID_ACTIVITY).sort()).toEqual([...BUILTIN_ACTIVITIES].sort());
    expect(Object.keys(ACTIVITY_NOTE).sort()).toEqual([...BUILTIN_ACTIVITIES].sort());
  });

  it('is open only when available and routable', () => {
    expect(buildPidf(presence(), ID)).toContain('<basic>open</basic>');
    expect(buildPidf(presence({ routable: false }), ID)).toContain('<basic>closed</basic>');
    expect(buildPidf(presence({ availability: 'busy', activity: 'on-call', routable: false }), ID)).toContain('<basic>closed</basic>');
  });

  it('writes the literal strings baresip matches', () => {
    const onCall = buildPidf(presence({ availability: 'busy', activity: 'on-call', routable: false }), ID);
    expect(onCall).toContain('<rpid:activities><rpid:on-the-phone/></rpid:activities>');
    expect(buildPidf(presence({ availability: 'away', activity: 'away' }), ID)).toContain('<rpid:away/>');
    expect(buildPidf(presence({ availability: 'dnd', activity: 'dnd' }), ID)).toContain('<rpid:busy/>');
    expect(buildPidf(presence(), ID)).toContain('<basic>open</basic>');
  });

  it('carries the caller tuple and person ids, a note, a timestamp and well-formed XML', () => {
    const xml = buildPidf(presence({ availability: 'busy', activity: 'in-meeting', routable: false }), ID);
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(xml).toContain('<tuple id="t-hub">');
    expect(xml).toContain('<dm:person id="p-hub">');
    expect(xml).toContain('<note>In a meeting</note>');
    expect(xml).toContain('<timestamp>2026-03-02T09:00:00.000Z</timestamp>');
    expect(xml).toContain('<rpid:meeting/>');
    expect(xml).toContain('xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"');
    expect(xml).not.toContain('timed-status');
  });

  it('maps custom reasons to rpid:other with a readable note, escaping the entity', () => {
    const xml = buildPidf(presence({ availability: 'busy', activity: 'lunch-break', routable: false }), { ...ID, entity: 'sip:a&b@example.test' });
    expect(xml).toContain('<rpid:other>lunch-break</rpid:other>');
    expect(xml).toContain('<note>Lunch break</note>');
    expect(xml).toContain('entity="sip:a&amp;b@example.test"');
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(noteFor('training')).toBe('Training');
  });

  it('adds until to activities and an RFC 4481 timed-status for the next state', () => {
    const until = Date.parse('2026-03-02T10:00:00Z');
    const xml = buildPidf(
      presence({
        availability: 'busy',
        activity: 'in-meeting',
        routable: false,
        until,
        next: { at: until, availability: 'away', activity: 'out-of-office' },
      }),
      ID,
    );
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(xml).toContain('xmlns:ts="urn:ietf:params:xml:ns:pidf:timed-status"');
    expect(xml).toContain('<rpid:activities until="2026-03-02T10:00:00.000Z"><rpid:meeting/></rpid:activities>');
    expect(xml).toContain('<ts:timed-status from="2026-03-02T10:00:00.000Z"><ts:basic>closed</ts:basic></ts:timed-status>');
    expect(xml).toContain('<ts:timed-status from="2026-03-02T10:00:00.000Z"><rpid:activities><rpid:vacation/></rpid:activities></ts:timed-status>');
  });

  it('omits activities where the table says none', () => {
    expect(buildPidf(presence({ availability: 'offline', activity: 'offline', routable: false }), ID)).not.toContain('rpid:activities');
  });

  it('refuses tuple ids that are not XML IDs', () => {
    expect(() => buildPidf(presence(), { ...ID, tupleId: '1tuple' })).toThrow(RangeError);
  });
});

describe('PIDF parser', () => {
  it('reads back what the builder writes', () => {
    const xml = buildPidf(presence({ availability: 'busy', activity: 'on-hold', routable: false }), ID);
    expect(parsePidf(xml)).toEqual({
      ok: true,
      value: { entity: 'sip:alice@example.test', basic: 'closed', activities: ['on-the-phone'], other: undefined, note: 'On the phone (on hold)' },
    });
  });

  it('reads other prefixes and aggregated documents', () => {
    const xml = `<?xml version="1.0"?>
      <p:presence xmlns:p="urn:ietf:params:xml:ns:pidf" xmlns:r="urn:ietf:params:xml:ns:pidf:rpid" xmlns:d="urn:ietf:params:xml:ns:pidf:data-model" entity="pres:bob@example.test">
        <p:tuple id="a"><p:status><p:basic>closed</p:basic></p:status></p:tuple>
        <p:tuple id="b"><p:status><p:basic>open</p:basic></p:status><p:note>Desk</p:note></p:tuple>
        <d:person id="x"><r:activities><r:away/><r:other>gym</r:other></r:activities></d:person>
      </p:presence>`;
    expect(parsePidf(xml)).toEqual({
      ok: true,
      value: { entity: 'pres:bob@example.test', basic: 'open', activities: ['away', 'other'], other: 'gym', note: 'Desk' },
    });
  });

  it('returns an error for what is not PIDF', () => {
    expect(parsePidf('<dialog-info/>').ok).toBe(false);
    expect(parsePidf('<presence><tuple>').ok).toBe(false);
    expect(parsePidf('').ok).toBe(false);
  });
});
