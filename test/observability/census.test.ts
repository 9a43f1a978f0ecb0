import { describe, expect, it } from 'vitest';
import { takeCensus } from '../../services/observability/census.js';
import { EmbeddedStore } from '../../shared/store/embedded/embedded-store.js';

const connection = (tenantId: string, personId: string, provider: 'microsoft' | 'google', status: 'connected' | 'broken') =>
  ({ id: `${provider}.${personId}`, tenantId, personId, provider, mode: 'delegated', status, account: { id: personId }, scopes: [], connectedAt: 0, updatedAt: 0 }) as never;

describe("the directory census behind /metrics' per-tenant sizes", () => {
  it('counts broken calendar connections by tenant and provider, and only broken ones', async () => {
    const store = new EmbeddedStore(':memory:');
    await store.directory.write([
      { op: 'put', collection: 'calendarConnections', doc: connection('acme', 'alice', 'microsoft', 'broken') },
      { op: 'put', collection: 'calendarConnections', doc: connection('acme', 'bob', 'microsoft', 'broken') },
      { op: 'put', collection: 'calendarConnections', doc: connection('acme', 'carol', 'microsoft', 'connected') },
      { op: 'put', collection: 'calendarConnections', doc: connection('acme', 'alice', 'google', 'connected') },
      { op: 'put', collection: 'calendarConnections', doc: connection('globex', 'dave', 'google', 'broken') },
    ]);
    const census = await takeCensus(store.directory, ['acme', 'globex', 'initech']);
    expect(Object.fromEntries([...census].map(([t, c]) => [t, c.calendarsBroken]))).toEqual({
      acme: { microsoft: 2, google: 0 },
      globex: { microsoft: 0, google: 1 },
      initech: { microsoft: 0, google: 0 },
    });
    await store.close();
  });
});
