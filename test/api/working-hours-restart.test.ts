import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';

describe('working hours on the embedded store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-hours-'));
  let h: TestHub | undefined;
  afterEach(async () => {
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('still apply after a restart, without an edit of the person', async () => {
    // Sunday noon in Berlin: outside Monday's hours.
    const now = '2026-03-01T11:00:00Z';
    const first = await startTestHub({ dir, now });
    await first.put('/v1/people/alice', { name: 'Alice', timeZone: 'Europe/Berlin', workingHours: { mon: [['08:00', '17:00']] } }).expect(201);
    expect((await first.get('/v1/presence/alice')).body).toMatchObject({ activity: 'off-work', until: '2026-03-02T07:00:00.000Z' });
    await first.stop();
    h = await startTestHub({ dir, now });
    expect((await h.get('/v1/presence/alice')).body).toMatchObject({ activity: 'off-work', until: '2026-03-02T07:00:00.000Z', rule: 'off-work' });
  });

  it('apply again after a restart of a store that never kept their signal', async () => {
    const now = '2026-03-01T11:00:00Z';
    const first = await startTestHub({ dir, now });
    await first.put('/v1/people/alice', { name: 'Alice', timeZone: 'Europe/Berlin', workingHours: { mon: [['08:00', '17:00']] } }).expect(201);
    // As a store written by an earlier version holds it: without the working-hours signal.
    await first.hub.engine.apply('acme', 'alice', [{ op: 'remove', id: 'directory:working-hours' }]);
    expect((await first.get('/v1/presence/alice')).body.activity).toBe('unknown');
    await first.stop();
    h = await startTestHub({ dir, now });
    expect((await h.get('/v1/presence/alice')).body).toMatchObject({ activity: 'off-work', rule: 'off-work' });
  });
});
