import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStore } from '../../shared/store/embedded/embedded-store.js';
import { storeContract } from './contract.js';
import { leaseContract } from './lease-contract.js';

storeContract('embedded (SQLite + memory)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-store-'));
  const path = join(dir, 'db.sqlite');
  return {
    store: new EmbeddedStore(path),
    reopen: async () => new EmbeddedStore(path),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

leaseContract('embedded (memory)', async () => {
  const store = new EmbeddedStore(':memory:');
  return { leases: store.leases, cleanup: () => store.close() };
});
