import { randomBytes } from 'node:crypto';
import type { Presence } from '../../domain/presence.js';
import type { ChangeFeed, FeedCause, FeedEvent, FeedSubscription } from '../feed.js';

interface TenantFeed {
  seq: number;
  /** The sequence when the tenant was last created (`begin`): no resume from it or before. */
  began: number;
  history: FeedEvent[];
  listeners: Set<(e: FeedEvent) => void>;
}

/**
 * In-process feed. Event ids are `<epoch>-<seq>`: the epoch changes with every process, so an id from
 * before a restart is recognised as unknown and the client gets a fresh snapshot instead of a gap.
 */
export class MemoryFeed implements ChangeFeed {
  private readonly epoch: string;
  private readonly tenants = new Map<string, TenantFeed>();
  private readonly all = new Set<(e: FeedEvent) => void>();

  constructor(
    private readonly capacity: number,
    epoch = randomBytes(4).toString('hex'),
  ) {
    this.epoch = epoch;
  }

  private feed(tenantId: string): TenantFeed {
    let f = this.tenants.get(tenantId);
    if (!f) {
      f = { seq: 0, began: 0, history: [], listeners: new Set() };
      this.tenants.set(tenantId, f);
    }
    return f;
  }

  publish(tenantId: string, personId: string, presence: Presence | undefined, cause?: FeedCause): void {
    const f = this.feed(tenantId);
    const event: FeedEvent = { id: `${this.epoch}-${++f.seq}`, tenantId, personId };
    if (presence) event.presence = presence;
    if (cause) event.cause = cause;
    f.history.push(event);
    // Trim in chunks so the buffer is not shifted on every event.
    if (f.history.length > this.capacity * 1.25) f.history.splice(0, f.history.length - this.capacity);
    for (const l of f.listeners) l(event);
    for (const l of this.all) l(event);
  }

  async subscribe(tenantId: string, listener: (e: FeedEvent) => void, after?: string): Promise<FeedSubscription> {
    const f = this.feed(tenantId);
    f.listeners.add(listener);
    return { replay: after === undefined ? [] : this.since(f, after), close: () => void f.listeners.delete(listener) };
  }

  async begin(tenantId: string): Promise<void> {
    const f = this.feed(tenantId);
    f.began = f.seq;
    // An earlier tenant's changes are no one's to replay.
    f.history = [];
  }

  subscribeAll(listener: (e: FeedEvent) => void): () => void {
    this.all.add(listener);
    return () => void this.all.delete(listener);
  }

  /** Never: every change reaches its listeners as it is written, in process. */
  onMissed(): () => void {
    return () => undefined;
  }

  private since(f: TenantFeed, after: string): FeedEvent[] | 'reset' {
    const [epoch, raw] = after.split('-');
    const seq = Number(raw);
    if (epoch !== this.epoch || !Number.isInteger(seq) || seq > f.seq || seq <= f.began) return 'reset';
    const oldest = f.history[0] ? Number(f.history[0].id.split('-')[1]) : f.seq + 1;
    if (seq < oldest - 1) return 'reset';
    return f.history.filter((e) => Number(e.id.split('-')[1]) > seq);
  }
}
