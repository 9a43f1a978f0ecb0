import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock/manual-clock.js';
import { SecretBox } from '../../shared/crypto/secrets.js';
import type { CalendarConnection, StoredTokens } from '../../shared/domain/calendar.js';
import { silentLogger } from '../../shared/log/logger.js';
import { EmbeddedStore } from '../../shared/store/embedded/embedded-store.js';
import { ConnectionUnavailableError, InvalidGrantError } from '../../services/calendars/errors.js';
import { TokenManager, type TokenRef, type TokenRefresher } from '../../services/calendars/token-manager.js';

const T0 = '2026-03-02T09:30:00Z';
const REF: TokenRef = { collection: 'calendarConnections', tenantId: 'acme', id: 'microsoft.alice' };

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('token manager', () => {
  let store: EmbeddedStore;
  let clock: ManualClock;
  let secrets: SecretBox;
  let broken: Array<{ ref: TokenRef; reason: string }>;

  const manager = (owner: string, refresher: TokenRefresher) =>
    new TokenManager({ store, secrets, clock, log: silentLogger, owner, refreshAheadMs: 5 * 60_000, refresher, onBroken: async (ref, reason) => void broken.push({ ref, reason }) });

  async function seed(tokens: StoredTokens): Promise<void> {
    const doc: CalendarConnection = {
      id: REF.id,
      tenantId: 'acme',
      personId: 'alice',
      provider: 'microsoft',
      mode: 'delegated',
      status: 'connected',
      account: { id: 'u1' },
      scopes: [],
      sealedTokens: secrets.seal(JSON.stringify(tokens)),
      connectedAt: clock.now(),
      updatedAt: clock.now(),
    };
    await store.directory.write([{ op: 'put', collection: 'calendarConnections', doc }]);
  }

  async function stored(): Promise<StoredTokens> {
    const doc = await store.directory.get('calendarConnections', 'acme', REF.id);
    return JSON.parse(secrets.open(doc!.sealedTokens!)) as StoredTokens;
  }

  beforeEach(() => {
    store = new EmbeddedStore(':memory:');
    clock = new ManualClock(T0);
    secrets = new SecretBox(randomBytes(32));
    broken = [];
  });
  afterEach(() => store.close());

  it('returns a token that is not about to expire without refreshing', async () => {
    await seed({ accessToken: 'a1', refreshToken: 'r1', expiresAt: clock.now() + 10 * 60_000 });
    let calls = 0;
    const m = manager('one', { refresh: async () => ((calls++), { accessToken: 'x', expiresAt: 0 }) });
    expect(await m.accessToken(REF)).toBe('a1');
    expect(calls).toBe(0);
  });

  it('refreshes ahead of expiry, once for many concurrent callers, and keeps the refresh token the provider did not resend', async () => {
    await seed({ accessToken: 'a1', refreshToken: 'r1', expiresAt: clock.now() + 4 * 60_000 });
    const gate = deferred<StoredTokens>();
    const seen: Array<StoredTokens | undefined> = [];
    const m = manager('one', {
      refresh: (_doc, current) => {
        seen.push(current);
        return gate.promise;
      },
    });
    const all = Promise.all(Array.from({ length: 5 }, () => m.accessToken(REF)));
    await new Promise((r) => setImmediate(r));
    gate.resolve({ accessToken: 'a2', expiresAt: clock.now() + 3600_000 });
    expect(await all).toEqual(['a2', 'a2', 'a2', 'a2', 'a2']);
    expect(seen).toEqual([{ accessToken: 'a1', refreshToken: 'r1', expiresAt: clock.now() + 4 * 60_000 }]);
    expect(await stored()).toEqual({ accessToken: 'a2', refreshToken: 'r1', expiresAt: clock.now() + 3600_000 });
  });

  it('stores a rotated refresh token', async () => {
    await seed({ accessToken: 'a1', refreshToken: 'r1', expiresAt: clock.now() });
    const m = manager('one', { refresh: async () => ({ accessToken: 'a2', refreshToken: 'r2', expiresAt: clock.now() + 3600_000 }) });
    await m.accessToken(REF);
    expect((await stored()).refreshToken).toBe('r2');
  });

  it('one refresh in flight across replicas: the second waits on the lease and reads what the first stored', async () => {
    await seed({ accessToken: 'a1', refreshToken: 'r1', expiresAt: clock.now() + 60_000 });
    const gate = deferred<StoredTokens>();
    let aCalls = 0;
    let bCalls = 0;
    const a = manager('replica-a', { refresh: () => ((aCalls++), gate.promise) });
    const b = manager('replica-b', { refresh: async () => ((bCalls++), { accessToken: 'from-b', expiresAt: clock.now() + 3600_000 }) });
    const fromA = a.accessToken(REF);
    await new Promise((r) => setImmediate(r));
    const fromB = b.accessToken(REF);
    await clock.advance(0);
    expect(clock.timers).toBe(1); // B is waiting for the lease, on the clock
    gate.resolve({ accessToken: 'a2', expiresAt: clock.now() + 3600_000 });
    expect(await fromA).toBe('a2');
    await clock.advance(250);
    expect(await fromB).toBe('a2');
    expect(aCalls).toBe(1);
    expect(bCalls).toBe(0);
  });

  it('a lease left by a replica that died is taken over once it expires', async () => {
    await seed({ accessToken: 'a1', refreshToken: 'r1', expiresAt: clock.now() });
    await store.leases.acquire('oauth-refresh:calendarConnections/acme/microsoft.alice', 'dead-replica', 30_000, clock.now());
    const m = manager('alive', { refresh: async () => ({ accessToken: 'a2', expiresAt: clock.now() + 3600_000 }) });
    const p = m.accessToken(REF);
    await clock.advance(29_999);
    await clock.advance(250);
    expect(await p).toBe('a2');
  });

  it('after a 401, refreshes unless the rejected token was already replaced', async () => {
    await seed({ accessToken: 'a1', refreshToken: 'r1', expiresAt: clock.now() + 3600_000 });
    let calls = 0;
    const m = manager('one', { refresh: async () => ((calls++), { accessToken: `a${calls + 1}`, expiresAt: clock.now() + 3600_000 }) });
    expect(await m.afterRejection(REF, 'a1')).toBe('a2');
    expect(await m.afterRejection(REF, 'a1')).toBe('a2');
    expect(calls).toBe(1);
  });

  it('invalid_grant marks the connection broken, forgets the tokens and reports it', async () => {
    await seed({ accessToken: 'a1', refreshToken: 'r1', expiresAt: clock.now() });
    const m = manager('one', {
      refresh: async () => {
        throw new InvalidGrantError('microsoft', 'invalid_grant', 'AADSTS70000');
      },
    });
    await expect(m.accessToken(REF)).rejects.toBeInstanceOf(ConnectionUnavailableError);
    const doc = await store.directory.get('calendarConnections', 'acme', REF.id);
    expect(doc).toMatchObject({ status: 'broken', brokenReason: 'invalid_grant', brokenAt: clock.now() });
    expect(doc?.sealedTokens).toBeUndefined();
    expect(broken).toEqual([{ ref: REF, reason: 'invalid_grant' }]);
    await expect(m.accessToken(REF)).rejects.toBeInstanceOf(ConnectionUnavailableError);
  });

  /** Deletes the connection (a disconnect, its person's deletion) right before the next write that puts it lands. */
  function disconnectBeforeNextPut(): void {
    const write = store.directory.write.bind(store.directory);
    store.directory.write = (async (ops, conditions) => {
      store.directory.write = write;
      if (ops.some((op) => op.op === 'put')) await write([{ op: 'delete', collection: 'calendarConnections', tenantId: 'acme', id: REF.id }]);
      return write(ops, conditions);
    }) as typeof store.directory.write;
  }

  it.each([
    ['new tokens', async () => ({ accessToken: 'a2', expiresAt: clock.now() + 3600_000 })],
    [
      'a broken grant',
      async () => {
        throw new InvalidGrantError('microsoft', 'invalid_grant', 'AADSTS70000');
      },
    ],
  ] as const)('a connection disconnected as %s are stored does not come back', async (_what, refresh) => {
    await seed({ accessToken: 'a1', refreshToken: 'r1', expiresAt: clock.now() });
    const m = manager('one', { refresh });
    disconnectBeforeNextPut();
    await expect(m.accessToken(REF)).rejects.toBeInstanceOf(ConnectionUnavailableError);
    expect(await store.directory.get('calendarConnections', 'acme', REF.id)).toBeUndefined();
    expect(broken).toEqual([]);
  });

  it('seals what it stores', async () => {
    await seed({ accessToken: 'a1', refreshToken: 'r1', expiresAt: clock.now() });
    const m = manager('one', { refresh: async () => ({ accessToken: 'plain-access', refreshToken: 'plain-refresh', expiresAt: clock.now() + 3600_000 }) });
    await m.accessToken(REF);
    const raw = JSON.stringify(await store.directory.get('calendarConnections', 'acme', REF.id));
    expect(raw).not.toContain('plain-access');
    expect(raw).not.toContain('plain-refresh');
  });
});
