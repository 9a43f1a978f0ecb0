import { deepFreeze, type AnyDoc } from '../indexing.js';

interface Entry {
  json: string;
  /** Parsed on first read. */
  doc?: AnyDoc;
}

/**
 * A replica's copy of every directory document (hash key → id → JSON), and the dataset revision
 * (`<epoch>/<docrev>`) it is known to be exactly equal to, if any. It answers reads only while Redis
 * is at that revision, and is what the replica puts back if Redis loses its data.
 */
export class DirectoryCopy {
  private readonly hashes = new Map<string, Map<string, Entry>>();
  /** Lookups by a unique field, built on first use and dropped on any change: `hashKey\nfield` → value → doc. */
  private readonly uniques = new Map<string, Map<string, AnyDoc>>();
  /** The revision this copy is equal to; '' when it is not known to equal any. */
  rev = '';

  /** Replaces everything by a fresh read of revision `rev`. */
  replace(fresh: Map<string, Map<string, string>>, rev: string): void {
    this.hashes.clear();
    this.uniques.clear();
    for (const [k, m] of fresh) this.hashes.set(k, new Map([...m].map(([id, json]) => [id, { json }])));
    this.rev = rev;
  }

  /** Applies one write: hash fields deleted and set. */
  apply(dels: readonly string[][], sets: readonly string[][]): void {
    this.uniques.clear();
    for (const [k, f] of dels) this.hashes.get(k!)?.delete(f!);
    for (const [k, f, json] of sets) {
      let m = this.hashes.get(k!);
      if (!m) this.hashes.set(k!, (m = new Map()));
      m.set(f!, { json: json! });
    }
  }

  get(hashKey: string, id: string): AnyDoc | undefined {
    const e = this.hashes.get(hashKey)?.get(id);
    return e && parsed(e);
  }

  list(hashKey: string): AnyDoc[] {
    return [...(this.hashes.get(hashKey)?.values() ?? [])].map(parsed);
  }

  /** The document of `hashKeys` whose `field` is `value` (unique fields only). */
  findUnique(hashKeys: readonly string[], field: string, value: string): AnyDoc | undefined {
    for (const k of hashKeys) {
      const index = `${k}\n${field}`;
      let byValue = this.uniques.get(index);
      if (!byValue) {
        byValue = new Map();
        for (const e of this.hashes.get(k)?.values() ?? []) {
          const d = parsed(e);
          const v = d[field];
          if (typeof v === 'string' && v !== '') byValue.set(v, d);
        }
        this.uniques.set(index, byValue);
      }
      const hit = byValue.get(value);
      if (hit) return hit;
    }
    return undefined;
  }

  /** Hash keys starting with `prefix`. */
  keysStartingWith(prefix: string): string[] {
    return [...this.hashes.keys()].filter((k) => k.startsWith(prefix));
  }

  *entries(): Iterable<[hashKey: string, id: string, json: string]> {
    for (const [k, m] of this.hashes) for (const [id, e] of m) yield [k, id, e.json];
  }
}

function parsed(e: Entry): AnyDoc {
  return (e.doc ??= deepFreeze(JSON.parse(e.json) as AnyDoc));
}
