import { describe, expect, it } from 'vitest';
import type { Presence } from '../../shared/domain/presence.js';
import { buildPidf } from '../../shared/sip/pidf.js';
import { PidfBodies } from '../../services/publishers/sip/pidf-bodies.js';

const T0 = Date.parse('2026-03-02T09:00:00Z');
const IDS = { tupleId: 'presence-hub', personId: 'p-presence-hub' };
const state = (over: Partial<Presence> = {}) => ({ availability: 'available', activity: 'available', routable: true, since: T0, version: 1, ...over }) as Presence;

describe('PIDF bodies per person', () => {
  it('reuses the document for the same state and builds it again when the state or the presentity changes', () => {
    const bodies = new PidfBodies({ domain: 'example.test' });
    const ann = { id: 'ann', extension: '1001', sensitive: false };
    const first = bodies.of('ann', ann, state());
    expect(first).toBe(buildPidf(state(), { entity: 'sip:1001@example.test', ...IDS }));
    expect(bodies.of('ann', ann, state({ version: 2 }))).toBe(first);

    const busy = state({ availability: 'busy', activity: 'in-meeting', routable: false, until: T0 + 3_600_000 });
    expect(bodies.of('ann', ann, busy)).toBe(buildPidf(busy, { entity: 'sip:1001@example.test', ...IDS }));
    const later = state({ since: T0 + 1_000 });
    expect(bodies.of('ann', ann, later)).toBe(buildPidf(later, { entity: 'sip:1001@example.test', ...IDS }));
    const next = { ...later, next: { at: T0 + 60_000, availability: 'away' as const, activity: 'away' } } as Presence;
    expect(bodies.of('ann', ann, next)).toBe(buildPidf(next, { entity: 'sip:1001@example.test', ...IDS }));

    const moved = { id: 'ann', extension: '1002', sensitive: false };
    expect(bodies.of('ann', moved, next)).toBe(buildPidf(next, { entity: 'sip:1002@example.test', ...IDS }));
    expect(bodies.of('bob', { id: 'bob', sipUri: 'sip:bob@example.test', sensitive: false }, next)).toContain('entity="sip:bob@example.test"');
  });

  it('keeps the document, timestamp and all, when only what it does not show changed (a note, the source, endpoints)', () => {
    const bodies = new PidfBodies({ domain: 'example.test' });
    const ann = { id: 'ann', extension: '1001', sensitive: false };
    const busy = state({ availability: 'busy', activity: 'lunch', routable: false, until: T0 + 3_600_000 });
    const first = bodies.of('ann', ann, busy);
    expect(first).toContain(`<timestamp>${new Date(T0).toISOString()}</timestamp>`);
    const noted = { ...busy, since: T0 + 60_000, version: 2, note: 'back at 2', source: 'manual', endpoints: [{ id: 'm', kind: 'mobile' }] } as Presence;
    expect(bodies.of('ann', ann, noted)).toBe(first);
    // Anything the document shows is a new document, dated from the change.
    const later = { ...noted, until: T0 + 7_200_000, since: T0 + 120_000, version: 3 } as Presence;
    expect(bodies.of('ann', ann, later)).toBe(buildPidf(later, { entity: 'sip:1001@example.test', ...IDS }));
    expect(bodies.of('ann', ann, later)).toContain(`<timestamp>${new Date(T0 + 120_000).toISOString()}</timestamp>`);
  });

  it('tells watchers only the availability of a sensitive person, from the moment they are marked so', () => {
    const bodies = new PidfBodies({ domain: 'example.test' });
    const entity = { entity: 'sip:1001@example.test', ...IDS };
    const meeting = { ...state({ availability: 'busy', activity: 'in-meeting', routable: false, until: T0 + 3_600_000 }), next: { at: T0 + 3_600_000, availability: 'available' as const, activity: 'available' } } as Presence;
    const open = bodies.of('ann', { id: 'ann', extension: '1001', sensitive: false }, meeting);
    expect(open).toContain('<rpid:meeting/>');
    const hidden = bodies.of('ann', { id: 'ann', extension: '1001', sensitive: true }, meeting);
    expect(hidden).toBe(buildPidf(meeting, entity, 'availability'));
    expect(hidden).toContain('<note>Busy</note>');
    expect(hidden).toContain('<rpid:activities><rpid:busy/></rpid:activities>');
    // No meeting, no end, no timed status: nothing beyond "busy".
    expect(hidden).not.toMatch(/meeting|until=|timed-status/i);
    expect(buildPidf(state({ availability: 'away', activity: 'break' }), entity, 'availability')).toMatch(/<note>Away<\/note>[\s\S]*<rpid:away\/>/);
    expect(buildPidf(state({ availability: 'dnd', activity: 'dnd' }), entity, 'availability')).toMatch(/<note>Do not disturb<\/note>[\s\S]*<rpid:busy\/>/);
    expect(buildPidf(state(), entity, 'availability')).toContain('<basic>open</basic>');
    // Unmarked again: the full document.
    expect(bodies.of('ann', { id: 'ann', extension: '1001', sensitive: false }, meeting)).toBe(open);
  });

  it("keeps a sensitive person's document, timestamp and all, while their availability holds", () => {
    const bodies = new PidfBodies({ domain: 'example.test' });
    const ann = { id: 'ann', extension: '1001', sensitive: true };
    const meeting = state({ availability: 'busy', activity: 'in-meeting', routable: false, until: T0 + 3_600_000 });
    const first = bodies.of('ann', ann, meeting);
    expect(first).toContain(`<timestamp>${new Date(T0).toISOString()}</timestamp>`);
    // The meeting ends into a call: still busy, so watchers get nothing new, not even a new timestamp.
    expect(bodies.of('ann', ann, state({ availability: 'busy', activity: 'on-call', routable: false, since: T0 + 300_000, version: 2 }))).toBe(first);
    const free = state({ since: T0 + 900_000, version: 3 });
    expect(bodies.of('ann', ann, free)).toBe(buildPidf(free, { entity: 'sip:1001@example.test', ...IDS }, 'availability'));
  });

  it('dates a sensitive person\'s document built afresh (another replica, a restart) from when the availability began, not the activity', () => {
    const ann = { id: 'ann', extension: '1001', sensitive: true };
    const call = state({ availability: 'busy', activity: 'on-call', routable: false, since: T0 + 300_000, availabilitySince: T0, version: 2 });
    const body = new PidfBodies({ domain: 'example.test' }).of('ann', ann, call);
    expect(body).toContain(`<timestamp>${new Date(T0).toISOString()}</timestamp>`);
    expect(body).not.toContain(new Date(T0 + 300_000).toISOString());
    // Everyone else's document says when the activity began.
    expect(new PidfBodies({ domain: 'example.test' }).of('ann', { ...ann, sensitive: false }, call)).toContain(`<timestamp>${new Date(T0 + 300_000).toISOString()}</timestamp>`);
  });
});
