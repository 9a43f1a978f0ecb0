import { COLLECTIONS, type CollectionName } from './keys.js';

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
