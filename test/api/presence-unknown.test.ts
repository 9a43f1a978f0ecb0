import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';

describe('a person nothing has been merged for since a restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-unknown-'));
  let h: TestHub | undefined;
  afterEach(async () => {
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is unknown with no since, rather than since 1970', async () => {
    const first = await startTestHub({ dir });
    await first.put('/v1/people/bob', { name: 'Bob', extension: '1002' }).expect(201);
    await first.stop();
    // Bob had no durable signal (no manual status, no working hours): the restart leaves him no state.
    h = await startTestHub({ dir });
    const expected = { personId: 'bob', name: 'Bob', availability: 'unknown', version: 0, activity: 'unknown', routable: false, endpoints: [], explanation: [] };
    expect((await h.get('/v1/presence/bob').expect(200)).body).toEqual(expected);
    expect((await h.get('/v1/presence').expect(200)).body.presence).toEqual([expected]);
  });
});
