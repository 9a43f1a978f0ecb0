import type { CalendarAppGrant, CalendarConnection, CalendarSubscription, CalendarSyncState, OAuthFlow } from '../domain/calendar.js';
import type { ApiKey, Device, Person, Tenant } from '../domain/directory.js';
import type { Group } from '../domain/group.js';
import type { Presence } from '../domain/presence.js';
import type { Signal } from '../domain/signal.js';
import type { Target } from '../domain/target.js';
import type { CollectionName } from './keys.js';
import type { LeaseStore } from './leases.js';

export interface CollectionTypes {
  tenants: Tenant;
  people: Person;
  devices: Device;
  apiKeys: ApiKey;
  groups: Group;
  targets: Target;
  calendarConnections: CalendarConnection;
  calendarSyncStates: CalendarSyncState;
  calendarSubscriptions: CalendarSubscription;
  calendarAppGrants: CalendarAppGrant;
  oauthFlows: OAuthFlow;
}
export type Doc<C extends CollectionName> = CollectionTypes[C];

export type WriteOp =
  { [C in CollectionName]: { op: 'put'; collection: C; doc: Doc<C> } | { op: 'delete'; collection: C; tenantId: string; id: string } }[CollectionName];

/**
 * Durable records: the directory, keys, devices and later targets and grants. Every write is atomic
 * and acknowledged only once it would survive a `kill -9`. Returned documents are read-only.
 */
export interface DirectoryStore {
  get<C extends CollectionName>(collection: C, tenantId: string, id: string): Promise<Doc<C> | undefined>;
  list<C extends CollectionName>(collection: C, tenantId: string, where?: { field: string; value: string }): Promise<Doc<C>[]>;
  /** Looks a document up by a unique field; `tenantId` is required for tenant-scoped fields. */
  findUnique<C extends CollectionName>(collection: C, field: string, value: string, tenantId?: string): Promise<Doc<C> | undefined>;
  /** Applies all operations or none; a broken unique field throws `UniqueViolation`. */
  write(ops: readonly WriteOp[]): Promise<void>;
}

/** Everything known about one person right now. */
export interface PersonState {
  signals: Signal[];
  presence?: Presence;
}

export interface Update<T> {
  next: PersonState;
  result: T;
}

/**
 * Hot per-person state. `update` is atomic per person whichever caller or replica runs it: `fn` sees the
 * latest state and its result is stored as a whole (it may be called again on contention, so it must be pure).
 */
export interface StateStore {
  read(tenantId: string, personId: string): Promise<PersonState>;
  update<T>(tenantId: string, personId: string, fn: (state: PersonState) => Update<T>): Promise<T>;
  listPresence(tenantId: string): Promise<Presence[]>;
  /** Every person that has state, for rescheduling at start-up. */
  keys(): Promise<Array<{ tenantId: string; personId: string }>>;
  remove(tenantId: string, personId: string): Promise<void>;
}

export interface Store {
  readonly kind: 'embedded' | 'redis';
  readonly directory: DirectoryStore;
  readonly state: StateStore;
  /** Cross-replica leases (one token refresh per connection, one calendar job per connection). */
  readonly leases: LeaseStore;
  /** False while the backing storage cannot take writes. */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}
