import type { Clock } from '../../shared/clock/clock.js';
import { SecretBox, hashToken, newToken } from '../../shared/crypto/secrets.js';
import {
  apiKeyInputSchema,
  type ApiKey,
  type ApiKeyInput,
  type Device,
  type DeviceInput,
  type Person,
  type PersonInput,
  type Tenant,
  type TenantInput,
} from '../../shared/domain/directory.js';
import { resolveCalendarPolicy, withMeetingAs } from '../../shared/domain/calendar.js';
import { resolvePolicy, type Policy } from '../../shared/domain/policy.js';
import type { RequestLimitsOverride } from '../../shared/domain/request-limits.js';
import { AppError, WriteRefused, conflict, notFound, unprocessable } from '../../shared/errors/errors.js';
import { COLLECTIONS, type CollectionName } from '../../shared/store/keys.js';
import type { Store, WriteCondition, WriteOp } from '../../shared/store/port.js';
import type { SignalChange } from '../merger/apply-changes.js';
import { extensionEndpointId } from '../connectors/pbx/map.js';
import { sameOnStreams } from '../api/views.js';
import type { PresenceEngine } from '../merger/engine.js';
import type { GroupDirectory } from './group-directory.js';
import type { QueuePauses } from '../routing/queue-pauses.js';
import { Turns, type Turn } from '../routing/turns.js';

/** Tenants are platform-level records, stored under this pseudo-tenant. */
export const PLATFORM = '*';

/**
 * A tenant as answered: stored under the platform scope (`tenantId` `*`), it is shown as its own tenant,
 * like every other record, so an answer says which tenant it is about.
 */
/** A stored tenant as answered: its own id as `tenantId`, and the operator's limits for it (stored apart) if any. */
const asTenant = ({ operatorRequestLimits: _stored, ...t }: Tenant, operator?: RequestLimitsOverride): Tenant => ({ ...t, tenantId: t.id, ...(operator ? { operatorRequestLimits: operator } : {}) });

const recordNames: Record<string, string> = { tenants: 'tenant', people: 'person', devices: 'device', targets: 'target' };

/** A conditional write refused because a record it needs is gone reads as that record's `404 …_not_found`. */
export function refusedAsNotFound(err: unknown): unknown {
  return err instanceof WriteRefused && err.condition.exists ? notFound(recordNames[err.condition.collection] ?? err.condition.collection, err.condition.id) : err;
}

/** Conditions that a write lands only while the tenant, or a person of it, still exists. */
export const tenantExists = (tenantId: string): WriteCondition => ({ collection: 'tenants', tenantId: PLATFORM, id: tenantId, exists: true });
export const personExists = (tenantId: string, personId: string): WriteCondition => ({ collection: 'people', tenantId, id: personId, exists: true });
/** Conditions that the tenant id is free: no tenant, and no deletion of one under it still to finish. */
const idFree = (tenantId: string): WriteCondition[] => [
  { ...tenantExists(tenantId), exists: false },
  { collection: 'tenantDeletions', tenantId: PLATFORM, id: tenantId, exists: false },
];
export const owners = (tenantId: string, personId: string | undefined): WriteCondition[] => [tenantExists(tenantId), ...(personId === undefined ? [] : [personExists(tenantId, personId)])];

/** Every collection of a tenant's own records (the others are the platform's, under `PLATFORM`). */
const TENANT_COLLECTIONS = (Object.keys(COLLECTIONS) as CollectionName[]).filter((c) => !['tenants', 'operatorRequestLimits', 'tenantDeletions'].includes(c));

/** Passes over a 404: what it was to delete is gone already. */
const unlessNotFound = (err: unknown) => {
  if (!(err instanceof AppError && err.status === 404)) throw err;
};

export const WORKING_HOURS_SIGNAL = 'directory:working-hours';

/** Signal-id prefixes that belong to one device, so deleting the device forgets what it said. */
export const deviceSignalPrefixes = (deviceId: string) => [`pbx:reg:${deviceId}`, `pbx:call:${deviceId}:`, `pbx:dnd:${deviceId}`, `pbx:wrap:${deviceId}`, `mobile:${deviceId}`];

export interface IssuedKey {
  key: Omit<ApiKey, 'hash' | 'sealed'>;
  secret: string;
}

/**
 * The directory: tenants, people, devices and API keys. The admin API and the `apply` file both go
 * through these functions, so both validate and write the same way.
 */
/** What other parts (calendar connections) must follow in the directory. */
export interface DirectoryHooks {
  /** After a person was deleted: revoke their grants, stop their subscriptions. */
  personRemoved: Array<(tenantId: string, personId: string) => Promise<void>>;
  /** After a person was written (their time zone may have moved their all-day events). */
  personWritten: Array<(person: Person, before: Person | undefined) => Promise<void>>;
  /** Before a tenant is written, by the admin API or `apply` (`operator`: the operator's limits for it): throws on settings this deployment refuses. */
  tenantChecks: Array<(input: TenantInput, operator: RequestLimitsOverride | undefined) => void>;
  /** After the tenant's settings or policy were written (the calendar policy may have changed). */
  tenantWritten: Array<(tenantId: string) => Promise<void>>;
  /** Before a tenant's remaining records are deleted (its people are already gone). */
  tenantRemoved: Array<(tenantId: string) => Promise<void>>;
}

export class DirectoryService {
  private readonly policies = new Map<string, { policy: Policy; at: number }>();
  /**
   * How long a tenant's resolved policy is reused. One process drops it itself when the tenant changes;
   * replicas sharing a store also re-read it this often, so a change made on another replica applies
   * everywhere within this time.
   */
  private readonly policyTtlMs: number;
  private readonly openedSecrets = new WeakMap<ApiKey, string>();
  private readonly settingsTurns: Turns;
  readonly hooks: DirectoryHooks = { personRemoved: [], personWritten: [], tenantChecks: [], tenantWritten: [], tenantRemoved: [] };

  constructor(
    private readonly store: Store,
    private readonly engine: PresenceEngine,
    private readonly clock: Clock,
    private readonly secrets: SecretBox,
    readonly groups: GroupDirectory,
    readonly pauses: QueuePauses,
  ) {
    this.policyTtlMs = store.shared ? 1000 : Infinity;
    this.settingsTurns = new Turns(store.leases, clock, 'tenant_settings_busy');
  }

  // ── tenants ──────────────────────────────────────────────────────────────

  /** The tenant, with the operator's request limits for it if any. */
  async getTenant(tenantId: string): Promise<Tenant> {
    const [t, operator] = await Promise.all([this.store.directory.get('tenants', PLATFORM, tenantId), this.operatorRequestLimits(tenantId)]);
    if (!t) throw notFound('tenant', tenantId);
    return asTenant(t, operator);
  }

  /** Deletions begun and not finished (a failed write, a replica that stopped): each is finished by deleting the tenant again. */
  async unfinishedDeletions(): Promise<Array<{ id: string; since: string }>> {
    const marks = await this.store.directory.list('tenantDeletions', PLATFORM);
    return marks.map((m) => ({ id: m.id, since: new Date(m.since).toISOString() }));
  }

  async listTenants(): Promise<Tenant[]> {
    const [tenants, limits] = await Promise.all([this.store.directory.list('tenants', PLATFORM), this.store.directory.list('operatorRequestLimits', PLATFORM)]);
    const operator = new Map(limits.map((l) => [l.id, l.limits]));
    return tenants.map((t) => asTenant(t, operator.get(t.id)));
  }

  /** The operator's request limits for the tenant (`PUT /v1/tenants/{id}/request-limits`), if it set any. */
  async operatorRequestLimits(tenantId: string): Promise<RequestLimitsOverride | undefined> {
    return (await this.store.directory.get('operatorRequestLimits', PLATFORM, tenantId))?.limits;
  }

  /** Writes the tenant's own document (`operator`: the operator's limits for it, which its own values are checked against). */
  tenantOp(tenantId: string, input: TenantInput, operator: RequestLimitsOverride | undefined): WriteOp {
    this.checkTenant(input, operator);
    return this.tenantDocOp(tenantId, input);
  }

  private tenantDocOp(tenantId: string, input: TenantInput): WriteOp {
    return { op: 'put', collection: 'tenants', doc: { ...input, id: tenantId, tenantId: PLATFORM } };
  }

  /** Throws on settings this deployment refuses (`operator`: the operator's limits for the tenant). */
  private checkTenant(input: TenantInput, operator: RequestLimitsOverride | undefined): void {
    for (const check of this.hooks.tenantChecks) check(input, operator);
  }

  /**
   * Runs a write of the tenant's document (`PUT /v1/tenant`, `apply`) or of the operator's limits for it in
   * the tenant's turn, one at a time on every replica: the tenant's own limits are checked against the
   * operator's as they are when written, not as read before the operator's change landed. A turn that
   * does not come (or is lost) answers `503 tenant_settings_busy`.
   */
  private settingsTurn<T>(tenantId: string, fn: (turn: Turn) => Promise<T>): Promise<T> {
    return this.settingsTurns.run(`tenant-settings:${tenantId}`, fn);
  }

  /** Runs `write`, which stores `input` as the tenant's document, in its settings turn once `input` passed the checks. */
  writeTenantChecked(tenantId: string, input: TenantInput, write: () => Promise<void>): Promise<void> {
    return this.settingsTurn(tenantId, async (turn) => {
      this.checkTenant(input, await this.operatorRequestLimits(tenantId));
      turn.hold();
      await write();
    });
  }

  /** Writes the operator's limits for the tenant (`{}`: deletes them). */
  private operatorLimitsOp(tenantId: string, limits: RequestLimitsOverride): WriteOp {
    return Object.keys(limits).length > 0
      ? { op: 'put', collection: 'operatorRequestLimits', doc: { id: tenantId, tenantId: PLATFORM, limits } }
      : { op: 'delete', collection: 'operatorRequestLimits', tenantId: PLATFORM, id: tenantId };
  }

  /**
   * Replaces the tenant's settings; only while it exists, so one racing the operator's deletion does not
   * bring it back (with no admin key): `404 tenant_not_found` then, nothing written.
   */
  async putTenant(tenantId: string, input: TenantInput): Promise<Tenant> {
    await this.writeTenantChecked(tenantId, input, () => this.write([this.tenantDocOp(tenantId, input)], [tenantExists(tenantId)]));
    await this.afterTenantWrite(tenantId);
    return this.getTenant(tenantId);
  }

  /** Creates the bootstrap tenant if it is absent; a replica starting at the same time may have created it. */
  async bootstrapTenant(tenantId: string, input: TenantInput): Promise<void> {
    if (await this.store.directory.get('tenants', PLATFORM, tenantId)) return;
    await this.store.feed.begin(tenantId);
    const created = await this.store.directory.write([this.tenantOp(tenantId, input, undefined)], idFree(tenantId)).then(
      () => true,
      (err: unknown) => {
        if (err instanceof WriteRefused) return false;
        throw err;
      },
    );
    if (created) await this.afterTenantWrite(tenantId);
  }

  /**
   * A new tenant with the operator's limits for it and its first admin key, in one write: a body refused
   * (the tenant's own values above these ceilings) or a write that fails stores none of them, so the
   * operator's retry is not met by a tenant that exists with no key to manage it. The write checks the
   * tenant is absent in the same step, so of two creators at once (on any replicas) one gets
   * `409 tenant_exists` and no admin key of a tenant it does not own. An id that is taken is
   * `409 tenant_exists` whatever the settings: a provisioning script sending its tenants again learns they
   * exist, not that the deployment's defaults have since moved below them. An id whose deletion has not
   * finished is `409 tenant_being_deleted`: its records are still there for the deletion to take.
   */
  async createTenant(tenantId: string, input: TenantInput, operator: RequestLimitsOverride = {}): Promise<{ tenant: Tenant; admin: IssuedKey }> {
    const taken = (err: unknown) => {
      if (!(err instanceof WriteRefused)) return err;
      return err.condition.collection === 'tenantDeletions'
        ? conflict('tenant_being_deleted', `the deletion of tenant ${tenantId} has not finished: delete it again to finish it, then create it`)
        : conflict('tenant_exists', `tenant ${tenantId} exists`);
    };
    for (const c of idFree(tenantId)) if (await this.store.directory.get(c.collection, c.tenantId, c.id)) throw taken(new WriteRefused(c));
    // Before the write, so no tenant stands without it: a stream resumed with an id of an earlier tenant of this id gets a snapshot.
    await this.store.feed.begin(tenantId);
    const admin = this.keyOp(tenantId, { name: 'initial admin', role: 'admin' });
    await this.store.directory.write([this.tenantOp(tenantId, input, operator), this.operatorLimitsOp(tenantId, operator), admin.op], idFree(tenantId)).catch((err: unknown) => {
      throw taken(err);
    });
    await this.afterTenantWrite(tenantId);
    return { tenant: await this.getTenant(tenantId), admin: admin.issued };
  }

  /**
   * The operator's request limits for the tenant, replacing any it set before (`{}`: none, the deployment's
   * defaults apply again). The tenant's own values stay; where one is now above its ceiling it is held to it.
   */
  async setOperatorRequestLimits(tenantId: string, limits: RequestLimitsOverride): Promise<Tenant> {
    await this.settingsTurn(tenantId, async (turn) => {
      turn.hold();
      await this.write([this.operatorLimitsOp(tenantId, limits)], [tenantExists(tenantId)]);
    });
    await this.afterTenantWrite(tenantId);
    return this.getTenant(tenantId);
  }

  /**
   * Deletes the tenant and everything of it, in two writes. The first takes its document (and the
   * operator's limits for it) and marks the deletion begun: from then on every write for the tenant is
   * refused (`tenantExists`), so what is listed after it is all there is, and the id cannot be created
   * again (`409 tenant_being_deleted`) before the second, which deletes all that and the mark at once. A
   * deletion cut short (a failed write, a replica that stopped) is finished by deleting the tenant again.
   * Answers the ids of the push targets it deleted, whose publishers must stop.
   */
  async deleteTenant(tenantId: string): Promise<string[]> {
    await this.beginTenantDeletion(tenantId);
    for (const p of await this.store.directory.list('people', tenantId)) await this.deletePerson(tenantId, p.id).catch(unlessNotFound);
    for (const hook of this.hooks.tenantRemoved) await hook(tenantId);
    const { listed: left, ops } = await this.tenantRecords(tenantId, TENANT_COLLECTIONS);
    const mark: WriteCondition = { collection: 'tenantDeletions', tenantId: PLATFORM, id: tenantId, exists: true };
    // Refused: another deletion of it finished first, and the id may already be a new tenant's.
    const finished = await this.store.directory.write([...ops, { op: 'delete', collection: 'tenantDeletions', tenantId: PLATFORM, id: tenantId }], [mark]).then(
      () => true,
      (err: unknown) => (err instanceof WriteRefused ? false : Promise.reject(err)),
    );
    this.policies.delete(tenantId);
    if (!finished) return [];
    const deleted = (c: CollectionName) => left.find((l) => l.collection === c)?.docs.map((d) => d.id) ?? [];
    for (const groupId of deleted('groups')) await this.groups.forgetGroup(tenantId, groupId);
    return deleted('targets');
  }

  /** The tenant's records in `collections`, by collection, and the writes that delete them. */
  private async tenantRecords(tenantId: string, collections: readonly CollectionName[]) {
    const listed = await Promise.all(collections.map(async (collection) => ({ collection, docs: await this.store.directory.list(collection, tenantId) })));
    return { listed, ops: listed.flatMap(({ collection, docs }) => docs.map((d): WriteOp => ({ op: 'delete', collection, tenantId, id: d.id }))) };
  }

  /**
   * The deletion's first write; a tenant already gone whose deletion has not finished is deleted on. Its
   * keys and device tokens go in it too: a deletion cut short after it leaves no credential of the tenant
   * that still signs in (one written as this write was prepared goes with the second).
   */
  private async beginTenantDeletion(tenantId: string): Promise<void> {
    const credentials = await this.tenantRecords(tenantId, ['apiKeys', 'devices']);
    await this.store.directory
      .write(
        [
          { op: 'delete', collection: 'tenants', tenantId: PLATFORM, id: tenantId },
          { op: 'delete', collection: 'operatorRequestLimits', tenantId: PLATFORM, id: tenantId },
          { op: 'put', collection: 'tenantDeletions', doc: { id: tenantId, tenantId: PLATFORM, since: this.clock.now() } },
          ...credentials.ops,
        ],
        [tenantExists(tenantId)],
      )
      .catch(async (err: unknown) => {
        if (!(err instanceof WriteRefused) || !(await this.store.directory.get('tenantDeletions', PLATFORM, tenantId))) throw refusedAsNotFound(err);
      });
  }

  /** Forgets the cached policy and tells the hooks; the tenant document was just written. */
  async afterTenantWrite(tenantId: string): Promise<void> {
    this.policies.delete(tenantId);
    for (const hook of this.hooks.tenantWritten) await hook(tenantId);
  }

  /** The tenant's resolved policy while it is cached; `policyFor` otherwise. */
  cachedPolicy(tenantId: string): Policy | undefined {
    const cached = this.policies.get(tenantId);
    return cached && this.clock.now() - cached.at < this.policyTtlMs ? cached.policy : undefined;
  }

  async policyFor(tenantId: string): Promise<Policy> {
    const cached = this.cachedPolicy(tenantId);
    if (cached) return cached;
    const now = this.clock.now();
    const t = await this.store.directory.get('tenants', PLATFORM, tenantId);
    const policy = withMeetingAs(resolvePolicy(t?.policy), resolveCalendarPolicy(t?.settings.calendar).meetingAs);
    this.policies.set(tenantId, { policy, at: now });
    return policy;
  }

  // ── people ───────────────────────────────────────────────────────────────

  async getPerson(tenantId: string, personId: string): Promise<Person> {
    const p = await this.store.directory.get('people', tenantId, personId);
    if (!p) throw notFound('person', personId);
    return p;
  }

  listPeople(tenantId: string): Promise<Person[]> {
    return this.store.directory.list('people', tenantId);
  }

  personOp(tenantId: string, personId: string, input: PersonInput): WriteOp {
    return { op: 'put', collection: 'people', doc: { ...input, id: personId, tenantId } };
  }

  /**
   * Creates or replaces the person; only while the tenant exists (`404 tenant_not_found`). A new person's
   * write also deletes any device or member key left under the id by an earlier person of it (written as
   * that one was deleted, by a deletion whose sweep did not run): none was written for this one, since
   * every such write needs its person, so none acts as this one.
   */
  async putPerson(tenantId: string, personId: string, input: PersonInput): Promise<{ person: Person; created: boolean }> {
    const before = await this.store.directory.get('people', tenantId, personId);
    if (input.extension !== undefined) {
      const group = await this.store.directory.findUnique('groups', 'extension', input.extension, tenantId);
      if (group) throw conflict('extension_taken', `extension ${input.extension} belongs to group ${group.id}`);
    }
    const ops = [this.personOp(tenantId, personId, input)];
    const needs = [tenantExists(tenantId)];
    if (!before) {
      ops.unshift(...(await this.belongingOps(tenantId, personId)));
      needs.push({ ...personExists(tenantId, personId), exists: false });
    }
    const written = await this.pauses.writeDirectory(tenantId, before ? {} : { created: { people: new Set([personId]) } }, ops, needs).then(
      () => true,
      (err: unknown) => (err instanceof WriteRefused && !err.condition.exists ? false : Promise.reject(refusedAsNotFound(err))),
    );
    // Created by someone else meanwhile: this is a replacement of theirs.
    if (!written) return this.putPerson(tenantId, personId, input);
    const person = await this.getPerson(tenantId, personId);
    await this.afterPersonWrite(person, before);
    return { person, created: !before };
  }

  /**
   * Keeps the person's working-hours signal in step with the directory, and shows consumers a change
   * they display at once rather than at the person's next state change: live streams their teams, name
   * and sensitive flag; publishers also the extension and SIP URI their devices and presentities follow.
   */
  async afterPersonWrite(person: Person, before: Person | undefined): Promise<void> {
    for (const hook of this.hooks.personWritten) await hook(person, before);
    const followed = before ? await this.followPersonContacts(person, before) : false;
    const changed = (await this.followWorkingHours(person, before)) || followed;
    // A new state carries the new record to publishers, and to streams of viewers who can tell it from the
    // last; but only a directory event shows every stream someone's new teams or sensitive flag, and makes
    // team targets withdraw whom they no longer cover.
    if (before ? !sameOnStreams(before, person) : !changed) await this.engine.directoryChanged(person.tenantId, person.id);
    else if (!changed && before && (before.extension !== person.extension || before.sipUri !== person.sipUri)) await this.engine.directoryChanged(person.tenantId, person.id, 'address');
  }

  /**
   * Gives everyone with working hours the signal where their state lacks it, as after a restart of a
   * store written before that signal was kept with the durable ones.
   */
  async restoreWorkingHours(): Promise<void> {
    for (const tenant of await this.listTenants()) {
      for (const person of await this.listPeople(tenant.id)) {
        if (!person.workingHours) continue;
        const { signals } = await this.engine.read(tenant.id, person.id);
        if (!signals.some((s) => s.id === WORKING_HOURS_SIGNAL)) await this.followWorkingHours(person, undefined);
      }
    }
  }

  /** True when the person's state changed. */
  private async followWorkingHours(person: Person, before: Person | undefined): Promise<boolean> {
    const same =
      before && before.timeZone === person.timeZone && JSON.stringify(before.workingHours) === JSON.stringify(person.workingHours);
    if (same) return false;
    const change: SignalChange = person.workingHours
      ? {
          op: 'put',
          signal: {
            id: WORKING_HOURS_SIGNAL,
            source: 'directory',
            claim: { kind: 'working-hours', zone: person.timeZone, week: person.workingHours },
            observedAt: this.clock.now(),
          },
        }
      : { op: 'remove', id: WORKING_HOURS_SIGNAL };
    return (await this.engine.apply(person.tenantId, person.id, [change])).changed;
  }

  /** True when the person's state changed. */
  private async followPersonContacts(person: Person, before: Person): Promise<boolean> {
    let changed = false;
    if (person.extension !== undefined && before.extension === person.extension) {
      changed = await this.followContact(person.tenantId, person.id, extensionEndpointId(person.extension), before.sipUri, person.sipUri);
    }
    if (before.mobileNumber === person.mobileNumber) return changed;
    for (const d of await this.listDevices(person.tenantId, person.id)) {
      if (d.kind === 'mobile' && d.contact === undefined) changed = (await this.followContact(person.tenantId, person.id, d.id, before.mobileNumber, person.mobileNumber)) || changed;
    }
    return changed;
  }

  /**
   * A phone's or app's contact is copied from the directory into its reachability signal when it
   * registers or beats; an edit of that record (the device's contact, the person's SIP URI or mobile
   * number) reaches routing now, not at the next registration. A contact the PBX reported itself stays.
   * True when the person's state changed.
   */
  private async followContact(tenantId: string, personId: string, endpointId: string, from: string | undefined, to: string | undefined): Promise<boolean> {
    if (from === to) return false;
    const changes: SignalChange[] = [];
    for (const s of (await this.engine.read(tenantId, personId)).signals) {
      if (s.claim.kind !== 'endpoint' || s.claim.endpoint.id !== endpointId || s.claim.endpoint.contact !== from) continue;
      const { contact: _from, ...endpoint } = s.claim.endpoint;
      changes.push({ op: 'put', signal: { ...s, claim: { ...s.claim, endpoint: to === undefined ? endpoint : { ...endpoint, contact: to } } } });
    }
    return changes.length > 0 && (await this.engine.apply(tenantId, personId, changes)).changed;
  }

  /** Also takes the person out of every group and ends their pause, in the same atomic batch. */
  async deletePerson(tenantId: string, personId: string): Promise<void> {
    await this.getPerson(tenantId, personId);
    await this.pauses.writeDirectory(tenantId, { deleted: { people: new Set([personId]) } }, [
      ...(await this.belongingOps(tenantId, personId)),
      ...(await this.groups.withoutPersonOps(tenantId, personId)),
      { op: 'delete', collection: 'people', tenantId, id: personId },
    ]);
    await this.sweepPerson(tenantId, personId);
    await this.afterPersonRemoved(tenantId, personId);
    await this.engine.remove(tenantId, personId);
    await this.groups.forgetPerson(tenantId, personId);
  }

  /** Deletes the person's devices and member keys. */
  private async belongingOps(tenantId: string, personId: string): Promise<WriteOp[]> {
    const of = { field: 'personId', value: personId };
    const [devices, keys] = await Promise.all([this.store.directory.list('devices', tenantId, of), this.store.directory.list('apiKeys', tenantId, of)]);
    return [
      ...devices.map((d): WriteOp => ({ op: 'delete', collection: 'devices', tenantId, id: d.id })),
      ...keys.map((k): WriteOp => ({ op: 'delete', collection: 'apiKeys', tenantId, id: k.id })),
    ];
  }

  /**
   * After a person's deletion: a device or member key written between the look at theirs and the deletion
   * (they still existed) goes too; one written later is refused. Only while the id is still free: a person
   * created again under it meanwhile keeps what is theirs.
   */
  async sweepPerson(tenantId: string, personId: string): Promise<void> {
    const ops = await this.belongingOps(tenantId, personId);
    if (ops.length === 0) return;
    await this.store.directory.write(ops, [{ ...personExists(tenantId, personId), exists: false }]).catch((err: unknown) => {
      if (!(err instanceof WriteRefused)) throw err;
    });
  }

  async afterPersonRemoved(tenantId: string, personId: string): Promise<void> {
    for (const hook of this.hooks.personRemoved) await hook(tenantId, personId);
  }

  // ── devices ──────────────────────────────────────────────────────────────

  async getDevice(tenantId: string, deviceId: string): Promise<Device> {
    const d = await this.store.directory.get('devices', tenantId, deviceId);
    if (!d) throw notFound('device', deviceId);
    return d;
  }

  listDevices(tenantId: string, personId: string): Promise<Device[]> {
    return this.store.directory.list('devices', tenantId, { field: 'personId', value: personId });
  }

  async deviceOp(tenantId: string, deviceId: string, input: DeviceInput, pendingPeople: ReadonlySet<string> = new Set()): Promise<WriteOp> {
    if (!pendingPeople.has(input.personId)) await this.getPerson(tenantId, input.personId);
    const existing = await this.liveDevice(tenantId, deviceId);
    if (existing && existing.personId !== input.personId) {
      throw conflict('device_belongs_to_other_person', `device ${deviceId} belongs to ${existing.personId}; delete it first`);
    }
    const doc: Device = { ...input, id: deviceId, tenantId };
    if (existing?.tokenHash && existing.kind === 'mobile' && input.kind === 'mobile') {
      doc.tokenHash = existing.tokenHash;
      if (existing.tokenIssuedAt !== undefined) doc.tokenIssuedAt = existing.tokenIssuedAt;
    }
    return { op: 'put', collection: 'devices', doc };
  }

  /**
   * The stored device, unless it is left of a person deleted since (see `putPerson`): nothing of such a
   * device, its token least of all, carries over to one written under its id.
   */
  private async liveDevice(tenantId: string, deviceId: string): Promise<Device | undefined> {
    const d = await this.store.directory.get('devices', tenantId, deviceId);
    return d && (await this.store.directory.get('people', tenantId, d.personId)) ? d : undefined;
  }

  async putDevice(tenantId: string, deviceId: string, input: DeviceInput): Promise<{ device: Device; created: boolean; token?: string }> {
    const existing = await this.liveDevice(tenantId, deviceId);
    const op = await this.deviceOp(tenantId, deviceId, input);
    let token: string | undefined;
    if (op.op === 'put' && op.collection === 'devices' && input.kind === 'mobile' && !op.doc.tokenHash) {
      token = newToken('phd');
      op.doc.tokenHash = hashToken(token);
      op.doc.tokenIssuedAt = this.clock.now();
    }
    await this.write([op], owners(tenantId, input.personId));
    const device = await this.getDevice(tenantId, deviceId);
    await this.afterDeviceWrite(device, existing);
    return token === undefined ? { device, created: !existing } : { device, created: !existing, token };
  }

  /** What a device said as another kind is forgotten; a new contact reaches its reachability signal. */
  async afterDeviceWrite(device: Device, before: Device | undefined): Promise<void> {
    if (!before) return;
    if (before.kind !== device.kind) return this.forgetDeviceSignals(device.tenantId, before);
    const person = device.kind === 'mobile' ? await this.store.directory.get('people', device.tenantId, device.personId) : undefined;
    await this.followContact(device.tenantId, device.personId, device.id, before.contact ?? person?.mobileNumber, device.contact ?? person?.mobileNumber);
  }

  /** Issues a new bearer token for a mobile device; the old one stops working at once. */
  async issueDeviceToken(tenantId: string, deviceId: string): Promise<string> {
    const d = await this.getDevice(tenantId, deviceId);
    if (d.kind !== 'mobile') throw unprocessable('not_a_mobile_device', 'only mobile devices hold tokens');
    const token = newToken('phd');
    await this.write([{ op: 'put', collection: 'devices', doc: { ...d, tokenHash: hashToken(token), tokenIssuedAt: this.clock.now() } }], this.deviceExists(d));
    return token;
  }

  async revokeDeviceToken(tenantId: string, deviceId: string): Promise<void> {
    const d = await this.getDevice(tenantId, deviceId);
    const { tokenHash: _h, tokenIssuedAt: _t, ...rest } = d;
    await this.write([{ op: 'put', collection: 'devices', doc: rest }], this.deviceExists(d));
    await this.forgetDeviceSignals(tenantId, d);
  }

  async deleteDevice(tenantId: string, deviceId: string): Promise<void> {
    const d = await this.getDevice(tenantId, deviceId);
    await this.store.directory.write([{ op: 'delete', collection: 'devices', tenantId, id: deviceId }]);
    await this.forgetDeviceSignals(tenantId, d);
  }

  /** What the device said goes; its endpoint was removed by an admin, not lost (no outage metric counts it). */
  async forgetDeviceSignals(tenantId: string, d: Device): Promise<void> {
    const state = await this.engine.read(tenantId, d.personId);
    const prefixes = deviceSignalPrefixes(d.id);
    const forgotten = state.signals.filter((s) => prefixes.some((p) => s.id === p || s.id.startsWith(p)));
    const removed = new Set(forgotten.flatMap((s) => (s.claim.kind === 'endpoint' ? [s.claim.endpoint.id] : [])));
    const changes: SignalChange[] = forgotten.map((s) => ({ op: 'remove', id: s.id }));
    if (changes.length > 0) await this.engine.apply(tenantId, d.personId, changes, undefined, removed);
  }

  // ── API keys ─────────────────────────────────────────────────────────────

  async createKey(tenantId: string, raw: ApiKeyInput): Promise<IssuedKey> {
    const input = apiKeyInputSchema.parse(raw);
    if (input.personId) await this.getPerson(tenantId, input.personId);
    const { op, issued } = this.keyOp(tenantId, input);
    await this.write([op], owners(tenantId, input.personId));
    return issued;
  }

  /**
   * A write that lands only while the records of `needs` exist: a key, device or setting written while
   * its person or tenant is being deleted is refused (`404 …_not_found`), not left behind for a person or
   * tenant created later under the same id to inherit.
   */
  private async write(ops: WriteOp[], needs: WriteCondition[]): Promise<void> {
    await this.store.directory.write(ops, needs).catch((err: unknown) => {
      throw refusedAsNotFound(err);
    });
  }

  /** A rewritten device: its person and the device itself must still be there, or it would come back. */
  private deviceExists(d: Device): WriteCondition[] {
    return [...owners(d.tenantId, d.personId), { collection: 'devices', tenantId: d.tenantId, id: d.id, exists: true }];
  }

  /** A new key's document and its secret (shown once); `input` already checked. */
  private keyOp(tenantId: string, input: ApiKeyInput): { op: WriteOp; issued: IssuedKey } {
    const id = newToken('key', 9).replace(/[^a-zA-Z0-9]/g, '').toLowerCase();
    const secret = newToken('phk');
    const doc: ApiKey = { id, tenantId, name: input.name, role: input.role, hash: hashToken(secret), createdAt: this.clock.now() };
    if (input.personId) doc.personId = input.personId;
    if (input.role === 'pbx') doc.sealed = this.secrets.seal(secret);
    return { op: { op: 'put', collection: 'apiKeys', doc }, issued: { key: publicKey(doc), secret } };
  }

  /**
   * Installs a key whose secret is given (the bootstrap admin key from the environment), while its tenant
   * exists: not for one deleted (also as this runs, on another replica) or whose deletion is unfinished.
   * False when it is not installed for that reason.
   */
  async installKey(tenantId: string, id: string, role: ApiKey['role'], name: string, secret: string): Promise<boolean> {
    const doc: ApiKey = { id, tenantId, name, role, hash: hashToken(secret), createdAt: this.clock.now() };
    const existing = await this.store.directory.get('apiKeys', tenantId, id);
    if (existing?.hash === doc.hash) return true;
    return this.store.directory.write([{ op: 'put', collection: 'apiKeys', doc }], [tenantExists(tenantId)]).then(
      () => true,
      (err: unknown) => (err instanceof WriteRefused ? false : Promise.reject(err)),
    );
  }

  async listKeys(tenantId: string): Promise<Array<Omit<ApiKey, 'hash' | 'sealed'>>> {
    return (await this.store.directory.list('apiKeys', tenantId)).map(publicKey);
  }

  async deleteKey(tenantId: string, keyId: string): Promise<void> {
    const k = await this.store.directory.get('apiKeys', tenantId, keyId);
    if (!k) throw notFound('key', keyId);
    await this.store.directory.write([{ op: 'delete', collection: 'apiKeys', tenantId, id: keyId }]);
  }

  /**
   * The PBX key's secret, for verifying its HMAC signatures. Opened once per stored key document (the store
   * hands out the same read-only document until the key changes), not on every signed batch.
   */
  pbxSecret(key: ApiKey): string | undefined {
    if (!key.sealed) return undefined;
    let secret = this.openedSecrets.get(key);
    if (secret === undefined) {
      secret = this.secrets.open(key.sealed);
      this.openedSecrets.set(key, secret);
    }
    return secret;
  }
}

export function publicKey(k: ApiKey): Omit<ApiKey, 'hash' | 'sealed'> {
  const { hash: _h, sealed: _s, ...rest } = k;
  return rest;
}
