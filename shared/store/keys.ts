/**
 * Every collection, lookup and key name the stores use. Adapters build names only through this module,
 * so the embedded (SQLite) and Redis layouts stay in step.
 */
export const COLLECTIONS = {
  tenants: { unique: {}, multi: [] },
  people: { unique: { extension: 'tenant', sipUri: 'tenant' }, multi: [] },
  devices: { unique: { tokenHash: 'global' }, multi: ['personId'] },
  apiKeys: { unique: { hash: 'global' }, multi: ['personId'] },
  /** Hunt groups and queues (routing). */
  groups: { unique: { extension: 'tenant' }, multi: [] },
  /** A person's pause from group and queue calls (routing), under the person's id. */
  queuePauses: { unique: {}, multi: [] },
  targets: { unique: {}, multi: [] },
  /**
   * The operator's request limits for a tenant, by its id: apart from the tenant's document, so a write of
   * either (on any replica, with no read-modify-write between them) never undoes the other.
   */
  operatorRequestLimits: { unique: {}, multi: [] },
  /** A tenant whose deletion began and has not finished, by its id: the id is not free until it has. */
  tenantDeletions: { unique: {}, multi: [] },
  calendarConnections: { unique: {}, multi: ['personId'] },
  calendarSyncStates: { unique: {}, multi: [] },
  // Provider notifications name only the subscription or channel, so it is looked up across tenants.
  calendarSubscriptions: { unique: { externalId: 'global' }, multi: ['connectionId'] },
  calendarAppGrants: { unique: {}, multi: [] },
  // The OAuth callback names only `state`.
  oauthFlows: { unique: { stateHash: 'global' }, multi: [] },
} as const satisfies Record<string, CollectionSpec>;

export interface CollectionSpec {
  /** Fields whose values must be unique, either within a tenant or across all tenants. */
  unique: Record<string, 'tenant' | 'global'>;
  /** Fields listed by value (`list(c, tenant, { field, value })`). */
  multi: readonly string[];
}

export type CollectionName = keyof typeof COLLECTIONS;

const SEP = ':';

export const redisKeys = (prefix: string) => ({
  doc: (c: CollectionName, tenantId: string) => `${prefix}doc${SEP}${c}${SEP}${tenantId}`,
  unique: (c: CollectionName, field: string, scope: string) => `${prefix}uniq${SEP}${c}${SEP}${field}${SEP}${scope}`,
  state: (tenantId: string, personId: string) => `${prefix}state${SEP}${tenantId}${SEP}${personId}`,
  statesOf: (tenantId: string) => `${prefix}states${SEP}${tenantId}`,
  lease: (key: string) => `${prefix}lease${SEP}${key}`,
  /** Tenants that have per-person state. */
  tenants: () => `${prefix}tenants`,
  /** Sorted set of people's next transitions (score: the instant; member: `dueMember`). */
  due: () => `${prefix}due`,
  /** The change feed of every tenant (a stream with explicit ids `<seq>-0`) and its sequence. */
  feed: () => `${prefix}feed`,
  feedSeq: () => `${prefix}feed${SEP}seq`,
  /** Hash: tenant id → the feed's sequence when it was last created (`ChangeFeed.begin`). */
  feedBegan: () => `${prefix}feed${SEP}began`,
  /** Names this Redis dataset; a new value means the data was lost and rebuilt. */
  epoch: () => `${prefix}epoch`,
  /**
   * Counts directory writes per collection (a hash: collection → count), so a replica knows which part
   * of its copy is out of date: frequent writes to one collection (calendar sync state) leave the copy
   * of the others (people, devices, keys) answering reads.
   */
  directoryRevs: () => `${prefix}docrevs`,
  /**
   * One count of all directory writes: what replicas of earlier versions check their copy against, kept
   * counting so that during a rolling upgrade they still see the new replicas' writes.
   */
  directoryRev: () => `${prefix}docrev`,
  replay: (key: string) => `${prefix}replay${SEP}${key}`,
  /** The last version of each person a publish target acknowledged. */
  delivered: (tenantId: string, targetId: string) => `${prefix}delivered${SEP}${tenantId}${SEP}${targetId}`,
  /** What the replica publishing a target last reported about it (a hash with a key expiry). */
  targetStatus: (tenantId: string, targetId: string) => `${prefix}tstatus${SEP}${tenantId}${SEP}${targetId}`,
  /** Held by every replica that runs (its id, with a key expiry it keeps renewing): none means a full outage. */
  alive: () => `${prefix}alive`,
  /** Set by every replica's renewal of `alive` (kept): a dataset without it had no replica alive yet (new, or emptied). */
  aliveEver: () => `${prefix}alive${SEP}ever`,
  /**
   * After a full outage, the instant registrations kept without an expiry are believed until, while
   * that bound is being applied (`outage-bound.ts`), and the replica applying it (with a key expiry).
   */
  registrationBound: () => `${prefix}regbound`,
  registrationBoundLock: () => `${prefix}regbound${SEP}lock`,
  /** The dataset's name when its last bound was set (kept): it found a full outage, which a replica back later counts too. */
  lastBound: () => `${prefix}regbound${SEP}last`,
  /** A request limit's token bucket shared by every replica (`shared-limits.ts`): a `{ t, a }` hash. */
  limitBucket: (bucket: string) => `${prefix}rl${SEP}bucket${SEP}${bucket}`,
  /** What each replica holds of a limit of places open at once: replica → `<count>:<fresh until>`. */
  limitPlaces: (key: string) => `${prefix}rl${SEP}places${SEP}${key}`,
  /** The replicas counting places, by when their counts go stale (a sorted set). */
  limitReplicas: () => `${prefix}rl${SEP}replicas`,
  routingGroup: (tenantId: string, groupId: string) => `${prefix}rt${SEP}group${SEP}${tenantId}${SEP}${groupId}`,
  routingAgent: (tenantId: string, personId: string) => `${prefix}rt${SEP}agent${SEP}${tenantId}${SEP}${personId}`,
});

export type RedisKeys = ReturnType<typeof redisKeys>;

/** A due-set member naming one person (ids never contain a newline). */
export const dueMember = (tenantId: string, personId: string) => `${tenantId}\n${personId}`;
export const parseDueMember = (member: string) => {
  const i = member.indexOf('\n');
  return { tenantId: member.slice(0, i), personId: member.slice(i + 1) };
};

export const sqliteTables = {
  records: 'records',
  signals: 'durable_signals',
  meta: 'meta',
  /** What each publish target acknowledged of each person (the embedded `DeliveryLedger`). */
  delivered: 'delivered',
} as const;
