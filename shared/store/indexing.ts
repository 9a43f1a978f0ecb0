import { UniqueViolation, WriteRefused } from '../errors/errors.js';
import { COLLECTIONS, type CollectionName } from './keys.js';
import type { WriteCondition, WriteOp } from './port.js';

export type AnyDoc = { tenantId: string; id: string } & Record<string, unknown>;

/** One unique entry a batch touches, and who holds it afterwards (`undefined`: freed). */
export interface UniqueChange {
  collection: CollectionName;
  field: string;
  scope: string;
  value: string;
  holder: string | undefined;
}

export function holderOf(tenantId: string, id: string): string {
  return `${tenantId}/${id}`;
}

/**
 * Simulates a batch against the unique lookups, so that a violation writes nothing: throws
 * `UniqueViolation`, or returns every entry the batch frees or takes. `oldDoc` and `owner` read the
 * state before the batch.
 */
export function planUnique(
  ops: readonly WriteOp[],
  oldDoc: (collection: CollectionName, tenantId: string, id: string) => AnyDoc | undefined,
  owner: (collection: CollectionName, field: string, scope: string, value: string) => string | undefined,
): UniqueChange[] {
  const changed = new Map<string, UniqueChange>();
  const key = (c: string, f: string, s: string, v: string) => JSON.stringify([c, f, s, v]);
  const holder = (c: CollectionName, f: string, s: string, v: string) => {
    const k = key(c, f, s, v);
    return changed.has(k) ? changed.get(k)!.holder : owner(c, f, s, v);
  };
  for (const op of ops) {
    const tenantId = op.op === 'put' ? op.doc.tenantId : op.tenantId;
    const id = op.op === 'put' ? op.doc.id : op.id;
    const self = holderOf(tenantId, id);
    const old = oldDoc(op.collection, tenantId, id);
    for (const [field, scope, value] of old ? uniqueEntries(op.collection, old) : []) {
      if (holder(op.collection, field, scope, value) === self) changed.set(key(op.collection, field, scope, value), { collection: op.collection, field, scope, value, holder: undefined });
    }
    if (op.op === 'delete') continue;
    for (const [field, scope, value] of uniqueEntries(op.collection, op.doc as unknown as AnyDoc)) {
      const h = holder(op.collection, field, scope, value);
      if (h !== undefined && h !== self) throw new UniqueViolation(op.collection, field, value);
      changed.set(key(op.collection, field, scope, value), { collection: op.collection, field, scope, value, holder: self });
    }
  }
  return [...changed.values()];
}

/** Throws `WriteRefused` for the first condition `found` (whether the document is there now) breaks. */
export function checkConditions(conditions: readonly WriteCondition[], found: (c: WriteCondition, i: number) => boolean): void {
  const failed = conditions.find((c, i) => found(c, i) !== c.exists);
  if (failed) throw new WriteRefused(failed);
}

/** The unique entries a document occupies: `[field, scope, value]`, scope being its tenant or `*`. */
export function uniqueEntries(collection: CollectionName, doc: Record<string, unknown>): Array<[string, string, string]> {
  const spec = COLLECTIONS[collection].unique as Record<string, 'tenant' | 'global'>;
  const out: Array<[string, string, string]> = [];
  for (const [field, scope] of Object.entries(spec)) {
    const value = doc[field];
    if (typeof value === 'string' && value !== '') out.push([field, scope === 'global' ? '*' : String(doc.tenantId), value]);
  }
  return out;
}

export function uniqueScope(collection: CollectionName, field: string, tenantId?: string): string | undefined {
  const scope = (COLLECTIONS[collection].unique as Record<string, 'tenant' | 'global'>)[field];
  if (scope === undefined) return undefined;
  return scope === 'global' ? '*' : tenantId;
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
