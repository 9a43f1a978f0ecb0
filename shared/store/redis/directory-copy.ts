import { deepFreeze, type AnyDoc } from '../indexing.js';

interface Entry {
  json: string;
  /** Parsed on first read. */
  doc?: AnyDoc;
}

/** A dataset's name and its directory revision per collection (a collection never written: 0). */
export interface DirectoryRevision {
  epoch: string;
  revs: ReadonlyMap<string, number>;
}

/**
 * A replica's copy of every directory document (hash key → id → JSON), with, per collection, the
 * revision of the dataset it is known to equal, if any. It answers reads of a collection only while
 * Redis is at that revision, and is what the replica puts back if Redis loses its data.
 */
export class DirectoryCopy {
  private readonly hashes = new Map<string, Map<string, Entry>>();
  /** Lookups by a unique field, built on first use and dropped on any change: `hashKey\nfield` → value → doc. */
  private readonly uniques = new Map<string, Map<string, AnyDoc>>();
  /** The dataset the revisions belong to; '' before the first read. */
  private epoch = '';
  /** Collection → the revision its documents here are known to equal; absent: not known to equal any. */
  private readonly revs = new Map<string, number>();

  /** `collectionOf(hashKey)`: the collection a document hash belongs to. */
  constructor(private readonly collectionOf: (hashKey: string) => string) {}

  /** True while the copy of `collection` equals what Redis holds at `at`. */
  isCurrent(collection: string, at: DirectoryRevision): boolean {
    const rev = this.revs.get(collection);
    return rev !== undefined && this.epoch !== '' && at.epoch === this.epoch && rev === (at.revs.get(collection) ?? 0);
  }

  /**
   * True when Redis counts a collection of the same dataset below what the copy equals: the dataset went
   * back in time, and its next writes would reach revisions the copy holds other documents at.
   */
  wentBack(at: DirectoryRevision): boolean {
    return at.epoch === this.epoch && [...this.revs].some(([c, rev]) => rev > (at.revs.get(c) ?? 0));
  }

  /** The collections whose copy does not equal `at` (all of them in another dataset). */
  behind<C extends string>(at: DirectoryRevision, collections: readonly C[]): C[] {
    return collections.filter((c) => !this.isCurrent(c, at));
  }

  /** Replaces the documents of `collections` by a fresh read made at (or after) revision `at`. */
  replace(fresh: Map<string, Map<string, string>>, at: DirectoryRevision, collections: readonly string[]): void {
    if (at.epoch !== this.epoch) this.revs.clear();
    this.epoch = at.epoch;
    const replaced = new Set(collections);
    this.uniques.clear();
    for (const k of [...this.hashes.keys()]) if (replaced.has(this.collectionOf(k))) this.hashes.delete(k);
    for (const [k, m] of fresh) if (replaced.has(this.collectionOf(k))) this.hashes.set(k, new Map([...m].map(([id, json]) => [id, { json }])));
    for (const c of collections) this.revs.set(c, at.revs.get(c) ?? 0);
  }

  /**
   * Applies this replica's own write: hash fields deleted and set, and the collections' new revisions;
   * a collection stays known only if the write came right after the revision it was at.
   */
  apply(dels: readonly string[][], sets: readonly string[][], revs: ReadonlyMap<string, number>): void {
    this.uniques.clear();
    for (const [k, f] of dels) this.hashes.get(k!)?.delete(f!);
    for (const [k, f, json] of sets) {
      let m = this.hashes.get(k!);
      if (!m) this.hashes.set(k!, (m = new Map()));
      m.set(f!, { json: json! });
    }
    for (const [c, rev] of revs) {
      if (this.revs.get(c) === rev - 1) this.revs.set(c, rev);
      else this.revs.delete(c);
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
