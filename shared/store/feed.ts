import type { Presence } from '../domain/presence.js';

/**
 * Why an event is on the feed when it is not a new state: the person's directory record changed, and the
 * event carries their current state again, version unchanged. Publishers re-render it for the targets
 * that cover the person. `directory`: a change live streams show too (teams, name, sensitive);
 * `address`: only their extension or SIP URI, which devices and presentities follow and streams do not show.
 */
export type FeedCause = 'directory' | 'address';

/** One change on the live feed. `presence` is absent when the person was removed. */
export interface FeedEvent {
  id: string;
  tenantId: string;
  personId: string;
  presence?: Presence;
  /** Absent: a new state (or a removal). */
  cause?: FeedCause;
}

export interface FeedSubscription {
  /** Events after the requested id, or `reset` when they are no longer known (send a snapshot). */
  replay: FeedEvent[] | 'reset';
  close(): void;
}

/**
 * Fan-out of state changes to live consumers (SSE clients, publishers), in order per person, with a
 * bounded history so a reconnecting client can resume from `Last-Event-ID`. Changes enter it with the
 * state write that made them (`Update.emit`, `StateStore.remove`).
 */
export interface ChangeFeed {
  /** `listener` is registered before the replay is read; events it gets that the replay holds repeat ids. */
  subscribe(tenantId: string, listener: (event: FeedEvent) => void, after?: string): Promise<FeedSubscription>;
  /**
   * A tenant is being created under this id: a resume from an id handed out before is answered `reset`, since
   * it may name a change of an earlier tenant of the same id (deleted), whose people and removals are not
   * this one's. Called before the tenant's first write, so none of its own changes comes before it.
   */
  begin(tenantId: string): Promise<void>;
  /** Listens to every tenant (publishers). */
  subscribeAll(listener: (event: FeedEvent) => void): () => void;
  /**
   * Told when this replica could no longer read changes it had not yet handed out (a shared feed moved its
   * bounded history past them while the replica lagged or was cut off), before any later change: whoever
   * follows the feed must start again from the current states. Returns the way to stop listening.
   */
  onMissed(listener: () => void): () => void;
}
