import { PROVIDER_SOURCE, type BrokenReason, type CalendarConnection, type CalendarProvider } from '../../shared/domain/calendar.js';
import type { Person } from '../../shared/domain/directory.js';
import { owners, refusedAsNotFound } from '../directory/directory-service.js';
import type { MicrosoftConnector } from '../connectors/microsoft/connector.js';
import { TEAMS_SIGNAL } from '../connectors/microsoft/presence-map.js';
import type { CalendarSync } from './calendar-sync.js';
import { connectionView, type ConnectionView } from './connection-view.js';
import { connectionId, type CalendarDeps, type ConnectionWork } from './connection-work.js';
import type { CalendarConnector, ConsentResult } from './connector.js';
import type { Job, JobRunner } from './jobs.js';
import type { Subscriptions } from './subscriptions.js';
import { forgetChanges } from './sync-changes.js';
import type { TokenRef } from './token-manager.js';

/** After a restart, connections catch up one after another this far apart, not all in the same instant. */
const STARTUP_STAGGER_MS = 50;

/**
 * Calendar connections end to end: consent results become durable connections, which get push
 * subscriptions and a first full sync, keep syncing while the directory changes around them, turn the
 * calendar unknown when their grant breaks, and are stopped and forgotten on disconnect. Every piece of
 * background work is a job on the injected clock, one at a time per connection.
 */
export class CalendarService {
  constructor(
    private readonly deps: CalendarDeps,
    private readonly work: ConnectionWork,
    private readonly syncs: CalendarSync,
    private readonly subscriptions: Subscriptions,
  ) {}

  get jobs(): JobRunner {
    return this.work.jobs;
  }

  connector(provider: CalendarProvider): CalendarConnector | undefined {
    return this.work.connector(provider);
  }

  get microsoft(): MicrosoftConnector | undefined {
    return this.work.microsoft;
  }

  enabledProviders(): CalendarProvider[] {
    return this.work.enabledProviders();
  }

  // ── reading ────────────────────────────────────────────────────────────────────────────────────

  async connectionsOf(tenantId: string, personId: string): Promise<CalendarConnection[]> {
    return this.deps.store.directory.list('calendarConnections', tenantId, { field: 'personId', value: personId });
  }

  async view(conn: CalendarConnection): Promise<ConnectionView> {
    const state = await this.deps.store.directory.get('calendarSyncStates', conn.tenantId, conn.id);
    return connectionView(conn, state, await this.subscriptions.of(conn.tenantId, conn.id));
  }

  // ── connecting ─────────────────────────────────────────────────────────────────────────────────

  /**
   * Stores a person's new grant (replacing an earlier one of the same provider), then subscribes and
   * runs the first full sync before answering, so the page the person lands on shows real status.
   */
  async connectPerson(tenantId: string, personId: string, provider: CalendarProvider, consent: ConsentResult): Promise<CalendarConnection> {
    const { clock, tokens } = this.deps;
    const id = connectionId(provider, personId);
    await this.jobs.runNow(this.work.job(tenantId, id, 'replace', () => this.subscriptions.drop(tenantId, id)));
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
    const setup = await this.add(conn);
    this.deps.log.info({ tenantId, personId, provider }, 'calendar connected');
    await this.jobs.runNow(setup);
    return conn;
  }

  /**
   * Stores a new connection (its sync starts over) and returns the job that subscribes and syncs it. Only
   * while its person and tenant exist (`404 person_not_found`, `tenant_not_found`): one stored after their
   * deletion took their connections would be left for a person created again under the id.
   */
  async add(conn: CalendarConnection): Promise<Job> {
    await this.deps.store.directory
      .write(
        [
          { op: 'put', collection: 'calendarConnections', doc: conn },
          { op: 'delete', collection: 'calendarSyncStates', tenantId: conn.tenantId, id: conn.id },
        ],
        owners(conn.tenantId, conn.personId),
      )
      .catch((err: unknown) => {
        throw refusedAsNotFound(err);
      });
    return this.setupJob(conn.tenantId, conn.id);
  }

  /** Like reconciliation, setup must not stop: until it works the connection has no subscription and no reads. */
  private setupJob(tenantId: string, id: string): Job {
    return { ...this.work.recordedJob(tenantId, id, 'setup', () => this.setup(tenantId, id)), afterRetriesMs: this.deps.config.reconcileIntervalMs };
  }

  /** Subscribe, then sync in full (and read Teams presence when subscribed to it). */
  private async setup(tenantId: string, id: string): Promise<void> {
    const { conn, connector } = await this.work.live(tenantId, id);
    const existing = await this.subscriptions.of(tenantId, id);
    if (!existing.some((s) => s.kind === 'events')) await this.subscriptions.save(await connector.watch(this.work.context(conn), ['events']));
    if (!existing.some((s) => s.kind === 'presence')) await this.subscriptions.watchPresence(conn, connector);
    await this.syncs.sync(tenantId, id, true);
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
    this.jobs.cancelQueue(this.work.queue(tenantId, id));
    this.syncs.forget(tenantId, id);
    await this.subscriptions.drop(tenantId, id, { remote: false });
    if (!conn) return;
    const source = PROVIDER_SOURCE[conn.provider];
    const current = await this.deps.engine.read(tenantId, conn.personId);
    const changes = forgetChanges(current.signals, source, opts.unknown ? this.deps.clock.now() : undefined);
    if (conn.provider === 'microsoft' && current.signals.some((s) => s.id === TEAMS_SIGNAL)) changes.push({ op: 'remove', id: TEAMS_SIGNAL });
    if (changes.length > 0) await this.deps.engine.apply(tenantId, conn.personId, changes);
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
      this.work.job(tenantId, id, 'disconnect', async () => {
        await this.subscriptions.drop(tenantId, id);
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
    this.jobs.cancelQueue(this.work.queue(tenantId, id));
    log.info({ tenantId, personId, provider }, 'calendar disconnected');
    return true;
  }

  async disconnectPerson(tenantId: string, personId: string): Promise<void> {
    for (const c of await this.connectionsOf(tenantId, personId)) await this.disconnect(tenantId, personId, c.provider);
  }

  // ── directory hooks and start-up ──────────────────────────────────────────────────────────────

  /** The tenant's calendar policy may have changed: every calendar of the tenant syncs in full. */
  async onTenantWritten(tenantId: string): Promise<void> {
    for (const c of await this.deps.store.directory.list('calendarConnections', tenantId)) {
      if (c.status === 'connected') this.syncs.requestSync(tenantId, c.id, { full: true });
    }
  }

  /** A new time zone moves all-day events: that person's calendars sync in full. */
  async onPersonWritten(person: Person, before: Person | undefined): Promise<void> {
    if (!before || before.timeZone === person.timeZone) return;
    for (const c of await this.connectionsOf(person.tenantId, person.id)) if (c.status === 'connected') this.syncs.requestSync(person.tenantId, c.id, { full: true });
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
        const subs = await this.subscriptions.of(tenant.id, conn.id);
        for (const s of subs) this.subscriptions.scheduleRenewal(s);
        const delayMs = n++ * STARTUP_STAGGER_MS;
        if (!subs.some((s) => s.kind === 'events')) this.jobs.schedule(this.setupJob(tenant.id, conn.id), this.deps.clock.now() + delayMs);
        else this.syncs.requestSync(tenant.id, conn.id, { delayMs });
      }
    }
  }

  stop(): void {
    this.jobs.stop();
  }
}
