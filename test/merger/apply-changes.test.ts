import { describe, expect, it } from 'vitest';
import type { Signal } from '../../shared/domain/signal.js';
import { applyChanges, Outcome, type SignalChange } from '../../services/merger/apply-changes.js';

const T = Date.parse('2026-03-02T09:30:00Z');
const call = (callId: string, at: number, state: 'ringing' | 'on-call' = 'on-call'): Signal => ({
  id: `pbx:call:d1:${callId}`,
  source: 'pbx',
  claim: { kind: 'call', state },
  observedAt: at,
});
const put = (signal: Signal): SignalChange => ({ op: 'put', signal });
const clear = (at: number): SignalChange => ({ op: 'clear', prefix: 'pbx:call:d1:', observedAt: at, keepMs: 60_000, source: 'pbx' });
const names = Object.fromEntries(Object.entries(Outcome).map(([k, v]) => [v, k]));

function outcomesOf(current: Signal[], changes: SignalChange[]) {
  const outcomes = new Uint8Array(changes.length);
  const r = applyChanges(current, changes, outcomes);
  return { names: [...outcomes].map((o) => names[o]), applied: r.applied, ignored: r.ignored };
}

describe('applyChanges: what became of each change', () => {
  it('put: newer or different at the same instant applies; older is `older`; identical at the same instant is `same`', () => {
    const stored = [call('a', T)];
    expect(outcomesOf(stored, [put(call('a', T + 1)), put(call('a', T - 1)), put(call('a', T + 1)), put(call('a', T + 1, 'ringing')), put(call('b', T - 5))])).toEqual({
      names: ['applied', 'older', 'same', 'applied', 'applied'],
      applied: 3,
      ignored: 2,
    });
  });

  it('clear: applies if it ends a call; `older` if only later facts are under the prefix; `same` if all already ended or none', () => {
    expect(outcomesOf([call('a', T), call('b', T + 10)], [clear(T + 5)]).names).toEqual(['applied']);
    expect(outcomesOf([call('a', T + 10)], [clear(T + 5)]).names).toEqual(['older']);
    expect(outcomesOf([call('a', T)], [clear(T + 5), clear(T + 6)]).names).toEqual(['applied', 'same']);
    expect(outcomesOf([], [clear(T)]).names).toEqual(['same']);
  });

  it('remove: applies if the signal is there, else `same`', () => {
    expect(outcomesOf([call('a', T)], [{ op: 'remove', id: 'pbx:call:d1:a' }, { op: 'remove', id: 'pbx:call:d1:a' }]).names).toEqual(['applied', 'same']);
  });

  it('writes every entry, so a second run over the same array leaves only its own outcomes', () => {
    const changes = [put(call('a', T))];
    const outcomes = new Uint8Array(1);
    applyChanges([], changes, outcomes);
    expect(outcomes[0]).toBe(Outcome.applied);
    applyChanges([call('a', T + 1)], changes, outcomes);
    expect(outcomes[0]).toBe(Outcome.older);
  });
});
