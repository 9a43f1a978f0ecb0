import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Signal } from '../../shared/domain/signal.js';
import { EmbeddedStore } from '../../shared/store/embedded/embedded-store.js';
import { storeContract } from './contract.js';
import { leaseContract } from './lease-contract.js';
import { sharedLimitsContract } from './shared-limits-contract.js';

storeContract('embedded (SQLite + memory)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-store-'));
  const path = join(dir, 'db.sqlite');
  return {
    store: new EmbeddedStore(path),
    reopen: async (opts) => new EmbeddedStore(path, opts),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

leaseContract('embedded (memory)', async () => {
  const store = new EmbeddedStore(':memory:');
  return { leases: store.leases, cleanup: () => store.close() };
});

sharedLimitsContract('embedded (memory)', async () => {
  const store = new EmbeddedStore(':memory:');
  return { limits: store.limits, cleanup: () => store.close() };
});

describe('embedded store: signals written behind', () => {
  const registered: Signal = { id: 'pbx:reg:desk', source: 'pbx', observedAt: 5, claim: { kind: 'endpoint', endpoint: { id: 'desk', kind: 'desk' }, reachable: true } };
  const put = (store: EmbeddedStore, personId: string, signals: Signal[]) => store.state.update('a', personId, () => ({ next: { signals }, result: undefined }));

  it('are on disk after a close that comes before their write, and a person removed meanwhile stays removed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ph-store-'));
    const path = join(dir, 'db.sqlite');
    try {
      const store = new EmbeddedStore(path);
      await put(store, 'alice', [registered]);
      await put(store, 'bob', [registered]);
      await store.state.remove('a', 'bob');
      // Closed at once, well inside WRITE_BEHIND_MS: the close writes what is pending.
      await store.close();
      const again = new EmbeddedStore(path);
      expect((await again.state.read('a', 'alice')).signals).toEqual([registered]);
      expect((await again.state.read('a', 'bob')).signals).toEqual([]);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
