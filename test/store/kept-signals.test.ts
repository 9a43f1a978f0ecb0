import { describe, expect, it } from 'vitest';
import type { Signal } from '../../shared/domain/signal.js';
import { afterRestart } from '../../shared/store/after-restart.js';
import { keptChange, keptSignals } from '../../shared/store/embedded/kept-signals.js';

const desk = { id: 'desk', kind: 'desk' as const };
const manual: Signal = { id: 'manual', source: 'manual', observedAt: 1, claim: { kind: 'status', activity: 'away' } };
const registered: Signal = { id: 'pbx:reg:desk', source: 'pbx', observedAt: 1, claim: { kind: 'endpoint', endpoint: desk, reachable: true } };
const phoneDnd: Signal = { id: 'pbx:dnd:desk', source: 'pbx', observedAt: 2, claim: { kind: 'dnd' } };
const call: Signal = { id: 'pbx:call:desk:c1', source: 'pbx', observedAt: 3, claim: { kind: 'call', state: 'on-call' } };
const heartbeat: Signal = { id: 'mobile:phone', source: 'mobile', observedAt: 4, until: 100, claim: { kind: 'endpoint', endpoint: { id: 'phone', kind: 'mobile' }, reachable: true } };

describe('signals the embedded store keeps across a restart', () => {
  it('keeps intent at once, registrations, phone DND and heartbeats behind, and never calls', () => {
    expect(keptSignals([manual, registered, phoneDnd, call, heartbeat])).toEqual([manual, registered, phoneDnd, heartbeat]);
    expect(keptChange({ signals: [] }, { signals: [call] })).toBeUndefined();
    expect(keptChange({ signals: [registered] }, { signals: [registered, call] })).toBeUndefined();
    expect(keptChange({ signals: [call] }, { signals: [registered] })).toBe('behind');
    expect(keptChange({ signals: [registered] }, { signals: [registered, heartbeat] })).toBe('behind');
    expect(keptChange({ signals: [registered] }, { signals: [] })).toBe('behind');
    expect(keptChange({ signals: [registered] }, { signals: [registered, manual] })).toBe('now');
    expect(keptChange({ signals: [manual, registered] }, { signals: [registered] })).toBe('now');
  });

  it('a status that only ran out is written behind; one cleared before its end, or with no instant known, at once', () => {
    const until10 = { ...manual, until: 1_000 };
    expect(keptChange({ signals: [until10, registered] }, { signals: [registered] }, 2_000)).toBe('behind');
    expect(keptChange({ signals: [until10] }, { signals: [] }, 1_000)).toBe('behind');
    expect(keptChange({ signals: [until10, registered] }, { signals: [registered] }, 999)).toBe('now');
    expect(keptChange({ signals: [until10, registered] }, { signals: [registered] })).toBe('now');
    // Another status set as the old one runs out is intent: at once.
    expect(keptChange({ signals: [until10] }, { signals: [manual] }, 2_000)).toBe('now');
  });

  it('after a restart bounds only registrations without an expiry of their own', () => {
    const expiring = { ...registered, id: 'pbx:reg:soft', until: 9000 };
    expect(afterRestart([manual, registered, expiring, phoneDnd, heartbeat], 5000)).toEqual([manual, { ...registered, until: 5000 }, expiring, phoneDnd, heartbeat]);
  });
});
