import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../shared/domain/policy.js';
import { beganAt } from '../../shared/merge/began-at.js';
import { mergeUnexplained } from '../../shared/merge/merge.js';
import { MIN, T0, desk, manual, meeting } from '../support/signals.js';

describe('when a state found by a late re-evaluation began', () => {
  const signals = [desk(), manual('away', { until: T0 + MIN }), meeting('in-meeting', T0 + 2 * MIN, T0 + 30 * MIN)];
  const prev = mergeUnexplained(signals, DEFAULT_POLICY, T0);
  const at = (now: number) => beganAt(signals, DEFAULT_POLICY, prev, mergeUnexplained(signals, DEFAULT_POLICY, now), now);

  it('is the instant the transition was due, however late it ran', () => {
    expect(prev).toMatchObject({ activity: 'away', wakeAt: T0 + MIN });
    expect(at(T0 + MIN + 2000)).toBe(T0 + MIN);
  });

  it('is the last of several transitions missed in a row', () => {
    expect(mergeUnexplained(signals, DEFAULT_POLICY, T0 + 5 * MIN).activity).toBe('in-meeting');
    expect(at(T0 + 5 * MIN)).toBe(T0 + 2 * MIN);
  });

  it('is now when nothing was missed, or when the signals no longer give the state found', () => {
    expect(at(T0 + MIN)).toBe(T0 + MIN);
    const other = mergeUnexplained([desk()], DEFAULT_POLICY, T0 + 5 * MIN);
    expect(beganAt(signals, DEFAULT_POLICY, prev, other, T0 + 5 * MIN)).toBe(T0 + 5 * MIN);
  });
});
