import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock/clock.js';
import type { CalendarConfig } from '../../shared/config/config.js';
import { hashToken, safeEqual } from '../../shared/crypto/secrets.js';
import {
  PROVIDER_SOURCE,
  resolveCalendarPolicy,
  type BrokenReason,
  type CalendarAppGrant,
  type CalendarConnection,
  type CalendarProvider,
  type CalendarSubscription,
  type CalendarSyncState,
} from '../../shared/domain/calendar.js';
import type { Person } from '../../shared/domain/directory.js';
import type { Store, WriteOp } from '../../shared/store/port.js';
import type { DirectoryService } from '../directory/directory-service.js';
import type { SignalChange } from '../merger/apply-changes.js';
import type { PresenceEngine } from '../merger/engine.js';
import type { Metrics } from '../observability/metrics.js';
import type { MicrosoftConnector } from '../connectors/microsoft/connector.js';
import { TEAMS_SIGNAL } from '../connectors/microsoft/presence-map.js';
import { SubscriptionGoneError, type CalendarConnector, type ConnectionContext, type ConsentResult } from './connector.js';
import { ConnectionUnavailableError, ProviderError, SyncStateGoneError } from './errors.js';
import type { EventVerdict } from './event-facts.js';
import type { Job, JobRunner } from './jobs.js';
import { forgetChanges, syncChanges } from './sync-changes.js';
import type { TokenManager, TokenRef } from './token-manager.js';

export interface CalendarServiceDeps {
  config: CalendarConfig;
  store: Store;
  engine: PresenceEngine;
  directory: DirectoryService;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  connectors: Partial<Record<CalendarProvider, CalendarConnector>>;
  tokens: TokenManager;
  jobs: JobRunner;
}

const SEC = 1000;
const MIN = 60 * SEC;
const DAY = 24 * 60 * MIN;
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
/** After a restart, connections catch up one after another this far apart, not all in the same instant. */
const STARTUP_STAGGER_MS = 50;

export const connectionId = (provider: CalendarProvider, personId: string) => `${provider}.${personId}`;

export interface ConnectionView {
  provider: CalendarProvider;
  mode: CalendarConnection['mode'];
  status: CalendarConnection['status'];
  account: CalendarConnection['account'];
  connectedAt: string;
  brokenReason?: BrokenReason;
  brokenAt?: string;
  sync: { state: 'ok' | 'pending' | 'error' | 'broken'; lastSyncAt?: string; lastError?: { code: string; message: string; at: string } };
  subscriptions: Array<{ kind: CalendarSubscription['kind']; expiresAt: string }>;
}

export type NotificationOutcome = 'accepted' | 'unknown' | 'forged';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Calendar connections end to end: consent results become durable grants, grants get push
 * subscriptions (renewed or replaced before expiry), notifications and reconciliation trigger syncs,
 * syncs become signals, and broken grants turn the calendar unknown. Every piece of background work is
 * a job on the injected clock, one at a time per connection.
 */
export class CalendarService {
  /** Per connection queue: the factor of the reconciliation interval before the next one (1 … RECONCILE_STRETCH_MAX). */
  private readonly reconcileStretch = new Map<string, number>();

  constructor(private readonly deps: CalendarServiceDeps) {}

  get jobs(): JobRunner {
    return this.deps.jobs;
  }

  connector(provider: CalendarProvider): CalendarConnector | undefined {
    return this.deps.connectors[provider];
  }

  get microsoft(): MicrosoftConnector | undefined {
    return this.deps.connectors.microsoft as MicrosoftConnector | undefined;
  }

  enabledProviders(): CalendarProvider[] {
    return (Object.keys(this.deps.connectors) as CalendarProvider[]).filter((p) => this.deps.connectors[p]);
  }

  // ── reading ────────────────────────────────────────────────────────────────────────────────────

  async connectionsOf(tenantId: string, personId: string): Promise<CalendarConnection[]> {
    return this.deps.store.directory.list('calendarConnections', tenantId, { field: 'personId', value: personId });
  }

  async view(conn: CalendarConnection): Promise<ConnectionView> {
    const { store } = this.deps;
    const state = await store.directory.get('calendarSyncStates', conn.tenantId, conn.id);
    const subs = await store.directory.list('calendarSubscriptions', conn.tenantId, { field: 'connectionId', value: conn.id });
    const syncState: ConnectionView['sync']['state'] =
      conn.status === 'broken' ? 'broken' : state?.lastError && (state.lastSyncAt ?? 0) < state.lastError.at ? 'error' : state?.lastSyncAt ? 'ok' : 'pending';
    const v: ConnectionView = {
      provider: conn.provider,
      mode: conn.mode,
      status: conn.status,
      account: conn.account,
      connectedAt: iso(conn.connectedAt),
      sync: { state: syncState },
      subscriptions: subs.map((s) => ({ kind: s.kind, expiresAt: iso(s.expiresAt) })),
    };
    if (conn.brokenReason) v.brokenReason = conn.brokenReason;
    if (conn.brokenAt !== undefined) v.brokenAt = iso(conn.brokenAt);
    if (state?.lastSyncAt !== undefined) v.sync.lastSyncAt = iso(state.lastSyncAt);
    if (state?.lastError) v.sync.lastError = { ...state.lastError, at: iso(state.lastError.at) };
    return v;
  }

  // ── connection context ─────────────────────────────────────────────────────────────────────────

  private tokenRef(conn: CalendarConnection): TokenRef {
    return conn.mode === 'application'
      ? { collection: 'calendarAppGrants', tenantId: conn.tenantId, id: conn.grantId! }
      : { collection: 'calendarConnections', tenantId: conn.tenantId, id: conn.id };
  }

  private context(conn: CalendarConnection): ConnectionContext {
    return { conn, ...this.deps.tokens.access(this.tokenRef(conn)) };
  }

  private async live(tenantId: string, id: string): Promise<{ conn: CalendarConnection; connector: CalendarConnector }> {
    const conn = await this.deps.store.directory.get('calendarConnections', tenantId, id);
    if (!conn) throw new ConnectionUnavailableError(id, 'gone');
    if (conn.status === 'broken') throw new ConnectionUnavailableError(id, 'broken');
    const connector = this.connector(conn.provider);
    if (!connector) throw new ConnectionUnavailableError(id, 'gone');
    return { conn, connector };
  }

  private queue(tenantId: string, id: string): string {
    return `${tenantId}/${id}`;
  }

  private job(tenantId: string, id: string, name: string, run: () => Promise<void>): Job {
    return { key: `${name}:${tenantId}/${id}`, queue: this.queue(tenantId, id), run };
  }

  // ── consent ────────────────────────────────────────────────────────────────────────────────────

  /**
   * Stores a person's new grant (replacing an earlier one of the same provider), then subscribes and
   * runs the first full sync before answering, so the page the person lands on shows real status.
   */
  async connectPerson(tenantId: string, personId: string, provider: CalendarProvider, consent: ConsentResult): Promise<CalendarConnection> {
    const { store, clock, tokens } = this.deps;
    const id = connectionId(provider, personId);
    await this.jobs.runNow(this.job(tenantId, id, 'replace', () => this.dropSubscriptions(tenantId, id)));
    const now = clock.now();
    const conn: CalendarConnection = {
      id,
      tenantId,
      personId,
      provider,
      mode: 'delegated',
      status: 'connected',
      account: consent.account,
      scopes: consent.scopes,
      sealedTokens: tokens.seal(consent.tokens),
      connectedAt: now,
      updatedAt: now,
    };
    await store.directory.write([
      { op: 'put', collection: 'calendarConnections', doc: conn },
      { op: 'delete', collection: 'calendarSyncStates', tenantId, id },
    ]);
    this.deps.log.info({ tenantId, personId, provider }, 'calendar connected');
    await this.jobs.runNow(this.setupJob(tenantId, id));
    return conn;
  }

  private setupJob(tenantId: string, id: string): Job {
    return this.job(tenantId, id, 'setup', () => this.recording(tenantId, id, () => this.setup(tenantId, id)));
  }

  /** Subscribe, then sync in full (and read Teams presence when subscribed to it). */
  private async setup(tenantId: string, id: string): Promise<void> {
    const { conn, connector } = await this.live(tenantId, id);
    const existing = await this.deps.store.directory.list('calendarSubscriptions', tenantId, { field: 'connectionId', value: id });
    if (!existing.some((s) => s.kind === 'events')) {
      const subs = await connector.watch(this.context(conn));
      await this.saveSubscriptions(subs);
      if (subs.some((s) => s.kind === 'presence')) await this.readPresence(tenantId, id);
    }
    await this.sync(tenantId, id, true);
  }

  private async saveSubscriptions(subs: readonly CalendarSubscription[], replaced: readonly CalendarSubscription[] = []): Promise<void> {
    const ops: WriteOp[] = [
      ...replaced.filter((r) => !subs.some((s) => s.id === r.id)).map((r) => ({ op: 'delete', collection: 'calendarSubscriptions', tenantId: r.tenantId, id: r.id }) as WriteOp),
      ...subs.map((doc) => ({ op: 'put', collection: 'calendarSubscriptions', doc }) as WriteOp),
    ];
    await this.deps.store.directory.write(ops);
    for (const s of subs) this.scheduleRenewal(s);
  }

  private scheduleRenewal(sub: CalendarSubscription): void {
    const connector = this.connector(sub.provider);
    if (!connector) return;
    const at = Math.max(this.deps.clock.now(), sub.expiresAt - connector.renewBeforeMs(sub));
    this.jobs.schedule(
      { key: `renew:${sub.tenantId}/${sub.id}`, queue: this.queue(sub.tenantId, sub.connectionId), run: () => this.recording(sub.tenantId, sub.connectionId, () => this.renew(sub.tenantId, sub.id)) },
      at,
    );
  }

  /** Extends a Graph subscription, or replaces a Google channel with a new one and stops the old. */
  private async renew(tenantId: string, subId: string): Promise<void> {
    const { store } = this.deps;
    const sub = await store.directory.get('calendarSubscriptions', tenantId, subId);
    if (!sub) return;
    const { conn, connector } = await this.live(tenantId, sub.connectionId);
    try {
      const next = await connector.renew(this.context(conn), sub);
      await this.saveSubscriptions([next], [sub]);
      this.deps.log.info({ tenantId, connection: conn.id, kind: sub.kind, expiresAt: iso(next.expiresAt) }, 'calendar subscription renewed');
    } catch (err) {
      if (!(err instanceof SubscriptionGoneError)) throw err;
      await this.resubscribe(conn, connector, sub);
    }
  }

  /** A subscription the provider removed: a new one, then a full sync for whatever was missed. */
  private async resubscribe(conn: CalendarConnection, connector: CalendarConnector, gone: CalendarSubscription): Promise<void> {
    await this.deps.store.directory.write([{ op: 'delete', collection: 'calendarSubscriptions', tenantId: gone.tenantId, id: gone.id }]);
    this.jobs.cancel(`renew:${gone.tenantId}/${gone.id}`);
    const subs = await connector.watch(this.context(conn), [gone.kind]);
    await this.saveSubscriptions(subs);
    if (gone.kind === 'events') await this.sync(conn.tenantId, conn.id, true);
    else await this.readPresence(conn.tenantId, conn.id);
  }

  // ── sync ───────────────────────────────────────────────────────────────────────────────────────

  /** Runs `fn`, recording a failure on the connection's sync state (shown to the person and admin). */
  private async recording(tenantId: string, id: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof ConnectionUnavailableError)) {
        const code = err instanceof ProviderError ? err.code : 'internal_error';
        const message = err instanceof Error ? err.message.slice(0, 300) : String(err);
        const state = await this.deps.store.directory.get('calendarSyncStates', tenantId, id);
        const conn = await this.deps.store.directory.get('calendarConnections', tenantId, id);
        // A connection deleted meanwhile has nothing left to fail.
        if (conn) {
          const doc: CalendarSyncState = { ...(state ?? { id, tenantId }), lastError: { code, message, at: this.deps.clock.now() } };
          await this.deps.store.directory.write([{ op: 'put', collection: 'calendarSyncStates', doc }]);
          this.deps.metrics.calendarSyncs.inc({ tenant: tenantId, provider: conn.provider, outcome: 'error' });
        }
      }
      throw err;
    }
  }

  /** Asks for a sync soon: notifications within a second coalesce into one. */
  requestSync(tenantId: string, id: string, opts: { full?: boolean; delayMs?: number } = {}): void {
    const full = opts.full === true;
    this.jobs.schedule(
      this.job(tenantId, id, full ? 'full-sync' : 'sync', () => this.recording(tenantId, id, () => this.sync(tenantId, id, full))),
      this.deps.clock.now() + (opts.delayMs ?? NOTIFICATION_DEBOUNCE_MS),
      { keepEarlier: true },
    );
  }

  private scheduleReconcile(tenantId: string, id: string): void {
    const stretch = this.reconcileStretch.get(this.queue(tenantId, id)) ?? 1;
    this.jobs.schedule(
      this.job(tenantId, id, 'reconcile', () => this.recording(tenantId, id, () => this.sync(tenantId, id, false, { reconcile: true }))),
      this.deps.clock.now() + this.deps.config.reconcileIntervalMs * stretch,
    );
  }

  /**
   * One sync: incremental from the stored delta link / sync token, or full over a new window when
   * asked, when there is none, when the token is gone (410), or once a day to roll the window. After a
   * reconciliation's incremental read, the next one is stretched or reset (RECONCILE_STRETCH_MAX).
   */
  async sync(tenantId: string, id: string, forceFull: boolean, opts: { reconcile?: boolean } = {}): Promise<void> {
    const { store, clock, engine, directory, config, metrics } = this.deps;
    const { conn, connector } = await this.live(tenantId, id);
    const state = await store.directory.get('calendarSyncStates', tenantId, id);
    const now = clock.now();
    const full = forceFull || !state || (!state.deltaLink && !state.syncToken) || (state.lastFullSyncAt ?? 0) + FULL_SYNC_EVERY_MS <= now;
    const window = { start: now, end: now + config.windowDays * DAY };
    const ctx = this.context(conn);
    let result;
    try {
      result = await connector.sync(ctx, state, full, window);
    } catch (err) {
      if (!(err instanceof SyncStateGoneError)) throw err;
      this.deps.log.info({ tenantId, connection: id }, 'calendar sync state gone: full sync');
      result = await connector.sync(ctx, undefined, true, window);
    }
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
    await store.directory.write([{ op: 'put', collection: 'calendarSyncStates', doc }]);
    metrics.calendarSyncs.inc({ tenant: tenantId, provider: conn.provider, outcome: result.full ? 'full' : 'incremental' });
    if (opts.reconcile && !result.full) {
      const q = this.queue(tenantId, id);
      this.reconcileStretch.set(q, result.items.length === 0 ? Math.min(RECONCILE_STRETCH_MAX, (this.reconcileStretch.get(q) ?? 1) * 2) : 1);
    }
    this.scheduleReconcile(tenantId, id);
  }

  private async readPresence(tenantId: string, id: string): Promise<void> {
    const { conn, connector } = await this.live(tenantId, id);
    if (!connector.readPresence) return;
    const signal = await connector.readPresence(this.context(conn));
    const change: SignalChange = signal ? { op: 'put', signal } : { op: 'remove', id: TEAMS_SIGNAL };
    await this.deps.engine.apply(tenantId, conn.personId, [change]);
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
    if (sub.kind === 'presence') {
      this.jobs.schedule(
        this.job(sub.tenantId, sub.connectionId, 'presence', () => this.recording(sub.tenantId, sub.connectionId, () => this.readPresence(sub.tenantId, sub.connectionId))),
        this.deps.clock.now() + NOTIFICATION_DEBOUNCE_MS,
        { keepEarlier: true },
      );
    } else this.requestSync(sub.tenantId, sub.connectionId);
  }

  /** A verified Graph lifecycle event (protocols §1.3), each handled behind the 202. */
  onLifecycle(sub: CalendarSubscription, event: string): void {
    const t = sub.tenantId;
    const id = sub.connectionId;
    switch (event.toLowerCase()) {
      case 'reauthorizationrequired':
        // Renewing also reauthorizes.
        this.jobs.schedule({ key: `renew:${t}/${sub.id}`, queue: this.queue(t, id), run: () => this.recording(t, id, () => this.renew(t, sub.id)) }, this.deps.clock.now());
        return;
      case 'subscriptionremoved':
        this.jobs.schedule(
          this.job(t, id, `resubscribe-${sub.kind}`, () =>
            this.recording(t, id, async () => {
              const { conn, connector } = await this.live(t, id);
              const current = await this.deps.store.directory.get('calendarSubscriptions', t, sub.id);
              await this.resubscribe(conn, connector, current ?? sub);
            }),
          ),
          this.deps.clock.now(),
        );
        return;
      case 'missed':
        this.requestSync(t, id, { full: true, delayMs: 0 });
        return;
      default:
        this.deps.log.warn({ tenantId: t, connection: id, event }, 'unknown Graph lifecycle event ignored');
    }
  }

  // ── broken grants, disconnect ─────────────────────────────────────────────────────────────────

  /** Called by the token manager once a grant is dead: the calendar becomes unknown for the person. */
  async onBroken(ref: TokenRef, reason: BrokenReason): Promise<void> {
    const { store, tokens } = this.deps;
    if (ref.collection === 'calendarConnections') {
      await this.forgetConnection(ref.tenantId, ref.id, { unknown: true });
      return;
    }
    // The tenant's app grant: every application connection under it is broken too.
    const all = await store.directory.list('calendarConnections', ref.tenantId);
    for (const c of all) {
      if (c.mode !== 'application' || c.grantId !== ref.id || c.status === 'broken') continue;
      await tokens.markBroken({ collection: 'calendarConnections', tenantId: c.tenantId, id: c.id }, reason);
    }
  }

  /** Stops a connection's background work and forgets its subscriptions and signals. */
  private async forgetConnection(tenantId: string, id: string, opts: { unknown: boolean }): Promise<void> {
    const conn = await this.deps.store.directory.get('calendarConnections', tenantId, id);
    this.jobs.cancelQueue(this.queue(tenantId, id));
    this.reconcileStretch.delete(this.queue(tenantId, id));
    await this.dropSubscriptions(tenantId, id, { remote: false });
    if (!conn) return;
    const source = PROVIDER_SOURCE[conn.provider];
    const current = await this.deps.engine.read(tenantId, conn.personId);
    const changes = forgetChanges(current.signals, source, opts.unknown ? this.deps.clock.now() : undefined);
    if (conn.provider === 'microsoft' && current.signals.some((s) => s.id === TEAMS_SIGNAL)) changes.push({ op: 'remove', id: TEAMS_SIGNAL });
    if (changes.length > 0) await this.deps.engine.apply(tenantId, conn.personId, changes);
  }

  /** Deletes a connection's subscription documents, stopping them at the provider when `remote` and possible. */
  private async dropSubscriptions(tenantId: string, id: string, opts: { remote: boolean } = { remote: true }): Promise<void> {
    const { store, log } = this.deps;
    const subs = await store.directory.list('calendarSubscriptions', tenantId, { field: 'connectionId', value: id });
    if (subs.length === 0) return;
    const conn = await store.directory.get('calendarConnections', tenantId, id);
    const connector = conn && this.connector(conn.provider);
    for (const s of subs) {
      this.jobs.cancel(`renew:${tenantId}/${s.id}`);
      if (!opts.remote || !conn || !connector || conn.status === 'broken') continue;
      try {
        await connector.unwatch(this.context(conn), s);
      } catch (err) {
        log.warn({ tenantId, connection: id, err: (err as Error).message }, 'could not stop a calendar subscription; it expires on its own');
      }
    }
    await store.directory.write(subs.map((s) => ({ op: 'delete', collection: 'calendarSubscriptions', tenantId, id: s.id }) as WriteOp));
  }

  /**
   * Disconnect: stop subscriptions and channels, revoke the grant where the provider allows it, delete
   * the tokens and sync state, and forget what the calendar said. Returns false when nothing was connected.
   */
  async disconnect(tenantId: string, personId: string, provider: CalendarProvider): Promise<boolean> {
    const { store, tokens, log } = this.deps;
    const id = connectionId(provider, personId);
    const conn = await store.directory.get('calendarConnections', tenantId, id);
    if (!conn) return false;
    await this.jobs.runNow(
      this.job(tenantId, id, 'disconnect', async () => {
        await this.dropSubscriptions(tenantId, id);
        const connector = this.connector(provider);
        if (connector && conn.mode === 'delegated' && conn.sealedTokens) {
          try {
            await connector.revoke(conn, tokens.open(conn));
          } catch (err) {
            log.warn({ tenantId, personId, provider, err: (err as Error).message }, 'could not revoke the grant at the provider; tokens are deleted anyway');
          }
        }
        await this.forgetConnection(tenantId, id, { unknown: false });
        await store.directory.write([
          { op: 'delete', collection: 'calendarConnections', tenantId, id },
          { op: 'delete', collection: 'calendarSyncStates', tenantId, id },
        ]);
      }),
    );
    this.jobs.cancelQueue(this.queue(tenantId, id));
    log.info({ tenantId, personId, provider }, 'calendar disconnected');
    return true;
  }

  async disconnectPerson(tenantId: string, personId: string): Promise<void> {
    for (const c of await this.connectionsOf(tenantId, personId)) await this.disconnect(tenantId, personId, c.provider);
  }

  // ── Microsoft admin consent (application permissions) ─────────────────────────────────────────

  async grantsOf(tenantId: string): Promise<CalendarAppGrant[]> {
    return this.deps.store.directory.list('calendarAppGrants', tenantId);
  }

  /** After an administrator consented for a Microsoft directory tenant: store the app grant, then connect everyone. */
  async completeAdminConsent(tenantId: string, directoryTenant: string): Promise<{ connected: string[]; notFound: string[]; skipped: string[] }> {
    const ms = this.microsoft;
    if (!ms) throw new ConnectionUnavailableError(directoryTenant, 'gone');
    const { store, clock, tokens } = this.deps;
    const now = clock.now();
    const appTokens = await ms.appToken(directoryTenant);
    const existing = await store.directory.get('calendarAppGrants', tenantId, directoryTenant);
    const grant: CalendarAppGrant = { id: directoryTenant, tenantId, provider: 'microsoft', status: 'connected', sealedTokens: tokens.seal(appTokens), grantedAt: existing?.grantedAt ?? now, updatedAt: now };
    await store.directory.write([{ op: 'put', collection: 'calendarAppGrants', doc: grant }]);
    this.deps.log.info({ tenantId, directoryTenant }, 'Microsoft admin consent stored');
    return this.connectDirectory(tenantId);
  }

  /**
   * Connects every directory person with an e-mail address through the tenant's app grant, unless they
   * already have a working Microsoft connection of their own. Users are looked up 20 per `$batch`.
   */
  async connectDirectory(tenantId: string): Promise<{ connected: string[]; notFound: string[]; skipped: string[] }> {
    const ms = this.microsoft;
    const { store, clock, tokens } = this.deps;
    const grant = (await this.grantsOf(tenantId)).find((g) => g.status === 'connected');
    if (!ms || !grant) return { connected: [], notFound: [], skipped: [] };
    const people = await this.deps.directory.listPeople(tenantId);
    const out = { connected: [] as string[], notFound: [] as string[], skipped: [] as string[] };
    const candidates: Person[] = [];
    for (const p of people) {
      const existing = await store.directory.get('calendarConnections', tenantId, connectionId('microsoft', p.id));
      if (!p.email || (existing && existing.status === 'connected')) out.skipped.push(p.id);
      else candidates.push(p);
    }
    const users = await ms.resolveUsers(tokens.access({ collection: 'calendarAppGrants', tenantId, id: grant.id }), candidates.map((p) => p.email!));
    const now = clock.now();
    for (const p of candidates) {
      const u = users.get(p.email!);
      if (!u) {
        out.notFound.push(p.id);
        continue;
      }
      const id = connectionId('microsoft', p.id);
      const account: CalendarConnection['account'] = { id: u.id };
      const email = u.mail ?? u.userPrincipalName;
      if (email) account.email = email;
      if (u.displayName) account.name = u.displayName;
      const conn: CalendarConnection = { id, tenantId, personId: p.id, provider: 'microsoft', mode: 'application', status: 'connected', account, scopes: ['Calendars.Read'], grantId: grant.id, connectedAt: now, updatedAt: now };
      await store.directory.write([
        { op: 'put', collection: 'calendarConnections', doc: conn },
        { op: 'delete', collection: 'calendarSyncStates', tenantId, id },
      ]);
      this.jobs.schedule(this.setupJob(tenantId, id), now);
      out.connected.push(p.id);
    }
    return out;
  }

  /** Removes the tenant's app grant and every application connection under it. */
  async revokeAdminConsent(tenantId: string): Promise<boolean> {
    const grants = await this.grantsOf(tenantId);
    if (grants.length === 0) return false;
    for (const c of await this.deps.store.directory.list('calendarConnections', tenantId)) {
      if (c.mode === 'application') await this.disconnect(tenantId, c.personId, c.provider);
    }
    await this.deps.store.directory.write(grants.map((g) => ({ op: 'delete', collection: 'calendarAppGrants', tenantId, id: g.id }) as WriteOp));
    return true;
  }

  // ── directory hooks and start-up ──────────────────────────────────────────────────────────────

  /** The tenant's calendar policy may have changed: every calendar of the tenant syncs in full. */
  async onTenantWritten(tenantId: string): Promise<void> {
    for (const c of await this.deps.store.directory.list('calendarConnections', tenantId)) {
      if (c.status === 'connected') this.requestSync(tenantId, c.id, { full: true });
    }
  }

  /** A new time zone moves all-day events: that person's calendars sync in full. */
  async onPersonWritten(person: Person, before: Person | undefined): Promise<void> {
    if (!before || before.timeZone === person.timeZone) return;
    for (const c of await this.connectionsOf(person.tenantId, person.id)) if (c.status === 'connected') this.requestSync(person.tenantId, c.id, { full: true });
  }

  async onTenantRemoved(tenantId: string): Promise<void> {
    await this.revokeAdminConsent(tenantId);
    const flows = await this.deps.store.directory.list('oauthFlows', tenantId);
    if (flows.length > 0) await this.deps.store.directory.write(flows.map((f) => ({ op: 'delete', collection: 'oauthFlows', tenantId, id: f.id }) as WriteOp));
  }

  /**
   * After a restart: renewals are scheduled again (overdue ones run now), and every working connection
   * syncs once at once, catching up on what changed while the service was down.
   */
  async start(): Promise<void> {
    const { store } = this.deps;
    let n = 0;
    for (const tenant of await this.deps.directory.listTenants()) {
      for (const conn of await store.directory.list('calendarConnections', tenant.id)) {
        if (conn.status !== 'connected' || !this.connector(conn.provider)) continue;
        const subs = await store.directory.list('calendarSubscriptions', tenant.id, { field: 'connectionId', value: conn.id });
        for (const s of subs) this.scheduleRenewal(s);
        const delayMs = n++ * STARTUP_STAGGER_MS;
        if (!subs.some((s) => s.kind === 'events')) this.jobs.schedule(this.setupJob(tenant.id, conn.id), this.deps.clock.now() + delayMs);
        else this.requestSync(tenant.id, conn.id, { delayMs });
      }
    }
  }

  stop(): void {
    this.jobs.stop();
  }
}
