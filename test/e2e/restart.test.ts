import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { signPbxRequest } from '../../services/api/auth.js';
import { WRITE_BEHIND_MS } from '../../shared/store/embedded/sqlite-ledger.js';
import { startService, type ServiceProcess } from '../support/service-process.js';

const ADMIN = 'restart-admin-key-0123456789abcdef';

// Each test starts the service two or three times (tsx compiles it on every start): seconds each on a busy machine.
describe('restart: what was acknowledged survives, including kill -9', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-restart-'));
  const env = { DATA_DIR: dir, BOOTSTRAP_TENANT: 'acme', BOOTSTRAP_ADMIN_KEY: ADMIN, ENCRYPTION_KEY: randomBytes(32).toString('base64') };
  let svc: ServiceProcess | undefined;
  afterAll(async () => {
    await svc?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, body?: unknown, key = ADMIN) => {
    const res = await fetch(`${svc!.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (res.status === 204 ? undefined : await res.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  it('keeps the directory, keys, devices, manual status and queue pause across kill -9 and a graceful restart', async () => {
    svc = await startService(env);
    expect((await call('PUT', '/v1/people/alice', { name: 'Alice', extension: '1001' })).status).toBe(201);
    const phone = await call('PUT', '/v1/people/alice/devices/alice-phone', { kind: 'mobile' });
    expect(phone.status).toBe(201);
    const token = phone.body.token as string;
    const member = await call('POST', '/v1/keys', { name: 'alice', role: 'member', personId: 'alice' });
    const pbx = await call('POST', '/v1/keys', { name: 'pbx', role: 'pbx' });
    expect((await call('PUT', '/v1/people/alice/status', { activity: 'dnd', until: new Date(Date.now() + 3600_000).toISOString() })).status).toBe(200);
    const pause = await call('PUT', '/v1/people/alice/queue-pause', { reason: 'training' });
    expect(pause.status).toBe(200);

    await svc.kill();
    svc = await startService(env);
    expect((await call('GET', '/v1/people/alice')).body).toMatchObject({ name: 'Alice', extension: '1001' });
    expect((await call('GET', '/v1/people/alice/devices')).body.devices).toEqual([expect.objectContaining({ id: 'alice-phone', kind: 'mobile', hasToken: true })]);
    expect((await call('GET', '/v1/presence/alice', undefined, member.body.secret)).body).toMatchObject({ activity: 'dnd' });
    const keys = (await call('GET', '/v1/keys')).body.keys.map((k: { id: string }) => k.id);
    expect(keys).toEqual(expect.arrayContaining(['bootstrap', member.body.id, pbx.body.id]));
    expect((await call('GET', '/v1/people/alice/queue-pause')).body).toEqual(pause.body);
    const hb = await fetch(`${svc.url}/v1/heartbeat`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{"state":"foreground"}' });
    expect(hb.status).toBe(200);

    expect(await svc.stop()).toBe(0);
    svc = await startService(env);
    expect((await call('GET', '/v1/people/alice')).status).toBe(200);
    expect((await call('GET', '/v1/presence/alice', undefined, member.body.secret)).body.activity).toBe('dnd');
  });

  it('keeps a mobile app reachable across kill -9 until its last heartbeat runs out, not until its next one', async () => {
    svc ??= await startService(env);
    expect((await call('PUT', '/v1/people/bob', { name: 'Bob' })).status).toBe(201);
    const token = (await call('PUT', '/v1/people/bob/devices/bob-phone', { kind: 'mobile' })).body.token as string;
    const hb = await fetch(`${svc.url}/v1/heartbeat`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{"state":"background"}' });
    expect(hb.status).toBe(200);
    // Heartbeats are written behind: a crash inside WRITE_BEHIND_MS of one may lose it (README, Durability).
    await sleep(WRITE_BEHIND_MS * 3);
    await svc.kill();
    svc = await startService(env);
    const bob = (await call('GET', '/v1/presence/bob')).body;
    expect(bob).toMatchObject({ availability: 'available', routable: true, endpoints: [{ id: 'bob-phone', kind: 'mobile' }] });
    expect(bob.explanation).toContainEqual(expect.objectContaining({ signal: 'mobile:bob-phone', verdict: 'reachable' }));
  });

  it('keeps a desk phone registered and its DND across kill -9, but not a call that was under way', async () => {
    svc ??= await startService(env);
    expect((await call('PUT', '/v1/people/carol', { name: 'Carol', extension: '1003' })).status).toBe(201);
    expect((await call('PUT', '/v1/people/carol/devices/carol-desk', { kind: 'desk', contact: 'sip:carol@pbx.example.com' })).status).toBe(201);
    const pbx = (await call('POST', '/v1/keys', { name: 'pbx-carol', role: 'pbx' })).body;
    const post = async (events: unknown[]) => {
      const body = JSON.stringify({ events });
      const ts = String(Math.floor(Date.now() / 1000));
      const res = await fetch(`${svc!.url}/v1/pbx/events`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Presence-Key-Id': pbx.signingKeyId, 'X-Presence-Timestamp': ts, 'X-Presence-Signature': signPbxRequest(pbx.secret, ts, body) },
        body,
      });
      expect(res.status).toBe(200);
    };
    const at = Date.now();
    await post([
      { type: 'registered', device: 'carol-desk', at, expiresSec: 3600 },
      { type: 'dnd-on', device: 'carol-desk', at: at + 1 },
      { type: 'answered', device: 'carol-desk', at: at + 2, callId: 'c1' },
    ]);
    const before = (await call('GET', '/v1/presence/carol')).body;
    expect(before).toMatchObject({ activity: 'dnd', endpoints: [{ id: 'carol-desk' }] });
    expect(before.explanation).toContainEqual(expect.objectContaining({ signal: expect.stringContaining('pbx:call:') }));
    await sleep(WRITE_BEHIND_MS * 3);
    await svc.kill();
    svc = await startService(env);
    // The phone's DND and registration are back; the call is not (its hang-up may have been lost while the service was down).
    const carol = (await call('GET', '/v1/presence/carol')).body;
    expect(carol).toMatchObject({ availability: 'dnd', activity: 'dnd', endpoints: [{ id: 'carol-desk', kind: 'desk' }] });
    expect(carol.explanation).not.toContainEqual(expect.objectContaining({ signal: expect.stringContaining('pbx:call:') }));
    await post([{ type: 'dnd-off', device: 'carol-desk', at: Date.now() }]);
    await sleep(WRITE_BEHIND_MS * 3);
    // A graceful stop writes what is pending; DND cleared stays cleared.
    expect(await svc.stop()).toBe(0);
    svc = await startService(env);
    expect((await call('GET', '/v1/presence/carol')).body).toMatchObject({ availability: 'available', routable: true, endpoints: [{ id: 'carol-desk' }] });
  });
});
