import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedAlice, startTestHub, type TestHub } from '../support/hub.js';
import { eventually, startReceiver, type Receiver, type Received } from '../support/receiver.js';

/**
 * A receiver's own check, written from the Standard Webhooks specification (standardwebhooks.com) and not
 * from our signer: HMAC-SHA256 keyed with the base64 after `whsec_`, over `<webhook-id>.<webhook-timestamp>.<body>`,
 * any of the space-separated `v1,<base64>` signatures matching, the timestamp within 5 minutes.
 */
function verifiedBy(secrets: string[], r: Received, nowSec: number): boolean {
  const id = r.headers['webhook-id'];
  const ts = r.headers['webhook-timestamp'];
  const sigs = r.headers['webhook-signature'];
  if (!id || !ts || !sigs || Math.abs(nowSec - Number(ts)) > 300) return false;
  return secrets.some((secret) => {
    const expected = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64')).update(`${id}.${ts}.${r.body}`).digest();
    return sigs.split(' ').some((s) => {
      const [version, b64] = s.split(',');
      const got = Buffer.from(b64 ?? '', 'base64');
      return version === 'v1' && got.length === expected.length && timingSafeEqual(got, expected);
    });
  });
}

describe('a webhook receiver written from the README and the Standard Webhooks spec', () => {
  let h: TestHub;
  let rx: Receiver;
  let secret: string;
  const body = (r: Received) => JSON.parse(r.body);

  beforeEach(async () => {
    h = await startTestHub();
    const key = await seedAlice(h);
    await h.put('/v1/tenant', { name: 'Acme', settings: { allowPrivateTargets: true } }).expect(200);
    await h.pbx([{ type: 'registered', device: 'alice-desk', at: h.clock.now() - 1000 }], key).expect(200);
    rx = await startReceiver();
    secret = (await h.put('/v1/targets/crm', { kind: 'webhook', name: 'CRM', url: `${rx.url}/presence` }).expect(201)).body.secret;
    await rx.waitFor(1);
  });
  afterEach(async () => {
    await h.stop();
    await rx.close();
  });

  const nowSec = () => Math.floor(h.clock.now() / 1000);
  const activity = (r: Received) => body(r).presence.activity as string;

  it('rotates the secret without a refused delivery: the old one signs beside the new one for 24 hours', async () => {
    expect(verifiedBy([secret], rx.received[0]!, nowSec())).toBe(true);
    const rotated = (await h.post('/v1/targets/crm/secret', {}).expect(200)).body;
    expect(rotated.previousSecretUntil).toBe(new Date(h.clock.now() + 24 * 3600_000).toISOString());
    const target = (await h.get('/v1/targets/crm').expect(200)).body;
    expect(JSON.stringify(target)).not.toMatch(/whsec_|sealed/);
    expect(target.previousSecretUntil).toBe(rotated.previousSecretUntil);
    // Everyone's state goes again, verifiable by a receiver that still holds only the old secret, and by one
    // that already holds only the new one.
    const [, again] = await rx.waitFor(2);
    expect([verifiedBy([secret], again!, nowSec()), verifiedBy([rotated.secret], again!, nowSec())]).toEqual([true, true]);
    await h.clock.advance(24 * 3600_000);
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    const [, , last] = await rx.waitFor(3);
    expect(activity(last!)).toBe('away');
    expect([verifiedBy([secret], last!, nowSec()), verifiedBy([rotated.secret], last!, nowSec())]).toEqual([false, true]);
  });

  it('rotated twice within 24 hours, signs with every secret replaced in that time, each for 24 hours', async () => {
    const first = (await h.post('/v1/targets/crm/secret', {}).expect(200)).body.secret as string;
    await rx.waitFor(2);
    // An hour later the rotation is run again (a script retried, a response lost): a receiver still holding the
    // original secret, or the first rotation's, keeps verifying.
    await h.clock.advance(3600_000);
    const second = (await h.post('/v1/targets/crm/secret', {}).expect(200)).body;
    expect(second.previousSecretUntil).toBe(new Date(h.clock.now() + 24 * 3600_000).toISOString());
    const [, , again] = await rx.waitFor(3);
    expect([secret, first, second.secret].map((s) => verifiedBy([s], again!, nowSec()))).toEqual([true, true, true]);
    expect(again!.headers['webhook-signature']!.split(' ')).toHaveLength(3);
    // 24 hours after it was replaced, the original secret stops signing; the first rotation's signs an hour longer.
    await h.clock.advance(23 * 3600_000);
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    const [, , , later] = await rx.waitFor(4);
    expect([secret, first, second.secret].map((s) => verifiedBy([s], later!, nowSec()))).toEqual([false, true, true]);
    expect(JSON.stringify((await h.get('/v1/targets/crm').expect(200)).body)).not.toMatch(/whsec_|sealed/);
  });

  it('gets a state it refused with a 4xx (a route not deployed yet, a proxy refusing it) once it accepts, not never', async () => {
    rx.answer.push(...Array(20).fill(401));
    await h.clock.advance(2000);
    await h.put('/v1/people/alice/status', { activity: 'away' }).expect(200);
    await rx.waitFor(2);
    expect(activity(rx.received[1]!)).toBe('away');
    // The receiver is fixed on its side, where nothing tells the service.
    rx.answer.length = 0;
    await eventually(async () => {
      await h.clock.advance(60_000);
      expect(rx.received.length).toBeGreaterThan(2);
      const last = rx.received.at(-1)!;
      expect(verifiedBy([secret], last, nowSec())).toBe(true);
      expect(activity(last)).toBe('away');
      expect((await h.get('/v1/targets/crm/status').expect(200)).body).toMatchObject({ state: 'healthy', waiting: 0 });
    });
  });
});
