import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lineStateChanges } from '../../services/publishers/sip/dialog-state.js';
import type { LineState } from '../../shared/sip/dialog-info.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import { series } from '../support/metrics.js';

/**
 * `PresenceHubPbxSilent` watches tenants whose line states come only from SIP dialog subscriptions (no PBX
 * key) by the same stamp as PBX events: every NOTIFY the subscriber applies, an idle line's too (the one a
 * refresh brings while nothing happens, RFC 6665), must stamp source `pbx`.
 */
describe('line states read over SIP stamp the PBX silence watch', () => {
  let h: TestHub;
  beforeEach(async () => {
    h = await startTestHub();
    await h.put('/v1/people/alice', { name: 'Alice', extension: '1001' }).expect(201);
  });
  afterEach(() => h.stop());

  it.each<LineState>(['idle', 'ringing', 'on-call', 'on-hold'])('a %s NOTIFY stamps source pbx at its arrival', async (state) => {
    const at = h.clock.now() + 60_000;
    await h.clock.advance(60_000);
    await h.hub.engine.apply('acme', 'alice', lineStateChanges(state, { id: 'sip-kam-1001', kind: 'desk' }, at));
    const text = (await h.get('/metrics').expect(200)).text;
    expect(series(text, 'presence_source_last_signal_timestamp_seconds', { tenant: 'acme', source: 'pbx' })).toBe(at / 1000);
  });
});
