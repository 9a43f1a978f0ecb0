import type { CalendarAppGrant, CalendarConnection, CalendarSubscription, CalendarSyncState, OAuthFlow } from '../domain/calendar.js';
import type { ApiKey, Device, Person, Tenant, TenantDeletion } from '../domain/directory.js';
import type { Group } from '../domain/group.js';
import type { Presence } from '../domain/presence.js';
import type { QueuePause } from '../domain/queue-pause.js';
import type { Signal } from '../domain/signal.js';
import type { OperatorRequestLimits } from '../domain/request-limits.js';
import type { Target } from '../domain/target.js';
import type { ChangeFeed, FeedCause } from './feed.js';
import type { CollectionName } from './keys.js';
import type { LeaseStore } from './leases.js';
import type { ReplayGuard } from './replay-guard.js';
import type { SharedLimits } from './shared-limits.js';
import type { RoutingStateStore } from './routing-state.js';
import type { TargetStatusStore } from './target-status.js';
import type { DeliveryLedger, DueSet } from './shared-work.js';

export interface CollectionTypes {
  tenants: Tenant;
  people: Person;
  devices: Device;
  apiKeys: ApiKey;
  groups: Group;
  queuePauses: QueuePause;
  targets: Target;
  operatorRequestLimits: OperatorRequestLimits;
  tenantDeletions: TenantDeletion;
  calendarConnections: CalendarConnection;
  calendarSyncStates: CalendarSyncState;
  calendarSubscriptions: CalendarSubscription;
  calendarAppGrants: CalendarAppGrant;
  oauthFlows: OAuthFlow;
}
export type Doc<C extends CollectionName> = CollectionTypes[C];

export type WriteOp =
  { [C in CollectionName]: { op: 'put'; collection: C; doc: Doc<C> } | { op: 'delete'; collection: C; tenantId: string; id: string } }[CollectionName];

/** A document a conditional write needs (`exists: true`) or must not find (`exists: false`, a create). */
export interface WriteCondition {
  collection: CollectionName;
  tenantId: string;
  id: string;
  exists: boolean;
}

/**
 * Durable records: the directory, keys, devices and later targets and grants. Every write is atomic
 * and acknowledged only once it would survive a `kill -9`. Returned documents are read-only.
 */
export interface DirectoryStore {
  get<C extends CollectionName>(collection: C, tenantId: string, id: string): Promise<Doc<C> | undefined>;
  list<C extends CollectionName>(collection: C, tenantId: string, where?: { field: string; value: string }): Promise<Doc<C>[]>;
  /** Looks a document up by a unique field; `tenantId` is required for tenant-scoped fields. */
  findUnique<C extends CollectionName>(collection: C, field: string, value: string, tenantId?: string): Promise<Doc<C> | undefined>;
  /**
   * Applies all operations or none; a broken unique field throws `UniqueViolation`. With `conditions`,
   * only while every one holds, checked in the same atomic step as the write (whichever replica writes
   * meanwhile): else nothing is written and `WriteRefused` names the first that failed.
   */
  write(ops: readonly WriteOp[], conditions?: readonly WriteCondition[]): Promise<void>;
}

/** Everything known about one person right now. */
export interface PersonState {
  signals: Signal[];
  presence?: Presence;
}

export interface Update<T> {
  next: PersonState;
  result: T;
  /**
   * Appends `next.presence` to the change feed in the same atomic step as the write, so the feed's order
   * per person is the order of the writes and no stored change can miss the feed (whichever replica wrote).
   */
  emit?: boolean;
  /** Marks the emitted event as not a new state (`FeedEvent.cause`). */
  cause?: FeedCause;
  /** The instant `next` was worked out at (the merge's `now`): tells a store which removed signals had run out. */
  at?: number;
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
  /** Forgets the person and appends their removal to the change feed, atomically. */
  remove(tenantId: string, personId: string): Promise<void>;
}

export interface Store {
  readonly kind: 'embedded' | 'redis';
  readonly directory: DirectoryStore;
  readonly state: StateStore;
  /** Cross-replica leases (one token refresh per connection, one calendar job per connection, one publisher per target). */
  readonly leases: LeaseStore;
  /** Every state change, in write order per person, to every consumer on every replica. */
  readonly feed: ChangeFeed;
  readonly replay: ReplayGuard;
  readonly routingState: RoutingStateStore;
  /** Push targets' publishing status as their owners report it, for every replica to answer. */
  readonly targetStatus: TargetStatusStore;
  /**
   * What each publish target acknowledged, so whoever publishes a target next (another replica, or this
   * process after a restart) continues it rather than publishing beside it.
   */
  readonly deliveries: DeliveryLedger;
  /** Request limits counted for the whole deployment rather than per replica. */
  readonly limits: SharedLimits;
  /**
   * Work shared by several replicas: absent when one process is all there is (its own timers are then
   * the whole truth).
   */
  readonly shared?: { due: DueSet };
  /** Connects and starts background work (the feed reader); before any other call. */
  start(): Promise<void>;
  /** False while the backing storage cannot take writes. */
  ready(): Promise<boolean>;
  /**
   * Called after the storage came back without its data (and what this process held was put back), so
   * the service re-evaluates everyone and publishers re-send current states.
   */
  onRecovered(listener: () => void): void;
  close(): Promise<void>;
}
