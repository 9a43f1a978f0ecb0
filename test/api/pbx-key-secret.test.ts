import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedAlice, startTestHub, type PbxKey, type TestHub } from '../support/hub.js';

describe('PBX signing secret', () => {
  let h: TestHub;
  let key: PbxKey;

  beforeEach(async () => {
    h = await startTestHub();
    key = await seedAlice(h);
  });
  afterEach(() => h.stop());

  it('the key listing names each PBX key as its batches do, and shows no secret', async () => {
    const [tenantId, keyId] = key.signingKeyId.split('/') as [string, string];
    const listed = (await h.get('/v1/keys').expect(200)).body.keys as Array<Record<string, unknown>>;
    expect(listed.find((k) => k.id === keyId)).toEqual({ id: keyId, tenantId, name: 'pbx', role: 'pbx', createdAt: new Date(h.clock.now()).toISOString(), signingKeyId: key.signingKeyId });
    expect(listed.find((k) => k.role === 'admin')).not.toHaveProperty('signingKeyId');
  });

  it('a key document rewritten with a new secret signs with the new one at once, the old one no longer', async () => {
    const event = [{ type: 'registered', device: 'alice-desk', at: h.clock.now() }];
    await h.pbx(event, key).expect(200);
    const [tenantId, keyId] = key.signingKeyId.split('/') as [string, string];
    const doc = (await h.hub.store.directory.get('apiKeys', tenantId, keyId))!;
    const fresh = 'a-new-signing-secret-0123456789abcdef';
    await h.hub.store.directory.write([{ op: 'put', collection: 'apiKeys', doc: { ...doc, sealed: h.hub.secrets.seal(fresh) } }]);

    const res = await h.pbx([{ ...event[0]!, at: h.clock.now() + 1 }], key).expect(401);
    expect(res.body.error.code).toBe('invalid_signature');
    await h.pbx([{ ...event[0]!, at: h.clock.now() + 2 }], { ...key, secret: fresh }).expect(200);
  });
});
