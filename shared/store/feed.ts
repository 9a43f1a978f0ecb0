import type { Presence } from '../domain/presence.js';

/** One change on the live feed. `presence` is absent when the person was removed. */
export interface FeedEvent {
  id: string;
  tenantId: string;
  personId: string;
  presence?: Presence;
}

export interface FeedSubscription {
  /** Events after the requested id, or `reset` when they are no longer known (send a snapshot). */
  replay: FeedEvent[] | 'reset';
  close(): void;
}

/**
 * Fan-out of state changes to live consumers (SSE clients, publishers), in order per person, with a
 * bounded history per tenant so a reconnecting client can resume from `Last-Event-ID`.
 */
export interface ChangeFeed {
  publish(tenantId: string, personId: string, presence: Presence | undefined): Promise<void>;
  subscribe(tenantId: string, listener: (event: FeedEvent) => void, after?: string): FeedSubscription;
  /** Listens to every tenant (publishers). */
  subscribeAll(listener: (event: FeedEvent) => void): () => void;
}
