import { describe, expect, it } from 'vitest';
import type { Signal } from '../../shared/domain/signal.js';
import { forgetChanges, syncChanges, unknownMarker } from '../../services/calendars/sync-changes.js';

const T = Date.parse('2026-03-02T09:30:00Z');
const H = 3600_000;
const evt = (id: string, from: number, until: number, observedAt = T): Signal => ({ id: `outlook:evt:${id}`, source: 'outlook', claim: { kind: 'calendar', activity: 'in-meeting' }, observedAt, from, until });
const put = (s: Signal) => ({ id: s.id, signal: s });
const gone = (id: string) => ({ id: `outlook:evt:${id}`, reason: 'cancelled' });
const END = T + 14 * 24 * H;
const other: Signal = { id: 'google:evt:x', source: 'google', claim: { kind: 'calendar', activity: 'focus' }, observedAt: T, from: T + H, until: T + 2 * H };

describe('sync → signal changes', () => {
  it('full: puts what is new or changed, leaves unchanged ones alone, removes what is no longer there', () => {
    const current = [evt('same', T + H, T + 2 * H, T - H), evt('moved', T + 3 * H, T + 4 * H), evt('gone', T + 5 * H, T + 6 * H), other];
    const changes = syncChanges(current, [put(evt('same', T + H, T + 2 * H)), put(evt('moved', T + 4 * H, T + 5 * H)), put(evt('new', T + 7 * H, T + 8 * H))], { source: 'outlook', full: true, windowEnd: END });
    expect(changes).toEqual([
      { op: 'put', signal: evt('moved', T + 4 * H, T + 5 * H) },
      { op: 'put', signal: evt('new', T + 7 * H, T + 8 * H) },
      { op: 'remove', id: 'outlook:evt:gone' },
    ]);
  });

  it('incremental: touches only the events it names; a cancellation removes', () => {
    const current = [evt('a', T + H, T + 2 * H), evt('b', T + 3 * H, T + 4 * H)];
    expect(syncChanges(current, [gone('a'), gone('never-seen')], { source: 'outlook', full: false, windowEnd: END })).toEqual([{ op: 'remove', id: 'outlook:evt:a' }]);
  });

  it('an event named twice in one sync counts as its last word', () => {
    const current = [evt('a', T + H, T + 2 * H)];
    expect(syncChanges(current, [put(evt('a', T + 5 * H, T + 6 * H)), put(evt('a', T + H, T + 2 * H))], { source: 'outlook', full: false, windowEnd: END })).toEqual([]);
    expect(syncChanges(current, [put(evt('a', T + 5 * H, T + 6 * H)), gone('a')], { source: 'outlook', full: false, windowEnd: END })).toEqual([{ op: 'remove', id: 'outlook:evt:a' }]);
  });

  it('leaves events past the window end to the next full sync', () => {
    expect(syncChanges([], [put(evt('far', END + H, END + 2 * H))], { source: 'outlook', full: false, windowEnd: END })).toEqual([]);
  });

  it('a successful sync clears the unknown marker; forgetting can leave it', () => {
    const marker = unknownMarker('outlook', T);
    expect(syncChanges([marker], [], { source: 'outlook', full: true, windowEnd: END })).toEqual([{ op: 'remove', id: 'outlook:connection' }]);
    expect(forgetChanges([evt('a', T, T + H), other], 'outlook', T)).toEqual([{ op: 'remove', id: 'outlook:evt:a' }, { op: 'put', signal: marker }]);
    expect(forgetChanges([evt('a', T, T + H), marker], 'outlook')).toEqual([{ op: 'remove', id: 'outlook:evt:a' }, { op: 'remove', id: 'outlook:connection' }]);
  });
});
