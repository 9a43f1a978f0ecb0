import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';

/** Restarts on one data directory, the service's clock moved on while it was down. */
describe('a kept PBX registration without expiresSec after a restart', () => {
  let dir = '';
  let h: TestHub | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ph-reg-restart-'));
  });
  afterEach(async () => {
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  // One sealing key for both runs, as a deployment keeps it: the PBX key's secret is sealed with it.
  const ENCRYPTION_KEY = randomBytes(32).toString('base64');
  const start = async (now: string, env: Record<string, string> = {}) => (h = await startTestHub({ now, dir, env: { ENCRYPTION_KEY, ...env } }));
  const presence = async () => (await h!.get('/v1/presence/alice').expect(200)).body;

  async function registerAndRestart(restartAt: string, env?: Record<string, string>): Promise<PbxKey> {
    await start('2026-03-02T09:30:00Z', env);
    const key = await seedAlice(h!);
    await h!.pbx([{ type: 'registered', device: 'alice-desk', at: h!.clock.now() }], key).expect(200);
    expect((await presence()).routable).toBe(true);
    await h!.stop();
    await start(restartAt, env);
    return key;
  }

  it('is believed for PBX_REGISTRATION_AFTER_RESTART_MS (an hour by default), then the phone counts as gone', async () => {
    // Down for a day: without its own expiry the registration is still believed, but only for the hour after.
    await registerAndRestart('2026-03-03T09:30:00Z');
    expect(await presence()).toMatchObject({ routable: true, endpoints: [{ id: 'alice-desk' }] });
    await h!.clock.advanceTo('2026-03-03T10:29:59.999Z');
    expect((await presence()).routable).toBe(true);
    await h!.clock.advanceTo('2026-03-03T10:30:00Z');
    expect(await presence()).toMatchObject({ availability: 'offline', routable: false, endpoints: [], since: '2026-03-03T10:30:00.000Z' });
  });

  it('a registered event after the restart is believed again without a bound, as before', async () => {
    const key = await registerAndRestart('2026-03-03T09:30:00Z', { PBX_REGISTRATION_AFTER_RESTART_MS: '600000' });
    await h!.clock.advanceTo('2026-03-03T09:35:00Z');
    await h!.pbx([{ type: 'registered', device: 'alice-desk', at: h!.clock.now() }], key).expect(200);
    await h!.clock.advanceTo('2026-03-04T09:30:00Z');
    expect((await presence()).routable).toBe(true);
  });

  it('0 forgets such registrations at a restart; one with expiresSec keeps its own expiry', async () => {
    await start('2026-03-02T09:30:00Z', { PBX_REGISTRATION_AFTER_RESTART_MS: '0' });
    const key = await seedAlice(h!);
    await h!.put('/v1/people/alice/devices/alice-soft', { kind: 'softphone', contact: 'sip:alice@192.0.2.11' }).expect(201);
    await h!.pbx([
      { type: 'registered', device: 'alice-desk', at: h!.clock.now() },
      { type: 'registered', device: 'alice-soft', at: h!.clock.now(), expiresSec: 7200 },
    ], key).expect(200);
    await h!.stop();
    await start('2026-03-02T10:00:00Z', { PBX_REGISTRATION_AFTER_RESTART_MS: '0' });
    expect((await presence()).endpoints.map((e: { id: string }) => e.id)).toEqual(['alice-soft']);
    await h!.clock.advanceTo('2026-03-02T11:30:00Z');
    expect((await presence()).routable).toBe(false);
  });
});
