import { describe, expect, it } from 'vitest';
import { UniqueViolation, WriteRefused } from '../../shared/errors/errors.js';
import type { Person } from '../../shared/domain/directory.js';
import type { Group } from '../../shared/domain/group.js';
import type { Presence } from '../../shared/domain/presence.js';
import type { Signal } from '../../shared/domain/signal.js';
import type { FeedEvent } from '../../shared/store/feed.js';
import type { Store } from '../../shared/store/port.js';
import { eventually } from '../support/receiver.js';

const person = (tenantId: string, id: string, over: Partial<Person> = {}): Person => ({
  id,
  tenantId,
  name: id,
  timeZone: 'UTC',
  teams: [],
  skills: {},
  sensitive: false,
  ...over,
});

const presence = (personId: string, version: number): Presence => ({
  personId,
  availability: 'available',
  activity: 'available',
  routable: true,
  endpoints: [],
  explanation: [],
  since: 1,
  version,
});

const group = (tenantId: string, id: string, over: Partial<Group> = {}): Group => ({
  id,
  tenantId,
  name: id,
  kind: 'hunt',
  timeZone: 'UTC',
  strategy: 'round-robin',
  ringTimeoutSeconds: 20,
  leaveWhen: { dnd: true, meeting: true },
  requiredSkills: {},
  members: [],
  fallback: [],
  afterHours: [],
  ...over,
});

/** How a store is reopened: `registrationsUntil` as `openStore` passes it (its start plus the bound). */
export interface ReopenOptions {
  registrationsUntil?: number;
}

/**
 * The store port's contract. Every adapter (embedded SQLite + memory, Redis) runs this same suite.
 * `make` opens a store on fresh storage; `reopen` opens a second store on the same storage (restart),
 * after every store on it was closed long enough to count as a full outage when given `registrationsUntil`.
 */
export function storeContract(name: string, make: () => Promise<{ store: Store; reopen: (opts?: ReopenOptions) => Promise<Store>; cleanup: () => Promise<void> }>): void {
  // Each test starts its store here, so `make` only opens it (as the service would).
  const open = make;
  make = async () => {
    const made = await open();
    await made.store.start();
    return {
      ...made,
      reopen: async (opts?: ReopenOptions) => {
        const again = await made.reopen(opts);
        await again.start();
        return again;
      },
    };
  };
  describe(`store contract: ${name}`, () => {
    it('puts, gets, lists and deletes documents per tenant', async () => {
      const { store, cleanup } = await make();
      await store.directory.write([
        { op: 'put', collection: 'people', doc: person('a', 'alice') },
        { op: 'put', collection: 'people', doc: person('a', 'bob') },
        { op: 'put', collection: 'people', doc: person('b', 'alice', { name: 'other' }) },
      ]);
      expect((await store.directory.get('people', 'a', 'alice'))?.name).toBe('alice');
      expect((await store.directory.get('people', 'b', 'alice'))?.name).toBe('other');
      expect(await store.directory.get('people', 'c', 'alice')).toBeUndefined();
      expect((await store.directory.list('people', 'a')).map((p) => p.id)).toEqual(['alice', 'bob']);
      await store.directory.write([{ op: 'delete', collection: 'people', tenantId: 'a', id: 'bob' }]);
      expect((await store.directory.list('people', 'a')).map((p) => p.id)).toEqual(['alice']);
      await store.close();
      await cleanup();
    });

    it('lists by a multi-valued field', async () => {
      const { store, cleanup } = await make();
      await store.directory.write([
        { op: 'put', collection: 'devices', doc: { id: 'd1', tenantId: 'a', personId: 'alice', kind: 'desk' } },
        { op: 'put', collection: 'devices', doc: { id: 'd2', tenantId: 'a', personId: 'bob', kind: 'desk' } },
        { op: 'put', collection: 'devices', doc: { id: 'd3', tenantId: 'a', personId: 'alice', kind: 'mobile' } },
      ]);
      expect((await store.directory.list('devices', 'a', { field: 'personId', value: 'alice' })).map((d) => d.id)).toEqual(['d1', 'd3']);
      await store.close();
      await cleanup();
    });

    it('enforces unique fields per tenant and globally, and a violation writes nothing', async () => {
      const { store, cleanup } = await make();
      await store.directory.write([{ op: 'put', collection: 'people', doc: person('a', 'alice', { extension: '100' }) }]);
      // Same extension in another tenant is fine.
      await store.directory.write([{ op: 'put', collection: 'people', doc: person('b', 'zoe', { extension: '100' }) }]);
      await expect(
        store.directory.write([
          { op: 'put', collection: 'people', doc: person('a', 'carol') },
          { op: 'put', collection: 'people', doc: person('a', 'bob', { extension: '100' }) },
        ]),
      ).rejects.toBeInstanceOf(UniqueViolation);
      expect(await store.directory.get('people', 'a', 'carol')).toBeUndefined();
      // Moving a value within one batch is allowed.
      await store.directory.write([
        { op: 'put', collection: 'people', doc: person('a', 'alice', { extension: '101' }) },
        { op: 'put', collection: 'people', doc: person('a', 'bob', { extension: '100' }) },
      ]);
      expect((await store.directory.findUnique('people', 'extension', '100', 'a'))?.id).toBe('bob');
      expect((await store.directory.findUnique('people', 'extension', '100', 'b'))?.id).toBe('zoe');
      expect(await store.directory.findUnique('people', 'extension', '100', 'c')).toBeUndefined();
      // Global uniqueness: the same token hash in two tenants is refused.
      await store.directory.write([{ op: 'put', collection: 'devices', doc: { id: 'p', tenantId: 'a', personId: 'alice', kind: 'mobile', tokenHash: 'h1' } }]);
      await expect(
        store.directory.write([{ op: 'put', collection: 'devices', doc: { id: 'p', tenantId: 'b', personId: 'zoe', kind: 'mobile', tokenHash: 'h1' } }]),
      ).rejects.toBeInstanceOf(UniqueViolation);
      expect((await store.directory.findUnique('devices', 'tokenHash', 'h1'))?.tenantId).toBe('a');
      // Deleting frees the value.
      await store.directory.write([{ op: 'delete', collection: 'people', tenantId: 'a', id: 'bob' }]);
      expect(await store.directory.findUnique('people', 'extension', '100', 'a')).toBeUndefined();
      await store.close();
      await cleanup();
    });

    it('creates only where nothing is: of concurrent creators of one id exactly one wins, and a loser writes nothing of its batch', async () => {
      const { store, cleanup } = await make();
      const N = 8;
      const tenant = (n: number) => ({ id: 'acme', tenantId: '*', name: `creator ${n}`, settings: {} }) as never;
      const results = await Promise.allSettled(
        Array.from({ length: N }, (_, n) =>
          store.directory.write(
            [
              { op: 'put', collection: 'tenants', doc: tenant(n) },
              { op: 'put', collection: 'apiKeys', doc: { id: `key${n}`, tenantId: 'acme', name: 'initial admin', role: 'admin', hash: `h${n}`, createdAt: 1 } },
            ],
            [{ collection: 'tenants', tenantId: '*', id: 'acme', exists: false }],
          ),
        ),
      );
      const won = results.flatMap((r, n) => (r.status === 'fulfilled' ? [n] : []));
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(WriteRefused);
      expect((await store.directory.get('tenants', '*', 'acme'))?.name).toBe(`creator ${won[0]}`);
      expect((await store.directory.list('apiKeys', 'acme')).map((k) => k.id)).toEqual([`key${won[0]}`]);
      for (let n = 0; n < N; n++) if (n !== won[0]) expect(await store.directory.findUnique('apiKeys', 'hash', `h${n}`)).toBeUndefined();
      await store.close();
      await cleanup();
    });

    it('writes only while the documents it needs exist, also when one is deleted at the same moment', async () => {
      const { store, cleanup } = await make();
      const pause = { id: 'alice', tenantId: 'a', personId: 'alice', since: 1, setBy: 'self' as const };
      const needs = [
        { collection: 'people' as const, tenantId: 'a', id: 'alice', exists: true },
        { collection: 'groups' as const, tenantId: 'a', id: 'sales', exists: true },
      ];
      await store.directory.write([{ op: 'put', collection: 'people', doc: person('a', 'alice') }]);
      const refused = await store.directory.write([{ op: 'put', collection: 'queuePauses', doc: pause }], needs).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(WriteRefused);
      expect((refused as WriteRefused).condition).toEqual(needs[1]);
      expect(await store.directory.get('queuePauses', 'a', 'alice')).toBeUndefined();
      await expect(store.directory.write([], needs)).rejects.toBeInstanceOf(WriteRefused);
      // The same records in another tenant do not count.
      await store.directory.write([{ op: 'put', collection: 'groups', doc: group('b', 'sales') }]);
      await expect(store.directory.write([{ op: 'put', collection: 'queuePauses', doc: pause }], needs)).rejects.toBeInstanceOf(WriteRefused);
      await store.directory.write([{ op: 'put', collection: 'groups', doc: group('a', 'sales') }]);
      await store.directory.write([{ op: 'put', collection: 'queuePauses', doc: pause }], needs);
      expect(await store.directory.get('queuePauses', 'a', 'alice')).toEqual(pause);
      // A pause written as its person is deleted (the deletion ends the pause it finds): however the two
      // land, no pause outlives the person.
      for (let round = 0; round < 10; round++) {
        await store.directory.write([{ op: 'put', collection: 'people', doc: person('a', 'alice') }]);
        await Promise.allSettled([
          store.directory.write([{ op: 'put', collection: 'queuePauses', doc: { ...pause, since: round } }], needs),
          store.directory.write([
            { op: 'delete', collection: 'people', tenantId: 'a', id: 'alice' },
            { op: 'delete', collection: 'queuePauses', tenantId: 'a', id: 'alice' },
          ]),
        ]);
        expect(await store.directory.get('people', 'a', 'alice')).toBeUndefined();
        expect(await store.directory.get('queuePauses', 'a', 'alice')).toBeUndefined();
      }
      await store.close();
      await cleanup();
    });

    it('keeps routing groups as directory documents with an extension unique per tenant', async () => {
      const { store, cleanup } = await make();
      const support = (tenantId: string, extension?: string) =>
        group(tenantId, 'support', { members: [{ personId: 'alice', priority: 0, skills: {} }], fallback: [{ type: 'voicemail', box: '2000' }], ...(extension ? { extension } : {}) });
      await store.directory.write([
        { op: 'put', collection: 'groups', doc: support('a', '2000') },
        { op: 'put', collection: 'groups', doc: support('b', '2000') },
      ]);
      expect((await store.directory.findUnique('groups', 'extension', '2000', 'a'))?.members).toEqual([{ personId: 'alice', priority: 0, skills: {} }]);
      await expect(store.directory.write([{ op: 'put', collection: 'groups', doc: group('a', 'sales', { extension: '2000' }) }])).rejects.toBeInstanceOf(UniqueViolation);
      expect((await store.directory.list('groups', 'a')).map((g) => g.id)).toEqual(['support']);
      await store.close();
      await cleanup();
    });

    it('keeps acknowledged directory writes and durable signals across a reopen', async () => {
      const { store, reopen, cleanup } = await make();
      await store.directory.write([
        { op: 'put', collection: 'people', doc: person('a', 'alice', { extension: '100' }) },
        { op: 'put', collection: 'apiKeys', doc: { id: 'k', tenantId: 'a', name: 'k', role: 'admin', hash: 'abc', createdAt: 1 } },
      ]);
      await store.state.update('a', 'alice', () => ({
        next: {
          signals: [
            { id: 'manual', source: 'manual', claim: { kind: 'dnd' }, observedAt: 5, until: 99 },
            { id: 'pbx:x', source: 'pbx', claim: { kind: 'call', state: 'on-call' }, observedAt: 5 },
          ],
        },
        result: undefined,
      }));
      await store.close();
      const again = await reopen();
      expect((await again.directory.findUnique('people', 'extension', '100', 'a'))?.id).toBe('alice');
      expect((await again.directory.findUnique('apiKeys', 'hash', 'abc'))?.role).toBe('admin');
      const signals = (await again.state.read('a', 'alice')).signals;
      expect(signals.find((s) => s.id === 'manual')).toEqual({ id: 'manual', source: 'manual', claim: { kind: 'dnd' }, observedAt: 5, until: 99 });
      await again.close();
      await cleanup();
    });

    it('after a full outage, believes a registration kept without an expiry only until registrationsUntil, drops calls, wrap-ups and Teams presence; the rest as kept', async () => {
      const { store, reopen, cleanup } = await make();
      const endpoint = (id: string, until?: number): Signal => ({
        id: `pbx:reg:${id}`,
        source: 'pbx',
        observedAt: 5,
        claim: { kind: 'endpoint', endpoint: { id, kind: 'desk' }, reachable: true },
        ...(until === undefined ? {} : { until }),
      });
      const dnd: Signal = { id: 'manual', source: 'manual', claim: { kind: 'dnd' }, observedAt: 5 };
      const phoneDnd: Signal = { id: 'pbx:dnd:desk', source: 'pbx', claim: { kind: 'dnd' }, observedAt: 5 };
      // Nobody heard the PBX meanwhile: the hang-up may have come and gone, and the PBX sends the call again only at its next change.
      const onCall: Signal = { id: 'pbx:call:desk:1', source: 'pbx', claim: { kind: 'call', state: 'on-call' }, observedAt: 5 };
      const ringing: Signal = { id: 'pbx:call:soft:2', source: 'pbx', claim: { kind: 'call', state: 'ringing' }, observedAt: 5 };
      const wrapUp: Signal = { id: 'pbx:wrap:desk', source: 'pbx', claim: { kind: 'wrap-up' }, observedAt: 5, until: 9000 };
      const teams: Signal = { id: 'teams', source: 'teams', claim: { kind: 'status', activity: 'on-call' }, observedAt: 5 };
      await store.state.update('a', 'alice', () => ({ next: { signals: [endpoint('desk'), onCall, endpoint('soft', 9000), ringing, dnd, wrapUp, phoneDnd, teams] }, result: undefined }));
      await store.close();
      const again = await reopen({ registrationsUntil: 3000 });
      expect((await again.state.read('a', 'alice')).signals).toEqual([endpoint('desk', 3000), endpoint('soft', 9000), dnd, phoneDnd]);
      // A registration the PBX sends after the restart is believed without a bound again.
      await again.state.update('a', 'alice', (s) => ({ next: { signals: [endpoint('desk'), ...s.signals.slice(1)] }, result: undefined }));
      expect((await again.state.read('a', 'alice')).signals[0]).toEqual(endpoint('desk'));
      await again.close();
      await cleanup();
    });

    it('updates a person atomically and lists presence per tenant', async () => {
      const { store, cleanup } = await make();
      await Promise.all(
        Array.from({ length: 50 }, () =>
          store.state.update('a', 'alice', (s) => {
            const v = (s.presence?.version ?? 0) + 1;
            return { next: { signals: s.signals, presence: presence('alice', v) }, result: v };
          }),
        ),
      );
      expect((await store.state.read('a', 'alice')).presence?.version).toBe(50);
      await store.state.update('b', 'bob', () => ({ next: { signals: [], presence: presence('bob', 1) }, result: 0 }));
      expect((await store.state.listPresence('a')).map((p) => p.personId)).toEqual(['alice']);
      expect((await store.state.keys()).map((k) => `${k.tenantId}/${k.personId}`).sort()).toEqual(['a/alice', 'b/bob']);
      await store.state.remove('a', 'alice');
      expect(await store.state.read('a', 'alice')).toEqual({ signals: [] });
      expect(await store.state.listPresence('a')).toEqual([]);
      expect((await store.state.keys()).map((k) => `${k.tenantId}/${k.personId}`)).toEqual(['b/bob']);
      // Written again after the removal: listed again.
      await store.state.update('a', 'alice', () => ({ next: { signals: [], presence: presence('alice', 51) }, result: 0 }));
      expect((await store.state.listPresence('a')).map((p) => p.version)).toEqual([51]);
      expect((await store.state.keys()).map((k) => `${k.tenantId}/${k.personId}`).sort()).toEqual(['a/alice', 'b/bob']);
      await store.close();
      await cleanup();
    });

    it('keeps calendar grants and finds a subscription by its provider id across tenants', async () => {
      const { store, reopen, cleanup } = await make();
      const sub = (tenantId: string, id: string, externalId: string) =>
        ({ id, tenantId, connectionId: 'microsoft.alice', personId: 'alice', provider: 'microsoft', kind: 'events', externalId, secretHash: 'h', expiresAt: 9, createdAt: 1 }) as const;
      await store.directory.write([
        {
          op: 'put',
          collection: 'calendarConnections',
          doc: { id: 'microsoft.alice', tenantId: 'a', personId: 'alice', provider: 'microsoft', mode: 'delegated', status: 'connected', account: { id: 'u1' }, scopes: [], sealedTokens: 'v1.x', connectedAt: 1, updatedAt: 1 },
        },
        { op: 'put', collection: 'calendarSubscriptions', doc: sub('a', 's1', 'microsoft:graph-sub-1') },
      ]);
      await expect(store.directory.write([{ op: 'put', collection: 'calendarSubscriptions', doc: sub('b', 's2', 'microsoft:graph-sub-1') }])).rejects.toBeInstanceOf(UniqueViolation);
      await store.close();
      const again = await reopen();
      expect((await again.directory.findUnique('calendarSubscriptions', 'externalId', 'microsoft:graph-sub-1'))?.tenantId).toBe('a');
      expect((await again.directory.list('calendarConnections', 'a', { field: 'personId', value: 'alice' })).map((c) => c.sealedTokens)).toEqual(['v1.x']);
      await again.close();
      await cleanup();
    });

    it('puts each emitted change on the feed in write order, resumes after an id, and resets on an unknown one', async () => {
      const { store, cleanup } = await make();
      const seen: Array<{ id: string; person: string; version?: number }> = [];
      const all: string[] = [];
      const sub = await store.feed.subscribe('a', (e) => seen.push({ id: e.id, person: e.personId, version: e.presence?.version }));
      expect(sub.replay).toEqual([]);
      const stopAll = store.feed.subscribeAll((e) => all.push(`${e.tenantId}/${e.personId}`));
      const bump = (tenant: string, id: string, emit: boolean) =>
        store.state.update(tenant, id, (s) => {
          const v = (s.presence?.version ?? 0) + 1;
          return { next: { signals: s.signals, presence: presence(id, v) }, result: v, emit };
        });
      await Promise.all(Array.from({ length: 20 }, () => bump('a', 'alice', true)));
      await bump('a', 'bob', false);
      await bump('b', 'zoe', true);
      await store.state.remove('a', 'alice');
      await eventually(() => expect(seen).toHaveLength(21));
      expect(seen.slice(0, 20).map((e) => e.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(seen[20]).toMatchObject({ person: 'alice', version: undefined });
      await eventually(() => expect(all).toHaveLength(22));
      expect(all).toContain('b/zoe');
      stopAll();

      const resumed = await store.feed.subscribe('a', () => {}, seen[17]!.id);
      expect(resumed.replay).not.toBe('reset');
      expect((resumed.replay as FeedEvent[]).map((e) => e.presence?.version)).toEqual([19, 20, undefined]);
      expect((await store.feed.subscribe('a', () => {}, 'not-an-id-42')).replay).toBe('reset');
      expect((await store.feed.subscribe('a', () => {}, `${seen[0]!.id}999`)).replay).toBe('reset');
      sub.close();
      resumed.close();
      await store.close();
      await cleanup();
    });

    it("never resumes across a tenant's creation: an id from before a tenant of the same id began again is answered reset", async () => {
      const { store, cleanup } = await make();
      const ids: Record<string, string[]> = { a: [], b: [] };
      const subs = await Promise.all(['a', 'b'].map((t) => store.feed.subscribe(t, (e) => ids[t]!.push(e.id))));
      const bump = (tenant: string, id: string) =>
        store.state.update(tenant, id, (s) => ({ next: { signals: s.signals, presence: presence(id, (s.presence?.version ?? 0) + 1) }, result: undefined, emit: true }));
      await bump('a', 'alice');
      await bump('b', 'zoe');
      await bump('a', 'alice');
      await eventually(() => expect([ids.a!.length, ids.b!.length]).toEqual([2, 1]));
      expect((await store.feed.subscribe('a', () => {}, ids.a![0])).replay).toHaveLength(1);

      await store.feed.begin('a');
      expect((await store.feed.subscribe('a', () => {}, ids.a![0])).replay).toBe('reset');
      expect((await store.feed.subscribe('a', () => {}, ids.a![1])).replay).toBe('reset');
      // Another tenant resumes as before.
      expect((await store.feed.subscribe('b', () => {}, ids.b![0])).replay).toEqual([]);
      // The new tenant's own changes resume as usual.
      await bump('a', 'alice');
      await bump('a', 'alice');
      await eventually(() => expect(ids.a).toHaveLength(4));
      const resumed = await store.feed.subscribe('a', () => {}, ids.a![2]);
      expect(resumed.replay === 'reset' ? 'reset' : resumed.replay.map((e) => e.id)).toEqual([ids.a![3]]);
      for (const sub of subs) sub.close();
      await store.close();
      await cleanup();
    });

    it('marks an event that repeats the current state with its cause, live and on replay, in order with the changes', async () => {
      const { store, cleanup } = await make();
      const seen: FeedEvent[] = [];
      const sub = await store.feed.subscribe('a', (e) => seen.push(e));
      const all: FeedEvent[] = [];
      const stopAll = store.feed.subscribeAll((e) => all.push(e));
      await store.state.update('a', 'alice', () => ({ next: { signals: [], presence: presence('alice', 1) }, result: undefined, emit: true }));
      await store.state.update('a', 'alice', (s) => ({ next: s, result: undefined, emit: true, cause: 'directory' }));
      await store.state.update('a', 'alice', () => ({ next: { signals: [], presence: presence('alice', 2) }, result: undefined, emit: true }));
      await eventually(() => expect(seen).toHaveLength(3));
      const shape = (e: FeedEvent) => [e.presence?.version, e.cause];
      expect(seen.map(shape)).toEqual([
        [1, undefined],
        [1, 'directory'],
        [2, undefined],
      ]);
      await eventually(() => expect(all.map(shape)).toEqual(seen.map(shape)));
      const resumed = await store.feed.subscribe('a', () => {}, seen[0]!.id);
      expect((resumed.replay as FeedEvent[]).map(shape)).toEqual([
        [1, 'directory'],
        [2, undefined],
      ]);
      expect((await store.state.read('a', 'alice')).presence?.version).toBe(2);
      stopAll();
      sub.close();
      resumed.close();
      await store.close();
      await cleanup();
    });

    it('refuses a repeated replay fingerprint until it expires or is forgotten', async () => {
      const { store, cleanup } = await make();
      const T = Date.UTC(2026, 2, 2, 9);
      expect(await store.replay.firstSeen('pbx:a:sig', T, 60_000)).toBe(true);
      expect(await store.replay.firstSeen('pbx:a:sig', T + 1, 60_000)).toBe(false);
      expect(await store.replay.firstSeen('pbx:b:sig', T + 1, 60_000)).toBe(true);
      await store.replay.forget('pbx:a:sig');
      expect(await store.replay.firstSeen('pbx:a:sig', T + 2, 60_000)).toBe(true);
      expect(await store.replay.firstSeen('pbx:b:sig', T + 2, 60_000)).toBe(false);
      await store.close();
      await cleanup();
    });

    it("keeps a target's status report until its expiry at the instant given, withdrawn only by its reporter", async () => {
      const { store, cleanup } = await make();
      const T = Date.UTC(2026, 2, 2, 9);
      const status = { targetId: 'hook', kind: 'webhook', state: 'failing', lastError: 'ECONNREFUSED', delivered: 0 };
      expect(await store.targetStatus.read('a', 'hook', T)).toBeUndefined();
      await store.targetStatus.report('a', 'hook', { replica: 'r1', reportedAt: T, status }, 40_000);
      expect(await store.targetStatus.read('a', 'hook', T + 39_999)).toEqual({ replica: 'r1', reportedAt: T, status });
      expect(await store.targetStatus.read('b', 'hook', T)).toBeUndefined();
      expect(await store.targetStatus.read('a', 'other', T)).toBeUndefined();
      // Judged by the instant passed in: a dead owner's report goes stale instead of lying forever.
      expect(await store.targetStatus.read('a', 'hook', T + 40_000)).toBeUndefined();
      // A later report replaces it whole (another replica took the target over).
      await store.targetStatus.report('a', 'hook', { replica: 'r1', reportedAt: T, status }, 40_000);
      await store.targetStatus.report('a', 'hook', { replica: 'r2', reportedAt: T + 5, status: { ...status, state: 'healthy' } }, 40_000);
      expect(await store.targetStatus.read('a', 'hook', T + 10)).toEqual({ replica: 'r2', reportedAt: T + 5, status: { ...status, state: 'healthy' } });
      await store.targetStatus.withdraw('a', 'hook', 'r1');
      expect((await store.targetStatus.read('a', 'hook', T + 10))?.replica).toBe('r2');
      await store.targetStatus.withdraw('a', 'hook', 'r2');
      expect(await store.targetStatus.read('a', 'hook', T + 10)).toBeUndefined();
      await store.close();
      await cleanup();
    });

    it('is ready while it can take writes', async () => {
      const { store, cleanup } = await make();
      expect(await store.ready()).toBe(true);
      await store.close();
      await cleanup();
    });

    describe('delivery ledger', () => {
      const T = Date.parse('2026-03-02T10:00:00Z');

      it('remembers what each target acknowledged: a late acknowledgement never replaces a later one', async () => {
        const { store, cleanup } = await make();
        const ledger = store.deliveries;
        await ledger.record('acme', 'hook', 'alice', { version: 7, mark: 0, rendering: 'r1' });
        await ledger.record('acme', 'hook', 'bob', { version: 3, mark: 0, rendering: 'r1' });
        await ledger.record('acme', 'hook', 'alice', { version: 5, mark: 0, rendering: 'r0' });
        await ledger.record('acme', 'hook', 'bob', { version: 4, mark: 0, rendering: 'r1' });
        // The same version rendered again, then an older rendering of it acknowledged late.
        await ledger.record('acme', 'hook', 'alice', { version: 7, mark: T + 2, rendering: 'r2' });
        await ledger.record('acme', 'hook', 'alice', { version: 7, mark: T + 1, rendering: 'r9' });
        // Withdrawn: the target holds nothing of them, and the ledger forgets them (a late acknowledgement of
        // an older delivery may bring them back: a new owner then withdraws them once more).
        await ledger.record('acme', 'hook', 'bob', { version: 4, mark: T, rendering: null });
        expect(await ledger.delivered('acme', 'hook')).toEqual(new Map([['alice', { version: 7, mark: T + 2, rendering: 'r2' }]]));
        expect(await ledger.delivered('acme', 'other')).toEqual(new Map());
        await store.close();
        await cleanup();
      });

      it("forgets what a push target acknowledged when the target is deleted, and only that target's", async () => {
        const { store, cleanup } = await make();
        const ledger = store.deliveries;
        const target = (id: string) => ({ kind: 'webhook', id, tenantId: 'acme', name: id, enabled: true, url: 'https://example.com/hook' }) as never;
        await store.directory.write([
          { op: 'put', collection: 'targets', doc: target('hook') },
          { op: 'put', collection: 'targets', doc: target('other') },
        ]);
        await ledger.record('acme', 'hook', 'alice', { version: 7, mark: 0, rendering: 'r1' });
        await ledger.record('acme', 'other', 'alice', { version: 7, mark: 0, rendering: 'r1' });
        await store.directory.write([{ op: 'delete', collection: 'targets', tenantId: 'acme', id: 'hook' }]);
        expect(await ledger.delivered('acme', 'hook')).toEqual(new Map());
        expect(await ledger.delivered('acme', 'other')).toEqual(new Map([['alice', { version: 7, mark: 0, rendering: 'r1' }]]));
        await store.close();
        await cleanup();
      });

      it('keeps each entry, where the target holds it and its later readdressing across a reopen, and forgets one that holds nothing any more', async () => {
        const { store, reopen, cleanup } = await make();
        const ledger = store.deliveries;
        await ledger.record('acme', 'kam', 'alice', { version: 7, mark: T, rendering: 'r2', address: '{"etag":"a.1"}' });
        await ledger.record('acme', 'kam', 'bob', { version: 3, mark: 0, rendering: 'r1', address: 'PJSIP/a|b|c' });
        await ledger.readdress('acme', 'kam', 'alice', '{"etag":"a|2"}');
        // Not (or no longer) held: nothing to readdress, and nothing comes back.
        await ledger.readdress('acme', 'kam', 'carol', '{"etag":"c.1"}');
        await ledger.record('acme', 'kam', 'bob', { version: 4, mark: 0, rendering: null });
        await ledger.readdress('acme', 'kam', 'bob', '{"etag":"b.1"}');
        // The target holds nothing of dave any more (a SIP removal left under way was taken): the entry goes.
        await ledger.record('acme', 'kam', 'dave', { version: 9, mark: 0, rendering: 'r0', address: '{"leaving":[]}' });
        await ledger.readdress('acme', 'kam', 'dave', undefined);
        const expected = new Map([['alice', { version: 7, mark: T, rendering: 'r2', address: '{"etag":"a|2"}' }]]);
        expect(await ledger.delivered('acme', 'kam')).toEqual(expected);
        await store.close();
        const again = await reopen();
        expect(await again.deliveries.delivered('acme', 'kam')).toEqual(expected);
        await again.close();
        await cleanup();
      });
    });
  });
}
