import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../services/publishers/webhook-signature.js';
import { seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';
import { eventually, startReceiver, type Receiver } from '../support/receiver.js';

const SETTINGS = { name: 'Acme', settings: { allowPrivateTargets: true, wrapUpSeconds: 0 } };
const DNS: Record<string, string> = { 'pbx.internal.test': '127.0.0.1', 'metadata.test': '169.254.169.254', 'public.test': '93.184.216.34' };

describe('HTTP push: signed webhooks', () => {
  let h: TestHub;
  let key: PbxKey;
  let rx: Receiver;
  let secret: string;
  const dns = { ...DNS };

  const pbx = (type: string, dt = 0) => h.pbx([{ type, device: 'alice-desk', at: h.clock.now() + dt, callId: 'c1' }], key).expect(200);
  const bodies = () => rx.received.map((r) => JSON.parse(r.body));

  beforeEach(async () => {
    h = await startTestHub({ resolve: async (host) => (dns[host] ? [{ address: dns[host]!, family: dns[host]!.includes(':') ? 6 : 4 }] : []) });
    key = await seedAlice(h);
    await h.put('/v1/tenant', SETTINGS).expect(200);
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() - 1000 }], key).expect(200);
    rx = await startReceiver();
    const res = await h.put('/v1/targets/hook', { kind: 'webhook', name: 'CRM', url: `${rx.url}/presence` }).expect(201);
    secret = res.body.secret;
    expect(secret).toMatch(/^whsec_/);
    expect(res.body.target.secret).toBeUndefined();
  });
  afterEach(async () => {
    await h.stop();
    await rx.close();
  });

  it('sends the current state at once, signed (Standard Webhooks), then every final state in order', async () => {
    await rx.waitFor(1);
    expect(bodies()[0]).toMatchObject({ type: 'presence.updated', tenant: 'acme', personId: 'alice', presence: { availability: 'available', routable: true } });
    const r = rx.received[0]!;
    expect(verifyWebhook(secret, r.headers, r.body, Math.floor(h.clock.now() / 1000))).toBe(true);
    expect(verifyWebhook(secret, r.headers, r.body.replace('available', 'busy'), Math.floor(h.clock.now() / 1000))).toBe(false);
    expect(r.headers['webhook-id']).toBe(`msg_acme_alice_${bodies()[0].version}`);

    await h.clock.advance(2000);
    await pbx('ringing');
    await rx.waitFor(2);
    // A burst inside the coalescing window: only the final state goes out, after the window.
    await pbx('answered', 1);
    await pbx('held', 2);
    await h.clock.advance(500);
    expect(rx.received).toHaveLength(2);
    await h.clock.advance(500);
    await rx.waitFor(3);
    await new Promise((r) => setTimeout(r, 50));
    expect(bodies().map((b) => b.presence.activity)).toEqual(['available', 'ringing', 'on-hold']);
    const versions = bodies().map((b) => b.version as number);
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
    for (const x of rx.received) expect(verifyWebhook(secret, x.headers, x.body, Math.floor(h.clock.now() / 1000))).toBe(true);
  });

  it('tells a target limited to some people or teams of the deletion of those it covers only, not of anyone else', async () => {
    const scoped = await startReceiver();
    try {
      await h.put('/v1/targets/alice-only', { kind: 'webhook', name: 'Alice', url: `${scoped.url}/alice`, people: ['alice'], coalesceMs: 0 }).expect(201);
      await h.put('/v1/targets/sales', { kind: 'webhook', name: 'Sales', url: `${scoped.url}/sales`, teams: ['sales'], coalesceMs: 0 }).expect(201);
      await h.put('/v1/people/bob', { name: 'Bob', teams: ['sales'] }).expect(201);
      await h.put('/v1/people/zed', { name: 'Zed', teams: ['hr'], sensitive: true }).expect(201);
      await scoped.waitFor(2);
      await rx.waitFor(3);
      await h.del('/v1/people/zed').expect(204);
      await h.del('/v1/people/bob').expect(204);
      await h.clock.advance(1000);
      // The unscoped target had both and is told of both; bob's removal to the sales target marks the end of what arrived.
      await rx.waitFor(5);
      await scoped.waitFor(3);
      await new Promise((r) => setTimeout(r, 50));
      const seen = (x: Receiver) => x.received.map((r) => `${r.path} ${JSON.parse(r.body).type as string} ${JSON.parse(r.body).personId as string}`);
      expect(seen(scoped)).toEqual(['/alice presence.updated alice', '/sales presence.updated bob', '/sales presence.removed bob']);
      expect(seen(rx).slice(3).sort()).toEqual(['/presence presence.removed bob', '/presence presence.removed zed']);
    } finally {
      await scoped.close();
    }
  });

  it('retries with backoff while the receiver fails, drops superseded states, and shows the target failing then healthy', async () => {
    await rx.waitFor(1);
    await h.clock.advance(2000);
    rx.answer.push(500, 500, 500, 503);
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    await rx.waitFor(2);
    await h.put('/v1/people/alice/status', { activity: 'break' }).expect(200); // supersedes "away"
    for (let i = 0; i < 6 && rx.received.length < 5; i++) {
      await h.clock.advance(60_000);
      await new Promise((r) => setTimeout(r, 20));
    }
    const status = (await h.get('/v1/targets/hook/status').expect(200)).body;
    expect(status).toMatchObject({ state: 'healthy', consecutiveFailures: 0 });
    expect(status.failed).toBe(4);
    const delivered = rx.received.filter((_, i) => i >= 1).map((x) => JSON.parse(x.body).presence.activity);
    // Four failed attempts, then the newest state; "away" is never retried once "break" exists.
    expect(delivered.slice(0, 1)).toEqual(['away']);
    expect(delivered.slice(1)).toEqual(['break', 'break', 'break', 'break']);
  });

  it('marks a dead target failing and visible, and recovers with the current state', async () => {
    await rx.waitFor(1);
    await h.clock.advance(2000);
    rx.answer.push(...Array(20).fill(500));
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    for (let i = 0; i < 4; i++) {
      await h.clock.advance(5_000);
      await new Promise((r) => setTimeout(r, 20));
    }
    const failing = (await h.get('/v1/targets/hook/status')).body;
    expect(failing).toMatchObject({ state: 'failing', lastError: expect.stringContaining('500'), waiting: 1 });
    const metrics = await h.http.get('/metrics');
    expect(metrics.text).toMatch(/presence_publish_target_up\{tenant="acme",target="hook"\} 0/);
    rx.answer.length = 0;
    await h.clock.advance(60_000);
    await eventually(async () => expect((await h.get('/v1/targets/hook/status')).body.state).toBe('healthy'));
    expect(JSON.parse(rx.received.at(-1)!.body).presence.activity).toBe('away');
  });

  it('refuses SSRF: forbidden addresses at registration, and redirects are never followed', async () => {
    const put = (url: string) => h.put('/v1/targets/evil', { kind: 'webhook', name: 'x', url });
    for (const url of ['http://169.254.169.254/latest/meta-data', 'http://metadata.test/', 'http://[::ffff:169.254.169.254]/', 'http://0.0.0.0:80/']) {
      const r = await put(url).expect(422);
      expect(r.body.error.code).toBe('target_address_forbidden');
    }
    expect((await put('http://public.test/hook').expect(422)).body.error.code).toBe('https_required');
    expect((await put('http://nowhere.test/').expect(422)).body.error.code).toBe('unresolvable_host');
    // Private addresses only when the tenant allows them.
    await h.put('/v1/tenant', { name: 'Acme', settings: { allowPrivateTargets: false, wrapUpSeconds: 0 } }).expect(200);
    expect((await put(`${rx.url}/x`).expect(422)).body.error.code).toBe('target_address_forbidden');
    expect((await put('http://pbx.internal.test/x').expect(422)).body.error.code).toBe('target_address_forbidden');
    expect((await h.get('/v1/targets')).body.targets.map((t: { id: string }) => t.id)).toEqual(['hook']);
  });

  it('checks the address again at connect time (DNS rebinding) and does not follow a redirect', async () => {
    await rx.waitFor(1);
    const other = await startReceiver();
    try {
      await h.put('/v1/targets/rebind', { kind: 'webhook', name: 'x', url: `http://pbx.internal.test:${new URL(rx.url).port}/r` }).expect(201);
      await rx.waitFor(2);
      dns['pbx.internal.test'] = '169.254.169.254';
      rx.dropConnections();
      await h.clock.advance(2000);
      await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
      await eventually(async () => expect((await h.get('/v1/targets/rebind/status')).body.lastError).toMatch(/never allowed/));
      dns['pbx.internal.test'] = '127.0.0.1';

      rx.answer.push({ status: 307, headers: { Location: `${other.url}/stolen` } });
      await h.clock.advance(2000);
      await h.put('/v1/people/alice/status', { activity: 'break' }).expect(200);
      await eventually(async () => expect((await h.get('/v1/targets/hook/status')).body.lastError).toMatch(/redirect/));
      expect(other.received).toHaveLength(0);
    } finally {
      await other.close();
    }
  });
});

const ASTERISK = { id: 'asterisk', kind: 'ari', name: 'Asterisk', baseUrl: '', username: 'presence', password: 's3cret', deviceName: 'Stasis:presence-{extension}' };

/**
 * A hub with Alice's desk phone registered and one target (`url` or `baseUrl` relative to a receiver on
 * loopback) that has already received her first state; everything stopped afterwards.
 */
async function withTarget(target: { id: string; url?: string; baseUrl?: string } & Record<string, unknown>, alice: Record<string, unknown>, run: (h: TestHub, rx: Receiver, key: PbxKey) => Promise<void>) {
  const h = await startTestHub();
  const rx = await startReceiver();
  try {
    const key = await seedAlice(h, alice);
    await h.put('/v1/tenant', SETTINGS).expect(200);
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() - 1000 }], key).expect(200);
    const { id, ...body } = target;
    if (body.url !== undefined) body.url = `${rx.url}${body.url}`;
    if (body.baseUrl !== undefined) body.baseUrl = `${rx.url}${body.baseUrl}`;
    await h.put(`/v1/targets/${id}`, body).expect(201);
    await rx.waitFor(1);
    await run(h, rx, key);
  } finally {
    await h.stop();
    await rx.close();
  }
}

describe('HTTP push: nothing a receiver could read a change from', () => {
  it("sends a sensitive person's state only when their availability changes: a call put on hold sends nothing", async () => {
    await withTarget({ id: 'hook', kind: 'webhook', name: 'CRM', url: '/presence' }, { sensitive: true }, async (h, rx, key) => {
      for (const type of ['answered', 'held', 'resumed', 'hangup']) {
        await h.clock.advance(2000);
        await h.pbx([{ type, device: 'alice-desk', at: h.clock.now(), callId: 'c1' }], key).expect(200);
      }
      await rx.waitFor(3);
      await new Promise((r) => setTimeout(r, 50));
      const bodies = rx.received.map((r) => JSON.parse(r.body));
      expect(bodies.map((b) => b.presence.availability)).toEqual(['available', 'busy', 'available']);
      for (const b of bodies) expect(b.presence).not.toHaveProperty('activity');
      const versions = bodies.map((b) => b.version as number);
      expect([...versions].sort((a, b) => a - b)).toEqual(versions);
      expect((await h.get('/v1/targets/hook/status')).body).toMatchObject({ delivered: 5, failed: 0 });
    });
  });
});

describe('HTTP push: Asterisk ARI device state', () => {
  it('PUTs /ari/deviceStates/{name}?deviceState=… with basic auth as the state changes', async () => {
    await withTarget(ASTERISK, {}, async (h, rx, key) => {
      const steps: Array<[() => Promise<unknown>, string]> = [
        [() => h.pbx([{ type: 'ringing', device: 'alice-desk', at: h.clock.now() }], key), 'RINGING'],
        [() => h.pbx([{ type: 'answered', device: 'alice-desk', at: h.clock.now() }], key), 'INUSE'],
        [() => h.pbx([{ type: 'held', device: 'alice-desk', at: h.clock.now() }], key), 'ONHOLD'],
        [() => h.pbx([{ type: 'hangup', device: 'alice-desk', at: h.clock.now() }], key), 'NOT_INUSE'],
        [() => h.put('/v1/people/alice/status', { activity: 'dnd' }), 'BUSY'],
        [() => h.put('/v1/people/alice/status', { activity: 'away' }), 'UNAVAILABLE'],
        [() => h.del('/v1/people/alice'), 'UNAVAILABLE'],
      ];
      for (const [i, [act, state]] of steps.entries()) {
        await h.clock.advance(2000);
        await act();
        await rx.waitFor(i + 2);
        const r = rx.received[i + 1]!;
        expect(r.method).toBe('PUT');
        expect(r.path).toBe('/ari/deviceStates/Stasis:presence-1001');
        expect(r.query).toEqual({ deviceState: state });
        expect(r.headers.authorization).toBe(`Basic ${Buffer.from('presence:s3cret').toString('base64')}`);
      }
      expect(rx.received[0]!.query.deviceState).toBe('NOT_INUSE');
      expect((await h.get('/v1/targets/asterisk')).body).toMatchObject({ kind: 'ari', hasPassword: true });
      expect(JSON.stringify((await h.get('/v1/targets/asterisk')).body)).not.toContain('s3cret');
    });
  });

  it('shows a PBX no more of a sensitive person than a pbx key sees: their calls light BUSY, from the moment they are marked, and nothing while that holds', async () => {
    await withTarget(ASTERISK, {}, async (h, rx, key) => {
      await h.clock.advance(2000);
      await h.pbx([{ type: 'answered', device: 'alice-desk', at: h.clock.now() }], key).expect(200);
      await rx.waitFor(2);
      await h.clock.advance(2000);
      // Marked sensitive during the call: the lamp is rendered anew at once.
      await h.put('/v1/people/alice', { name: 'Alice', extension: '1001', sipUri: 'sip:alice@example.test', teams: ['support'], sensitive: true }).expect(200);
      await rx.waitFor(3);
      // On hold, then ringing again: still BUSY, so Asterisk is told nothing; hung up, free again.
      for (const type of ['held', 'ringing', 'hangup']) {
        await h.clock.advance(2000);
        await h.pbx([{ type, device: 'alice-desk', at: h.clock.now() }], key).expect(200);
      }
      await rx.waitFor(4);
      await h.clock.advance(2000);
      // A new extension: her state moves to the new device, and the old one no longer stands for her.
      await h.put('/v1/people/alice', { name: 'Alice', extension: '1009', sipUri: 'sip:alice@example.test', teams: ['support'], sensitive: true }).expect(200);
      await rx.waitFor(6);
      expect(rx.received.slice(3).map((r) => [r.path, r.query.deviceState])).toEqual([
        ['/ari/deviceStates/Stasis:presence-1001', 'NOT_INUSE'],
        ['/ari/deviceStates/Stasis:presence-1009', 'NOT_INUSE'],
        ['/ari/deviceStates/Stasis:presence-1001', 'UNAVAILABLE'],
      ]);
      expect(rx.received.slice(0, 3).map((r) => r.query.deviceState)).toEqual(['NOT_INUSE', 'INUSE', 'BUSY']);
    });
  });
});
