import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeWith } from '../support/components.js';
import { OPERATOR_KEY, startTestHub, type TestHub } from '../support/hub.js';
import { series } from '../support/metrics.js';
import { sharedRedis } from '../support/redis.js';

/** Who writes the directory and who is scraped: one hub, or two replicas sharing Redis. */
interface Replicas {
  writer: TestHub;
  reader: TestHub;
  stop(): Promise<void>;
}

/**
 * The gauges the "at once" and PBX alerts divide by or filter on, read from the directory at scrape time
 * by whichever replica is scraped.
 */
function directoryGauges(open: () => Promise<Replicas>): void {
  let r: Replicas;
  beforeEach(async () => {
    r = await open();
  });
  afterEach(() => r.stop());

  const sizes = async (tenant: string) => {
    const text = (await r.reader.http.get('/metrics').expect(200)).text;
    const devices = (kind: string) => series(text, 'presence_devices', { tenant, kind });
    return {
      people: series(text, 'presence_people', { tenant }),
      desk: devices('desk'),
      softphone: devices('softphone'),
      mobile: devices('mobile'),
      pbxKeys: series(text, 'presence_pbx_keys', { tenant }),
    };
  };

  it('counts people, devices by kind and PBX keys; a person with an extension and no desk device has one desk phone', async () => {
    const w = r.writer;
    expect(await sizes('acme')).toEqual({ people: 0, desk: 0, softphone: 0, mobile: 0, pbxKeys: 0 });
    await w.put('/v1/people/alice', { name: 'Alice', extension: '1001' }).expect(201);
    await w.put('/v1/people/bob', { name: 'Bob' }).expect(201);
    await w.put('/v1/people/carol', { name: 'Carol', extension: '1003' }).expect(201);
    await w.put('/v1/people/carol/devices/carol-desk', { kind: 'desk' }).expect(201);
    await w.put('/v1/people/bob/devices/bob-soft', { kind: 'softphone' }).expect(201);
    await w.put('/v1/people/bob/devices/bob-phone', { kind: 'mobile' }).expect(201);
    await w.post('/v1/keys', { name: 'pbx', role: 'pbx' }).expect(201);
    await w.post('/v1/keys', { name: 'wallboard', role: 'supervisor' }).expect(201);
    // Alice's phone is known to the PBX by her extension only; Carol's extension is her desk device.
    expect(await sizes('acme')).toEqual({ people: 3, desk: 2, softphone: 1, mobile: 1, pbxKeys: 1 });
  });

  it('follows revoked PBX keys, deleted devices and deleted people', async () => {
    const w = r.writer;
    await w.put('/v1/people/carol', { name: 'Carol', extension: '1003' }).expect(201);
    await w.put('/v1/people/carol/devices/carol-desk', { kind: 'desk' }).expect(201);
    await w.put('/v1/people/carol/devices/carol-soft', { kind: 'softphone' }).expect(201);
    await w.put('/v1/people/dave', { name: 'Dave' }).expect(201);
    await w.put('/v1/people/dave/devices/dave-desk', { kind: 'desk' }).expect(201);
    const old = (await w.post('/v1/keys', { name: 'old pbx', role: 'pbx' }).expect(201)).body.id as string;
    const current = (await w.post('/v1/keys', { name: 'new pbx', role: 'pbx' }).expect(201)).body.id as string;
    expect(await sizes('acme')).toEqual({ people: 2, desk: 2, softphone: 1, mobile: 0, pbxKeys: 2 });

    await w.del(`/v1/keys/${old}`).expect(204);
    expect((await sizes('acme')).pbxKeys).toBe(1);
    await w.del(`/v1/keys/${current}`).expect(204);
    expect((await sizes('acme')).pbxKeys).toBe(0);

    await w.del('/v1/people/carol/devices/carol-soft').expect(204);
    // Carol keeps a desk phone by her extension once her desk device is gone.
    await w.del('/v1/people/carol/devices/carol-desk').expect(204);
    expect(await sizes('acme')).toEqual({ people: 2, desk: 2, softphone: 0, mobile: 0, pbxKeys: 0 });
    await w.del('/v1/people/dave').expect(204);
    expect(await sizes('acme')).toEqual({ people: 1, desk: 1, softphone: 0, mobile: 0, pbxKeys: 0 });
  });

  it('counts a mobile app while it holds a token: not once revoked, again once it has a new one', async () => {
    const w = r.writer;
    await w.put('/v1/people/bob', { name: 'Bob' }).expect(201);
    await w.put('/v1/people/bob/devices/bob-phone', { kind: 'mobile' }).expect(201);
    await w.put('/v1/people/bob/devices/bob-tablet', { kind: 'mobile' }).expect(201);
    expect((await sizes('acme')).mobile).toBe(2);
    await w.del('/v1/people/bob/devices/bob-phone/token').expect(204);
    await w.del('/v1/people/bob/devices/bob-tablet/token').expect(204);
    expect((await sizes('acme')).mobile).toBe(0);
    // Re-registered: a new token, whether issued on its own or by writing the device again.
    await w.post('/v1/people/bob/devices/bob-phone/token', {}).expect(200);
    expect((await sizes('acme')).mobile).toBe(1);
    expect((await w.put('/v1/people/bob/devices/bob-tablet', { kind: 'mobile', name: 'Tablet' }).expect(200)).body.token).toMatch(/^phd_/);
    expect((await sizes('acme')).mobile).toBe(2);
  });

  it("drops a deleted tenant's sizes, and only its own", async () => {
    const w = r.writer;
    const created = await w.http.post('/v1/tenants').set('Authorization', `Bearer ${OPERATOR_KEY}`).send({ id: 'globex', name: 'Globex' }).expect(201);
    const globex = created.body.adminKey.secret as string;
    await w.put('/v1/people/gina', { name: 'Gina' }, globex).expect(201);
    await w.put('/v1/people/gina/devices/gina-phone', { kind: 'mobile' }, globex).expect(201);
    await w.post('/v1/keys', { name: 'pbx', role: 'pbx' }, globex).expect(201);
    await w.put('/v1/people/alice', { name: 'Alice', extension: '1001' }).expect(201);
    expect(await sizes('globex')).toEqual({ people: 1, desk: 0, softphone: 0, mobile: 1, pbxKeys: 1 });

    await w.http.delete('/v1/tenants/globex').set('Authorization', `Bearer ${OPERATOR_KEY}`).expect(204);
    expect(await sizes('globex')).toEqual({ people: undefined, desk: undefined, softphone: undefined, mobile: undefined, pbxKeys: undefined });
    expect(await sizes('acme')).toEqual({ people: 1, desk: 1, softphone: 0, mobile: 0, pbxKeys: 0 });
  });
}

describe('directory gauges (embedded store)', () => {
  directoryGauges(async () => {
    const h = await startTestHub();
    return { writer: h, reader: h, stop: () => h.stop() };
  });
});

describeWith(['redis'], 'directory gauges (Redis store): a replica reports what another wrote', () => {
  const redisEnv = sharedRedis('gauges');

  directoryGauges(async () => {
    const env = { ...redisEnv(), ENCRYPTION_KEY: randomBytes(32).toString('base64') };
    const writer = await startTestHub({ env });
    const reader = await startTestHub({ env });
    // The reader holds a copy of the directory from its start: every later write is another replica's.
    await reader.http.get('/metrics').expect(200);
    return { writer, reader, stop: async () => void (await Promise.all([writer.stop(), reader.stop()])) };
  });
});
