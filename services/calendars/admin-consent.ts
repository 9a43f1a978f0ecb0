import type { CalendarAppGrant, CalendarConnection } from '../../shared/domain/calendar.js';
import type { Person } from '../../shared/domain/directory.js';
import { AppError } from '../../shared/errors/errors.js';
import type { WriteOp } from '../../shared/store/port.js';
import { refusedAsNotFound, tenantExists } from '../directory/directory-service.js';
import type { CalendarService } from './calendar-service.js';
import { connectionId, type CalendarDeps, type ConnectionWork } from './connection-work.js';
import { ConnectionUnavailableError } from './errors.js';

export interface DirectoryConnectResult {
  connected: string[];
  notFound: string[];
  skipped: string[];
}

/**
 * Microsoft admin consent (application permissions): one grant for a whole directory tenant, through
 * which every directory person's calendar is connected without their own consent.
 */
export class AdminConsent {
  constructor(
    private readonly deps: CalendarDeps,
    private readonly work: ConnectionWork,
    private readonly connections: CalendarService,
  ) {}

  async grantsOf(tenantId: string): Promise<CalendarAppGrant[]> {
    return this.deps.store.directory.list('calendarAppGrants', tenantId);
  }

  /** After an administrator consented for a Microsoft directory tenant: store the app grant (then `connectDirectory`). */
  async store(tenantId: string, directoryTenant: string): Promise<void> {
    const ms = this.work.microsoft;
    if (!ms) throw new ConnectionUnavailableError(directoryTenant, 'gone');
    const { store, clock, tokens } = this.deps;
    // One directory, one tenant: its grant reads every mailbox in it (the directory itself is proven by
    // the administrator's sign-in, admin-consent-flow.ts).
    for (const t of await this.deps.directory.listTenants()) {
      if (t.id !== tenantId && (await store.directory.get('calendarAppGrants', t.id, directoryTenant))) {
        throw new AppError(409, 'directory_tenant_taken', 'this Microsoft directory is connected to another tenant of this service');
      }
    }
    const now = clock.now();
    const appTokens = await ms.appToken(directoryTenant);
    // A consent given again is a new grant (often after one was withdrawn): the admin sees when it was given.
    const grant: CalendarAppGrant = { id: directoryTenant, tenantId, provider: 'microsoft', status: 'connected', sealedTokens: tokens.seal(appTokens), grantedAt: now, updatedAt: now };
    // Only while the tenant exists: a grant stored as it is deleted would read a whole directory's calendars for a tenant created again under its id.
    await store.directory.write([{ op: 'put', collection: 'calendarAppGrants', doc: grant }], [tenantExists(tenantId)]).catch((err: unknown) => {
      throw refusedAsNotFound(err);
    });
    this.deps.log.info({ tenantId, directoryTenant }, 'Microsoft admin consent stored');
  }

  /**
   * Connects every directory person with an e-mail address through the tenant's app grant, unless they
   * already have a working Microsoft connection of their own. Users are looked up 20 per `$batch`.
   */
  async connectDirectory(tenantId: string): Promise<DirectoryConnectResult> {
    const ms = this.work.microsoft;
    const { store, clock, tokens } = this.deps;
    const grant = (await this.grantsOf(tenantId)).find((g) => g.status === 'connected');
    if (!ms || !grant) return { connected: [], notFound: [], skipped: [] };
    const people = await this.deps.directory.listPeople(tenantId);
    const out: DirectoryConnectResult = { connected: [], notFound: [], skipped: [] };
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
      const account: CalendarConnection['account'] = { id: u.id };
      const email = u.mail ?? u.userPrincipalName;
      if (email) account.email = email;
      if (u.displayName) account.name = u.displayName;
      const conn: CalendarConnection = { id: connectionId('microsoft', p.id), tenantId, personId: p.id, provider: 'microsoft', mode: 'application', status: 'connected', account, scopes: ['Calendars.Read'], grantId: grant.id, connectedAt: now, updatedAt: now };
      const setup = await this.connections.add(conn).catch((err: unknown) => {
        // Deleted since the look above: not connected, nothing stored for them.
        if (err instanceof AppError && err.code === 'person_not_found') return undefined;
        throw err;
      });
      if (!setup) {
        out.skipped.push(p.id);
        continue;
      }
      this.work.jobs.schedule(setup, now);
      out.connected.push(p.id);
    }
    return out;
  }

  /** Removes the tenant's app grant and every application connection under it. */
  async revoke(tenantId: string): Promise<boolean> {
    const grants = await this.grantsOf(tenantId);
    if (grants.length === 0) return false;
    for (const c of await this.deps.store.directory.list('calendarConnections', tenantId)) {
      if (c.mode === 'application') await this.connections.disconnect(tenantId, c.personId, c.provider);
    }
    await this.deps.store.directory.write(grants.map((g) => ({ op: 'delete', collection: 'calendarAppGrants', tenantId, id: g.id }) as WriteOp));
    return true;
  }
}
