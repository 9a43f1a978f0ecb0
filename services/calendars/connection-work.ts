import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock/clock.js';
import type { CalendarConfig } from '../../shared/config/config.js';
import type { CalendarConnection, CalendarProvider, CalendarSyncState } from '../../shared/domain/calendar.js';
import type { Store } from '../../shared/store/port.js';
import type { DirectoryService } from '../directory/directory-service.js';
import type { PresenceEngine } from '../merger/engine.js';
import type { Metrics } from '../observability/metrics.js';
import type { MicrosoftConnector } from '../connectors/microsoft/connector.js';
import type { CalendarConnector, ConnectionContext } from './connector.js';
import { ConnectionUnavailableError, ProviderError, REJECTED_FOR_MS, RejectedError, refusedForGood } from './errors.js';
import type { Job, JobRunner } from './jobs.js';
import type { TokenManager, TokenRef } from './token-manager.js';

export interface CalendarDeps {
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

export const connectionId = (provider: CalendarProvider, personId: string) => `${provider}.${personId}`;

/**
 * What every piece of a connection's background work stands on: the connection as it is now with its
 * provider, the tokens it acts with, and its job queue, one job at a time per connection, each failure
 * recorded on the connection's sync state.
 */
export class ConnectionWork {
  constructor(private readonly deps: CalendarDeps) {}

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

  private tokenRef(conn: CalendarConnection): TokenRef {
    return conn.mode === 'application'
      ? { collection: 'calendarAppGrants', tenantId: conn.tenantId, id: conn.grantId! }
      : { collection: 'calendarConnections', tenantId: conn.tenantId, id: conn.id };
  }

  context(conn: CalendarConnection): ConnectionContext {
    return { conn, ...this.deps.tokens.access(this.tokenRef(conn)) };
  }

  async live(tenantId: string, id: string): Promise<{ conn: CalendarConnection; connector: CalendarConnector }> {
    const conn = await this.deps.store.directory.get('calendarConnections', tenantId, id);
    if (!conn) throw new ConnectionUnavailableError(id, 'gone');
    if (conn.status === 'broken') throw new ConnectionUnavailableError(id, 'broken');
    const connector = this.connector(conn.provider);
    if (!connector) throw new ConnectionUnavailableError(id, 'gone');
    return { conn, connector };
  }

  queue(tenantId: string, id: string): string {
    return `${tenantId}/${id}`;
  }

  job(tenantId: string, id: string, name: string, run: () => Promise<void>): Job {
    return { key: `${name}:${tenantId}/${id}`, queue: this.queue(tenantId, id), run };
  }

  /**
   * Runs `fn`, recording a failure on the connection's sync state (shown to the person and admin). A
   * failure no retry can change (`ProviderError.broken`) breaks the connection, and so does a rejection
   * (`RejectedError`) a day after the reads began to be rejected (`rejectedSince`, set by the sync) with
   * no good read between: its work stops until the person or admin consents again, the provider's
   * answer still shown as the last error.
   */
  async recording(tenantId: string, id: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof ConnectionUnavailableError)) {
        const code = err instanceof ProviderError ? err.code : 'internal_error';
        const message = err instanceof Error ? err.message.slice(0, 300) : String(err);
        const now = this.deps.clock.now();
        const state = await this.deps.store.directory.get('calendarSyncStates', tenantId, id);
        const conn = await this.deps.store.directory.get('calendarConnections', tenantId, id);
        // A connection deleted meanwhile has nothing left to fail.
        if (conn) {
          const doc: CalendarSyncState = { ...(state ?? { id, tenantId }), lastError: { code, message, at: now } };
          const rejectedForGood = err instanceof RejectedError && doc.rejectedSince !== undefined && now - doc.rejectedSince >= REJECTED_FOR_MS;
          const broken = refusedForGood(err) ? err.broken : rejectedForGood ? 'rejected' : undefined;
          // A connection consented again starts its own day of rejections.
          if (broken) delete doc.rejectedSince;
          await this.deps.store.directory.write([{ op: 'put', collection: 'calendarSyncStates', doc }]);
          this.deps.metrics.calendarSyncs.inc({ tenant: tenantId, provider: conn.provider, outcome: 'error' });
          if (broken && conn.status === 'connected') {
            await this.deps.tokens.markBroken({ collection: 'calendarConnections', tenantId, id }, broken);
            throw new ConnectionUnavailableError(id, 'broken');
          }
        }
      }
      throw err;
    }
  }

  /** A job on the connection's queue whose failure is recorded. */
  recordedJob(tenantId: string, id: string, name: string, fn: () => Promise<void>): Job {
    return this.job(tenantId, id, name, () => this.recording(tenantId, id, fn));
  }
}
