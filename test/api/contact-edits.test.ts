import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';

/** An administrator who corrects a phone's address in the directory expects the next call to ring the new one. */
describe('a contact edited in the directory reaches routing at once', () => {
  let h: TestHub;
  let key: PbxKey;
  beforeEach(async () => {
    h = await startTestHub();
    key = await seedAlice(h, { mobileNumber: '+4930111111' });
  });
  afterEach(() => h.stop());

  const contacts = async () => {
    const res = await h.post('/v1/route', { person: 'alice' }).expect(200);
    return (res.body.ring[0]?.contacts ?? []).map((c: { endpointId: string; uri: string }) => `${c.endpointId} ${c.uri}`).sort();
  };
  const register = (events: Array<Record<string, unknown>>) =>
    h.pbx(events.map((e) => ({ type: 'registered', at: h.clock.now(), ...e })), key).expect(200);

  it("a device's contact", async () => {
    await register([{ device: 'alice-desk' }]);
    expect(await contacts()).toEqual(['alice-desk sip:alice@192.0.2.10']);
    const before = (await h.get('/v1/presence/alice')).body.version;
    await h.put('/v1/people/alice/devices/alice-desk', { kind: 'desk', contact: 'sip:alice@192.0.2.20' }).expect(200);
    expect(await contacts()).toEqual(['alice-desk sip:alice@192.0.2.20']);
    expect((await h.get('/v1/presence/alice')).body.version).toBeGreaterThan(before);
  });

  it('the same edit made with apply -f', async () => {
    await register([{ device: 'alice-desk' }]);
    const doc = (contact: string) => ({
      tenant: 'acme',
      people: [{ id: 'alice', name: 'Alice', extension: '1001', sipUri: 'sip:alice@example.test', mobileNumber: '+4930111111', teams: ['support'], devices: [{ id: 'alice-desk', kind: 'desk', contact }] }],
    });
    await h.post('/v1/directory/apply', doc('sip:alice@192.0.2.30')).expect(200);
    expect(await contacts()).toEqual(['alice-desk sip:alice@192.0.2.30']);
  });

  it("the person's SIP URI, for a phone the PBX reports by extension", async () => {
    await register([{ extension: '1001' }]);
    expect(await contacts()).toEqual(['ext-1001 sip:alice@example.test']);
    await h.put('/v1/people/alice', { name: 'Alice', extension: '1001', sipUri: 'sip:alice@pbx.example.test', mobileNumber: '+4930111111', teams: ['support'] }).expect(200);
    expect(await contacts()).toEqual(['ext-1001 sip:alice@pbx.example.test']);
  });

  it("the person's mobile number, for an app without a contact of its own", async () => {
    const token = (await h.put('/v1/people/alice/devices/alice-phone', { kind: 'mobile' }).expect(201)).body.token as string;
    await h.http.post('/v1/heartbeat').set('Authorization', `Bearer ${token}`).send({ state: 'foreground' }).expect(200);
    expect(await contacts()).toEqual(['alice-phone +4930111111']);
    await h.put('/v1/people/alice', { name: 'Alice', extension: '1001', sipUri: 'sip:alice@example.test', mobileNumber: '+4930222222', teams: ['support'] }).expect(200);
    expect(await contacts()).toEqual(['alice-phone +4930222222']);
  });

  it('but not a contact the PBX reported itself', async () => {
    await register([{ device: 'alice-desk', contact: 'sip:alice@198.51.100.7:5062' }]);
    await h.put('/v1/people/alice/devices/alice-desk', { kind: 'desk', contact: 'sip:alice@192.0.2.20' }).expect(200);
    expect(await contacts()).toEqual(['alice-desk sip:alice@198.51.100.7:5062']);
  });
});
