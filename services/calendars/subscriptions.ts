import { isoInstant } from '../../shared/clock/iso.js';
import { hashToken, safeEqual } from '../../shared/crypto/secrets.js';
import type { CalendarConnection, CalendarSubscription } from '../../shared/domain/calendar.js';
import type { WriteOp } from '../../shared/store/port.js';
import type { CalendarSync } from './calendar-sync.js';
import type { CalendarDeps, ConnectionWork } from './connection-work.js';
import { SubscriptionGoneError, type CalendarConnector } from './connector.js';
import type { Job } from './jobs.js';

export type NotificationOutcome = 'accepted' | 'unknown' | 'forged';

const renewKey = (tenantId: string, subId: string) => `renew:${tenantId}/${subId}`;
/** A renewal whose retries ran out (a long outage) is tried hourly, well within the 12 h margin. */
const RENEW_AFTER_RETRIES_MS = 60 * 60_000;

/**
 * The provider's push subscriptions (Graph) and channels (Google) of each connection: stored, renewed
 * or replaced before expiry, created again when the provider removed them, and the notifications they
 * bring verified and turned into syncs.
 */
export class Subscriptions {
  constructor(
    private readonly deps: CalendarDeps,
    private readonly work: ConnectionWork,
    private readonly syncs: CalendarSync,
  ) {}

  /** A connection's subscription documents. */
  async of(tenantId: string, id: string): Promise<CalendarSubscription[]> {
    return this.deps.store.directory.list('calendarSubscriptions', tenantId, { field: 'connectionId', value: id });
  }

  /** Stores `subs` in place of `replaced` and schedules their renewals. */
  async save(subs: readonly CalendarSubscription[], replaced: readonly CalendarSubscription[] = []): Promise<void> {
    const ops: WriteOp[] = [
      ...replaced.filter((r) => !subs.some((s) => s.id === r.id)).map((r) => ({ op: 'delete', collection: 'calendarSubscriptions', tenantId: r.tenantId, id: r.id }) as WriteOp),
      ...subs.map((doc) => ({ op: 'put', collection: 'calendarSubscriptions', doc }) as WriteOp),
    ];
    await this.deps.store.directory.write(ops);
    const grantedAt = this.deps.clock.now();
    for (const s of subs) this.scheduleRenewal(s, grantedAt);
  }

  /** With `removed`, the provider said it removed the subscription: a new one instead of a renewal. */
  private renewJob(sub: CalendarSubscription, opts: { removed?: boolean } = {}): Job {
    const { tenantId, connectionId } = sub;
    return {
      key: renewKey(tenantId, sub.id),
      queue: this.work.queue(tenantId, connectionId),
      run: () => this.work.recording(tenantId, connectionId, () => this.renew(tenantId, sub.id, opts.removed === true)),
      afterRetriesMs: RENEW_AFTER_RETRIES_MS,
      deadline: sub.expiresAt,
    };
  }

  /** `grantedAt`: when the provider granted `sub.expiresAt`, if just now. */
  scheduleRenewal(sub: CalendarSubscription, grantedAt?: number): void {
    const connector = this.work.connector(sub.provider);
    if (!connector) return;
    // A provider may grant less than asked (Google shortens channels at will): a lifetime shorter than the
    // margin is renewed halfway through, not at once and again at once, which would loop at full speed.
    const ahead = connector.renewBeforeMs(sub);
    const margin = grantedAt === undefined ? ahead : Math.min(ahead, (sub.expiresAt - grantedAt) / 2);
    const at = Math.max(this.deps.clock.now(), sub.expiresAt - margin);
    this.work.jobs.schedule(this.renewJob(sub), at);
  }

  /**
   * Extends a Graph subscription, or replaces a Google channel with a new one and stops the old. One
   * that lapsed (its renewal failed until its expiry) or that the provider removed is created anew.
   */
  private async renew(tenantId: string, subId: string, removed: boolean): Promise<void> {
    const sub = await this.deps.store.directory.get('calendarSubscriptions', tenantId, subId);
    if (!sub) return;
    const { conn, connector } = await this.work.live(tenantId, sub.connectionId);
    try {
      await this.extend(conn, connector, sub, removed);
    } catch (err) {
      if (sub.kind !== 'presence' || !(await this.syncs.presenceRefused(conn, err))) throw err;
      await this.save([], [sub]);
    }
  }

  private async extend(conn: CalendarConnection, connector: CalendarConnector, sub: CalendarSubscription, removed: boolean): Promise<void> {
    const { tenantId } = conn;
    // Past its expiry Graph has deleted the subscription and Google stopped the channel: nothing to extend.
    if (removed || sub.expiresAt <= this.deps.clock.now()) return this.resubscribe(conn, connector, sub);
    try {
      const next = await connector.renew(this.work.context(conn), sub);
      await this.save([next], [sub]);
      this.deps.log.info({ tenantId, connection: conn.id, kind: sub.kind, expiresAt: isoInstant(next.expiresAt) }, 'calendar subscription renewed');
    } catch (err) {
      if (!(err instanceof SubscriptionGoneError)) throw err;
      await this.resubscribe(conn, connector, sub);
    }
  }

  /** Teams presence where the connector offers it, then its first read; refused for good, the calendar goes on without it. */
  async watchPresence(conn: CalendarConnection, connector: CalendarConnector): Promise<void> {
    try {
      const subs = await connector.watch(this.work.context(conn), ['presence']);
      if (subs.length === 0) return;
      await this.save(subs);
    } catch (err) {
      if (await this.syncs.presenceRefused(conn, err)) return;
      throw err;
    }
    await this.syncs.readPresence(conn.tenantId, conn.id);
  }

  /**
   * A new subscription in place of `gone`, then a full read for whatever changed while none delivered.
   * `gone` stays stored until the new one exists, so a failure leaves the renewal job (retried until
   * it works) to try again rather than nothing to renew.
   */
  private async resubscribe(conn: CalendarConnection, connector: CalendarConnector, gone: CalendarSubscription): Promise<void> {
    const subs = await connector.watch(this.work.context(conn), [gone.kind]);
    await this.save(subs, [gone]);
    this.deps.log.info({ tenantId: conn.tenantId, connection: conn.id, kind: gone.kind }, 'calendar subscription created again');
    if (gone.kind === 'events') this.syncs.requestSync(conn.tenantId, conn.id, { full: true, delayMs: 0 });
    else await this.syncs.readPresence(conn.tenantId, conn.id);
  }

  /** Deletes a connection's subscription documents, stopping them at the provider when `remote` and possible. */
  async drop(tenantId: string, id: string, opts: { remote: boolean } = { remote: true }): Promise<void> {
    const { store, log } = this.deps;
    const subs = await this.of(tenantId, id);
    if (subs.length === 0) return;
    const conn = await store.directory.get('calendarConnections', tenantId, id);
    const connector = conn && this.work.connector(conn.provider);
    for (const s of subs) {
      this.work.jobs.cancel(renewKey(tenantId, s.id));
      if (!opts.remote || !conn || !connector || conn.status === 'broken') continue;
      try {
        await connector.unwatch(this.work.context(conn), s);
      } catch (err) {
        log.warn({ tenantId, connection: id, err: (err as Error).message }, 'could not stop a calendar subscription; it expires on its own');
      }
    }
    await store.directory.write(subs.map((s) => ({ op: 'delete', collection: 'calendarSubscriptions', tenantId, id: s.id }) as WriteOp));
  }

  // ── notifications ──────────────────────────────────────────────────────────────────────────────

  /**
   * A provider notification names a subscription (or channel) and carries its secret. Unknown ids are
   * ignored (an old channel after replacement); a wrong secret is a forgery. Verified ones only enqueue.
   */
  async verifyNotification(externalId: string, secret: string | undefined, resourceId?: string): Promise<{ outcome: NotificationOutcome; sub?: CalendarSubscription }> {
    const sub = await this.deps.store.directory.findUnique('calendarSubscriptions', 'externalId', externalId);
    if (!sub) return { outcome: 'unknown' };
    // Compare hashes in constant time: the stored form is a hash, and equal-length inputs leak nothing.
    const ok = secret !== undefined && safeEqual(hashToken(secret), sub.secretHash) && (resourceId === undefined || sub.resourceId === undefined || resourceId === sub.resourceId);
    return ok ? { outcome: 'accepted', sub } : { outcome: 'forged' };
  }

  /** A verified change notification: a sync (or a presence read) a moment later. */
  onChange(sub: CalendarSubscription): void {
    if (sub.kind === 'presence') this.syncs.requestPresence(sub.tenantId, sub.connectionId);
    else this.syncs.requestSync(sub.tenantId, sub.connectionId);
  }

  /** A verified Graph lifecycle event (protocols §1.3), each handled behind the 202. */
  onLifecycle(sub: CalendarSubscription, event: string): void {
    switch (event.toLowerCase()) {
      case 'reauthorizationrequired':
        // Renewing also reauthorizes.
        this.work.jobs.schedule(this.renewJob(sub), this.deps.clock.now());
        return;
      case 'subscriptionremoved':
        this.work.jobs.schedule(this.renewJob(sub, { removed: true }), this.deps.clock.now());
        return;
      case 'missed':
        this.syncs.requestSync(sub.tenantId, sub.connectionId, { full: true, delayMs: 0 });
        return;
      default:
        this.deps.log.warn({ tenantId: sub.tenantId, connection: sub.connectionId, event }, 'unknown Graph lifecycle event ignored');
    }
  }
}
