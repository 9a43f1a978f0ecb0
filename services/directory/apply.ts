import type { Device, Person } from '../../shared/domain/directory.js';
import type { Group } from '../../shared/domain/group.js';
import { stableJson } from '../../shared/domain/stable-json.js';
import { conflict, forbidden } from '../../shared/errors/errors.js';
import type { Store, WriteCondition, WriteOp } from '../../shared/store/port.js';
import type { PresenceEngine } from '../merger/engine.js';
import type { DirectoryDocument } from './apply-document.js';
import { personExists, refusedAsNotFound, tenantExists, type DirectoryService } from './directory-service.js';
import type { PublishPipeline } from '../publishers/pipeline.js';
import type { TargetsService } from '../publishers/targets-service.js';
import type { TargetInput } from '../../shared/domain/target.js';

export interface Changes {
  created: string[];
  updated: string[];
  unchanged: string[];
  deleted: string[];
}

export interface ApplyPlan {
  tenant: 'unchanged' | 'updated';
  people: Changes;
  devices: Changes;
  groups: Changes;
  targets: Changes;
  /** Signing secrets generated for new webhook targets, shown once. */
  secrets?: Record<string, string>;
}

const empty = (): Changes => ({ created: [], updated: [], unchanged: [], deleted: [] });

/**
 * Applies a directory file idempotently: what is listed is created or updated, what is unchanged is not
 * touched, and with `prune` what is not listed is deleted. All writes go in one atomic batch, through the
 * same operations as the admin API; a rejected file writes nothing.
 */
export async function applyDirectory(
  deps: { store: Store; directory: DirectoryService; engine: PresenceEngine; targets: TargetsService; pipeline: PublishPipeline },
  tenantId: string,
  doc: DirectoryDocument,
  opts: { dryRun: boolean; prune: boolean },
): Promise<ApplyPlan> {
  if (doc.tenant !== tenantId) throw forbidden('tenant_mismatch', `this key belongs to tenant ${tenantId}, the file to ${doc.tenant}`);
  const { store, directory, engine } = deps;
  const plan: ApplyPlan = { tenant: 'unchanged', people: empty(), devices: empty(), groups: empty(), targets: empty() };
  const ops: WriteOp[] = [];
  // Written only while the tenant exists: a file applied as the operator deletes it writes nothing back.
  const needs: WriteCondition[] = [tenantExists(tenantId)];

  const tenant = await directory.getTenant(tenantId);
  const wantedTenant = {
    name: doc.name ?? tenant.name,
    settings: doc.settings ?? tenant.settings,
    ...(doc.policy !== undefined ? { policy: doc.policy } : tenant.policy !== undefined ? { policy: tenant.policy } : {}),
  };
  if (stableJson(wantedTenant) !== stableJson({ name: tenant.name, settings: tenant.settings, policy: tenant.policy })) {
    plan.tenant = 'updated';
    ops.push(directory.tenantOp(tenantId, wantedTenant, tenant.operatorRequestLimits));
  }

  // Devices and keys are read before people: one whose person is then absent is left of a person deleted
  // by then (each is written only while its person exists), and goes if the file creates one under that id.
  const storedDevices = await store.directory.list('devices', tenantId);
  const memberKeys = (await store.directory.list('apiKeys', tenantId)).filter((k) => k.personId !== undefined);
  const existingPeople = new Map((await store.directory.list('people', tenantId)).map((p) => [p.id, p]));
  const existingDevices = new Map(storedDevices.map((d) => [d.id, d]));
  const listedPeople = new Set(doc.people.map((p) => p.id));
  const listedDevices = new Set<string>();
  const touchedPeople: Array<{ person: Person; before: Person | undefined }> = [];
  const deletedDevices: Device[] = [];
  const touchedDevices: Array<{ device: Device; before: Device | undefined }> = [];

  for (const { devices, id, ...input } of doc.people) {
    const op = directory.personOp(tenantId, id, input);
    const before = existingPeople.get(id);
    const verdict = !before ? 'created' : stableJson(before) === stableJson(op.op === 'put' ? op.doc : undefined) ? 'unchanged' : 'updated';
    plan.people[verdict].push(id);
    if (verdict !== 'unchanged') {
      ops.push(op);
      touchedPeople.push({ person: (op as { doc: Person }).doc, before });
    }
    for (const { id: deviceId, ...d } of devices) {
      listedDevices.add(deviceId);
      const dop = await directory.deviceOp(tenantId, deviceId, { ...d, personId: id }, listedPeople);
      const old = existingDevices.get(deviceId);
      const dv = !old ? 'created' : stableJson(old) === stableJson((dop as { doc: Device }).doc) ? 'unchanged' : 'updated';
      plan.devices[dv].push(deviceId);
      if (dv !== 'unchanged') {
        ops.push(dop);
        // A person this batch does not write must still be there, or the device outlives their deletion.
        if (verdict === 'unchanged') needs.push(personExists(tenantId, id));
        touchedDevices.push({ device: (dop as { doc: Device }).doc, before: old });
      }
    }
  }

  const existingTargets = new Map((await store.directory.list('targets', tenantId)).map((t) => [t.id, t]));
  const secrets: Record<string, string> = {};
  for (const { id, ...input } of doc.targets) {
    const old = existingTargets.get(id);
    if (old && deps.targets.unchanged(old, input as TargetInput)) {
      plan.targets.unchanged.push(id);
      continue;
    }
    plan.targets[old ? 'updated' : 'created'].push(id);
    const { op, secret } = await deps.targets.prepare(tenantId, id, input as TargetInput, wantedTenant.settings.allowPrivateTargets);
    ops.push(op);
    if (secret) secrets[id] = secret;
  }

  if (opts.prune) {
    const listedTargets = new Set(doc.targets.map((t) => t.id));
    for (const t of existingTargets.values()) {
      if (listedTargets.has(t.id)) continue;
      plan.targets.deleted.push(t.id);
      ops.push({ op: 'delete', collection: 'targets', tenantId, id: t.id });
    }
    for (const d of existingDevices.values()) {
      if (listedDevices.has(d.id)) continue;
      plan.devices.deleted.push(d.id);
      deletedDevices.push(d);
      ops.push({ op: 'delete', collection: 'devices', tenantId, id: d.id });
    }
    for (const p of existingPeople.values()) {
      if (listedPeople.has(p.id)) continue;
      plan.people.deleted.push(p.id);
      for (const k of await store.directory.list('apiKeys', tenantId, { field: 'personId', value: p.id })) {
        ops.push({ op: 'delete', collection: 'apiKeys', tenantId, id: k.id });
      }
      ops.push({ op: 'delete', collection: 'people', tenantId, id: p.id });
    }
  }

  // Groups are checked against the directory as this file leaves it.
  const existingGroups = new Map((await store.directory.list('groups', tenantId)).map((g) => [g.id, g]));
  const listedGroups = new Set(doc.groups.map((g) => g.id));
  const finalPeople = new Map<string, string | undefined>();
  if (!opts.prune) for (const p of existingPeople.values()) finalPeople.set(p.id, p.extension);
  for (const p of doc.people) finalPeople.set(p.id, p.extension);
  const personExtensions = new Map<string, string>();
  for (const [id, ext] of finalPeople) if (ext !== undefined) personExtensions.set(ext, id);
  const known = {
    people: new Set(finalPeople.keys()),
    groups: new Set([...listedGroups, ...(opts.prune ? [] : existingGroups.keys())]),
    personExtensions,
  };
  for (const { id, ...input } of doc.groups) {
    const op = await directory.groups.groupOp(tenantId, id, input, known);
    const before = existingGroups.get(id);
    const verdict = !before ? 'created' : stableJson(before) === stableJson((op as { doc: Group }).doc) ? 'unchanged' : 'updated';
    plan.groups[verdict].push(id);
    if (verdict !== 'unchanged') ops.push(op);
  }
  if (!opts.prune) {
    // A group the file does not list keeps its extension; a person may not take it.
    for (const g of existingGroups.values()) {
      const holder = !listedGroups.has(g.id) && g.extension !== undefined ? personExtensions.get(g.extension) : undefined;
      if (holder !== undefined) throw conflict('extension_taken', `extension ${g.extension} belongs to group ${g.id}`);
    }
  }
  if (opts.prune) {
    for (const g of existingGroups.values()) {
      if (listedGroups.has(g.id)) continue;
      plan.groups.deleted.push(g.id);
      ops.push({ op: 'delete', collection: 'groups', tenantId, id: g.id });
    }
  }

  if (opts.dryRun || ops.length === 0) return plan;
  // What an earlier person of a created one's id left goes (but a device this file writes under its id).
  const created = new Set(plan.people.created);
  ops.unshift(
    ...storedDevices.filter((d) => created.has(d.personId) && !listedDevices.has(d.id)).map((d): WriteOp => ({ op: 'delete', collection: 'devices', tenantId, id: d.id })),
    ...memberKeys.filter((k) => created.has(k.personId!)).map((k): WriteOp => ({ op: 'delete', collection: 'apiKeys', tenantId, id: k.id })),
  );
  const { people, groups } = plan;
  const write = () =>
    directory.pauses.writeDirectory(
      tenantId,
      { deleted: { people: new Set(people.deleted), groups: new Set(groups.deleted) }, created: { people: new Set(people.created), groups: new Set(groups.created) } },
      ops,
      needs,
    );
  // A new tenant document is checked again in the tenant's settings turn, against the operator's limits as they are now.
  await (plan.tenant === 'updated' ? directory.writeTenantChecked(tenantId, wantedTenant, write) : write()).catch((err: unknown) => {
    throw refusedAsNotFound(err);
  });
  for (const id of plan.people.deleted) {
    await directory.sweepPerson(tenantId, id);
    await directory.afterPersonRemoved(tenantId, id);
  }
  if (plan.tenant === 'updated') await directory.afterTenantWrite(tenantId);
  for (const { person, before } of touchedPeople) await directory.afterPersonWrite(person, before);
  for (const { device, before } of touchedDevices) await directory.afterDeviceWrite(device, before);
  for (const d of deletedDevices) if (listedPeople.has(d.personId)) await directory.forgetDeviceSignals(tenantId, d);
  for (const id of plan.people.deleted) {
    await engine.remove(tenantId, id);
    await directory.groups.forgetPerson(tenantId, id);
  }
  for (const id of plan.groups.deleted) await directory.groups.forgetGroup(tenantId, id);
  for (const id of [...plan.targets.created, ...plan.targets.updated, ...plan.targets.deleted]) await deps.pipeline.reload(tenantId, id);
  if (Object.keys(secrets).length > 0) plan.secrets = secrets;
  return plan;
}
