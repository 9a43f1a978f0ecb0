import { resolveCalendarPolicy, type CalendarConnection, type CalendarSyncState } from '../../shared/domain/calendar.js';
import type { Signal } from '../../shared/domain/signal.js';
import type { SignalChange } from '../merger/apply-changes.js';
import { TEAMS_SIGNAL } from '../connectors/microsoft/presence-map.js';
import type { CalendarDeps, ConnectionWork } from './connection-work.js';
import type { CalendarConnector, SyncResult, Window } from './connector.js';
import { ConnectionUnavailableError, RejectedError, SyncStateGoneError, refusedForGood } from './errors.js';
import type { EventVerdict } from './event-facts.js';
import { syncChanges } from './sync-changes.js';

const SEC = 1000;
const DAY = 24 * 60 * 60 * SEC;
/** Graph often sends created + updated for one edit; one sync a second later covers both. */
export const NOTIFICATION_DEBOUNCE_MS = SEC;
/** The rolling window moves (a new full sync) once a day. */
const FULL_SYNC_EVERY_MS = DAY;
/**
 * A reconciliation that finds nothing the pushes had not already brought doubles the wait before the
 * next one, up to this factor of the interval; one that finds a change (a push was lost) goes back to
 * the interval. Any sync reads everything since the last one, so a push also repairs earlier lost ones.
 */
const RECONCILE_STRETCH_MAX = 4;

/**
 * Syncs turn a connection's calendar into signals: asked for after notifications and directory changes,
 * and run again by reconciliation in case a push was lost.
 */
export class CalendarSync {
  /** Per connection queue: the factor of the reconciliation interval before the next one (1 … RECONCILE_STRETCH_MAX). */
  private readonly reconcileStretch = new Map<string, number>();

  constructor(
    private readonly deps: CalendarDeps,
    private readonly work: ConnectionWork,
  ) {}

  /** Asks for a sync soon: notifications within a second coalesce into one. */
  requestSync(tenantId: string, id: string, opts: { full?: boolean; delayMs?: number } = {}): void {
    const full = opts.full === true;
    this.work.jobs.schedule(
      this.work.recordedJob(tenantId, id, full ? 'full-sync' : 'sync', () => this.sync(tenantId, id, full)),
      this.deps.clock.now() + (opts.delayMs ?? NOTIFICATION_DEBOUNCE_MS),
      { keepEarlier: true },
    );
  }

  /** A presence notification: a presence read a moment later. */
  requestPresence(tenantId: string, id: string): void {
    this.work.jobs.schedule(this.work.recordedJob(tenantId, id, 'presence', () => this.readPresence(tenantId, id)), this.deps.clock.now() + NOTIFICATION_DEBOUNCE_MS, { keepEarlier: true });
  }

  /** The connection is gone: its reconciliation starts over should it come back. */
  forget(tenantId: string, id: string): void {
    this.reconcileStretch.delete(this.work.queue(tenantId, id));
  }

  private scheduleReconcile(tenantId: string, id: string): void {
    const stretch = this.reconcileStretch.get(this.work.queue(tenantId, id)) ?? 1;
    const interval = this.deps.config.reconcileIntervalMs;
    this.work.jobs.schedule(
      { ...this.work.recordedJob(tenantId, id, 'reconcile', () => this.sync(tenantId, id, false, { reconcile: true })), afterRetriesMs: interval },
      this.deps.clock.now() + interval * stretch,
    );
  }

  /**
   * One sync: incremental from the stored delta link / sync token, or full over a new window when
   * asked, when there is none, when the token is gone (410), or once a day to roll the window. After a
   * reconciliation's incremental read, the next one is stretched or reset (RECONCILE_STRETCH_MAX).
   */
  async sync(tenantId: string, id: string, forceFull: boolean, opts: { reconcile?: boolean } = {}): Promise<void> {
    const { store, clock, engine, directory, config, metrics } = this.deps;
    const { conn, connector } = await this.work.live(tenantId, id);
    const state = await store.directory.get('calendarSyncStates', tenantId, id);
    const now = clock.now();
    const full = forceFull || !state || (!state.deltaLink && !state.syncToken) || (state.lastFullSyncAt ?? 0) + FULL_SYNC_EVERY_MS <= now;
    const window = { start: now, end: now + config.windowDays * DAY };
    const result = await this.read(conn, connector, state, full, window).catch(async (err: unknown) => {
      // Reads the provider rejects start the day after which the connection is broken (`ConnectionWork.recording`).
      // Only reads: a subscription Graph cannot validate (our webhook unreachable) is the operator's to fix.
      if (err instanceof RejectedError && state?.rejectedSince === undefined) {
        await store.directory.write([{ op: 'put', collection: 'calendarSyncStates', doc: { id, tenantId, ...(state ?? {}), rejectedSince: now } }]);
      }
      throw err;
    });
    const person = await directory.getPerson(tenantId, conn.personId).catch(() => undefined);
    if (!person) throw new ConnectionUnavailableError(id, 'gone');
    const policy = resolveCalendarPolicy((await directory.getTenant(tenantId)).settings.calendar);
    const observedAt = clock.now();
    const verdicts = result.items.map((raw) => connector.map(raw, { policy, zone: person.timeZone, observedAt })).filter((v): v is EventVerdict => v !== undefined);
    const current = await engine.read(tenantId, conn.personId);
    const changes = syncChanges(current.signals, verdicts, { source: connector.source, full: result.full, windowEnd: result.state.windowEnd ?? window.end });
    if (changes.length > 0) await engine.apply(tenantId, conn.personId, changes);
    const doc: CalendarSyncState = { id, tenantId, ...(state ?? {}), ...result.state, lastSyncAt: observedAt };
    if (result.full) {
      doc.lastFullSyncAt = observedAt;
      // A full read's own cursor replaces the old one; none given means none (the next read is full).
      if (result.state.syncToken === undefined) delete doc.syncToken;
      if (result.state.deltaLink === undefined) delete doc.deltaLink;
    }
    delete doc.lastError;
    delete doc.rejectedSince;
    await store.directory.write([{ op: 'put', collection: 'calendarSyncStates', doc }]);
    metrics.calendarSyncs.inc({ tenant: tenantId, provider: conn.provider, outcome: result.full ? 'full' : 'incremental' });
    if (opts.reconcile && !result.full) {
      const q = this.work.queue(tenantId, id);
      this.reconcileStretch.set(q, result.items.length === 0 ? Math.min(RECONCILE_STRETCH_MAX, (this.reconcileStretch.get(q) ?? 1) * 2) : 1);
    }
    this.scheduleReconcile(tenantId, id);
  }

  /** The connector's sync, again in full when the sync state is gone. */
  private async read(conn: CalendarConnection, connector: CalendarConnector, state: CalendarSyncState | undefined, full: boolean, window: Window): Promise<SyncResult> {
    const ctx = this.work.context(conn);
    try {
      return await connector.sync(ctx, state, full, window);
    } catch (err) {
      if (!(err instanceof SyncStateGoneError)) throw err;
      this.deps.log.info({ tenantId: conn.tenantId, connection: conn.id }, 'calendar sync state gone: full sync');
      return await connector.sync(ctx, undefined, true, window);
    }
  }

  /**
   * Teams presence rides on a calendar connection as an extra: an answer that would break the
   * connection (a person without Teams, `Presence.Read` withdrawn) ends only the presence part, and
   * its signal goes. False when `err` is no such answer.
   */
  async presenceRefused(conn: CalendarConnection, err: unknown): Promise<boolean> {
    if (!refusedForGood(err)) return false;
    this.deps.log.warn({ tenantId: conn.tenantId, connection: conn.id, status: err.status, code: err.code }, 'Teams presence refused for good; the calendar goes on without it');
    await this.deps.engine.apply(conn.tenantId, conn.personId, [{ op: 'remove', id: TEAMS_SIGNAL }]);
    return true;
  }

  async readPresence(tenantId: string, id: string): Promise<void> {
    const { conn, connector } = await this.work.live(tenantId, id);
    if (!connector.readPresence) return;
    let signal: Signal | undefined;
    try {
      signal = await connector.readPresence(this.work.context(conn));
    } catch (err) {
      if (await this.presenceRefused(conn, err)) return;
      throw err;
    }
    const change: SignalChange = signal ? { op: 'put', signal } : { op: 'remove', id: TEAMS_SIGNAL };
    await this.deps.engine.apply(tenantId, conn.personId, [change]);
  }
}
