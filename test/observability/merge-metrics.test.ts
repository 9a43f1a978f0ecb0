import { describe, expect, it } from 'vitest';
import { Metrics } from '../../services/observability/metrics.js';

const values = async (m: { get(): Promise<{ values: Array<{ labels: object; value: number }> }> }) =>
  (await m.get()).values.map((v) => ({ ...v.labels, value: v.value })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

describe('merge-path metrics, counted in maps and added when read', () => {
  it('each read shows every count so far, once, by label', async () => {
    const m = new Metrics(false);
    m.countMerge('busy');
    m.countMerge(undefined);
    m.countSignal('pbx', true);
    m.countSignal('pbx', true);
    m.countSignal('pbx', false);
    m.countSignal('mobile', true);
    expect(await values(m.merges)).toEqual([{ value: 2 }]);
    expect(await values(m.stateChanges)).toEqual([{ availability: 'busy', value: 1 }]);
    expect(await values(m.signalsIn)).toEqual([
      { source: 'mobile', outcome: 'applied', value: 1 },
      { source: 'pbx', outcome: 'applied', value: 2 },
      { source: 'pbx', outcome: 'ignored', value: 1 },
    ]);
    // Read again: nothing added twice; then more counts add up.
    expect(await values(m.merges)).toEqual([{ value: 2 }]);
    m.countMerge('available');
    m.countSignal('pbx', true);
    expect(await values(m.merges)).toEqual([{ value: 3 }]);
    expect(await values(m.stateChanges)).toEqual([
      { availability: 'available', value: 1 },
      { availability: 'busy', value: 1 },
    ]);
    const text = await m.registry.metrics();
    expect(text).toContain('presence_signals_received_total{source="pbx",outcome="applied"} 3');
  });

  it('counts an endpoint lost in the same merge as one an admin removed, and the person going offline with them', async () => {
    const m = new Metrics(false);
    const before = { endpoints: [{ id: 'desk', kind: 'desk' as const }, { id: 'app', kind: 'mobile' as const }] };
    // The app's heartbeat ran out as an admin deleted the desk phone: one merge loses both.
    m.stateChanged('acme', before, { activity: 'offline', endpoints: [] }, new Set(['desk']));
    expect(await values(m.endpointsLost)).toEqual([{ tenant: 'acme', kind: 'mobile', value: 1 }]);
    expect(await values(m.wentOffline)).toEqual([{ tenant: 'acme', value: 1 }]);
    // Only what the admin removed: neither counts.
    m.stateChanged('acme', before, { activity: 'offline', endpoints: [] }, new Set(['desk', 'app']));
    expect(await values(m.endpointsLost)).toEqual([{ tenant: 'acme', kind: 'mobile', value: 1 }]);
    expect(await values(m.wentOffline)).toEqual([{ tenant: 'acme', value: 1 }]);
  });

  it('the pending-transitions gauge reads the engine when scraped', async () => {
    const m = new Metrics(false);
    let pending = 4;
    m.pendingTransitions = () => pending;
    expect(await values(m.scheduledTransitions)).toEqual([{ value: 4 }]);
    pending = 1;
    expect(await m.registry.metrics()).toContain('presence_scheduled_transitions 1');
  });
});
