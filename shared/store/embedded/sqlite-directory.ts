import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { checkConditions, deepFreeze, holderOf, planUnique, uniqueEntries, uniqueScope, type AnyDoc } from '../indexing.js';
import { sqliteTables, type CollectionName } from '../keys.js';
import type { DirectoryStore, Doc, WriteCondition, WriteOp } from '../port.js';
import { Checkpointer, type CheckpointOptions } from './checkpointer.js';
import { SqliteDeliveryLedger } from './sqlite-ledger.js';
import { SqliteSignals } from './sqlite-signals.js';

/** What a reset WAL is truncated to (`checkpointer.ts` tells a WAL that keeps growing by its size). */
const JOURNAL_SIZE_LIMIT = 4 << 20;

/**
 * Durable records in SQLite (WAL). All records are also held in memory, so reads never touch the disk;
 * a write goes to SQLite in one transaction first and to memory only once it has committed.
 */
export class SqliteDirectory implements DirectoryStore {
  private readonly db: Database.Database;
  /** collection → tenant → id → doc */
  private readonly docs = new Map<string, Map<string, Map<string, AnyDoc>>>();
  /** `collection|field|scope|value` → `tenantId/id` of the holder */
  private readonly unique = new Map<string, string>();
  /** In the same file, so a deleted target's entries go in the transaction that deletes it. */
  readonly deliveries: SqliteDeliveryLedger;
  /** The signals each person keeps across a restart. */
  readonly signals: SqliteSignals;
  /** Absent for a database in memory, which has no WAL. */
  readonly checkpointer: Checkpointer | undefined;

  constructor(path: string, checkpoints: CheckpointOptions = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // NORMAL keeps every committed transaction across a process crash (kill -9); only an OS crash or
    // power loss can drop the last transactions.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    // Checkpoints run on a thread of their own (`checkpointer.ts`), never inside a commit here.
    this.db.pragma('wal_autocheckpoint = 0');
    this.db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS ${sqliteTables.records} (
        collection TEXT NOT NULL, tenant_id TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (collection, tenant_id, id)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS ${sqliteTables.meta} (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT OR IGNORE INTO ${sqliteTables.meta} (key, value) VALUES ('schema', '1');
    `);
    this.signals = new SqliteSignals(this.db);
    this.deliveries = new SqliteDeliveryLedger(this.db);
    for (const row of this.db.prepare(`SELECT collection, data FROM ${sqliteTables.records}`).all() as Array<{ collection: string; data: string }>) {
      this.remember(row.collection as CollectionName, JSON.parse(row.data) as AnyDoc);
    }
    this.checkpointer = path === ':memory:' ? undefined : new Checkpointer(this.db, path, checkpoints);
  }

  private bucket(collection: string, tenantId: string, create: boolean): Map<string, AnyDoc> | undefined {
    let byTenant = this.docs.get(collection);
    if (!byTenant) {
      if (!create) return undefined;
      byTenant = new Map();
      this.docs.set(collection, byTenant);
    }
    let byId = byTenant.get(tenantId);
    if (!byId && create) {
      byId = new Map();
      byTenant.set(tenantId, byId);
    }
    return byId;
  }

  private remember(collection: CollectionName, doc: AnyDoc): void {
    this.bucket(collection, doc.tenantId, true)!.set(doc.id, deepFreeze(doc));
    for (const [field, scope, value] of uniqueEntries(collection, doc)) this.unique.set(uKey(collection, field, scope, value), holderOf(doc.tenantId, doc.id));
  }

  private forget(collection: CollectionName, tenantId: string, id: string): void {
    const doc = this.bucket(collection, tenantId, false)?.get(id);
    if (!doc) return;
    for (const [field, scope, value] of uniqueEntries(collection, doc)) {
      const k = uKey(collection, field, scope, value);
      if (this.unique.get(k) === holderOf(tenantId, id)) this.unique.delete(k);
    }
    this.bucket(collection, tenantId, false)!.delete(id);
  }

  async get<C extends CollectionName>(collection: C, tenantId: string, id: string): Promise<Doc<C> | undefined> {
    return this.bucket(collection, tenantId, false)?.get(id) as Doc<C> | undefined;
  }

  async list<C extends CollectionName>(collection: C, tenantId: string, where?: { field: string; value: string }): Promise<Doc<C>[]> {
    const all = [...(this.bucket(collection, tenantId, false)?.values() ?? [])];
    const out = where ? all.filter((d) => d[where.field] === where.value) : all;
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) as unknown as Doc<C>[];
  }

  /** Synchronous lookup for hot paths (PBX ingest, device tokens). */
  findUniqueSync(collection: CollectionName, field: string, value: string, tenantId?: string): AnyDoc | undefined {
    const scope = uniqueScope(collection, field, tenantId);
    if (scope === undefined) return undefined;
    const holder = this.unique.get(uKey(collection, field, scope, value));
    if (holder === undefined) return undefined;
    const [t, id] = holder.split('/') as [string, string];
    return this.bucket(collection, t, false)?.get(id);
  }

  async findUnique<C extends CollectionName>(collection: C, field: string, value: string, tenantId?: string): Promise<Doc<C> | undefined> {
    return this.findUniqueSync(collection, field, value, tenantId) as Doc<C> | undefined;
  }

  async write(ops: readonly WriteOp[], conditions: readonly WriteCondition[] = []): Promise<void> {
    // Checked and written with no await in between: one process owns the file, so nothing writes meanwhile.
    checkConditions(conditions, (c) => this.bucket(c.collection, c.tenantId, false)?.has(c.id) ?? false);
    this.checkUnique(ops);
    const put = this.db.prepare(`INSERT OR REPLACE INTO ${sqliteTables.records} (collection, tenant_id, id, data) VALUES (?, ?, ?, ?)`);
    const del = this.db.prepare(`DELETE FROM ${sqliteTables.records} WHERE collection = ? AND tenant_id = ? AND id = ?`);
    const docs = ops.map((op) => (op.op === 'put' ? (structuredClone(op.doc) as unknown as AnyDoc) : undefined));
    this.db.transaction(() => {
      ops.forEach((op, i) => {
        if (op.op === 'put') put.run(op.collection, op.doc.tenantId, op.doc.id, JSON.stringify(docs[i]));
        else {
          del.run(op.collection, op.tenantId, op.id);
          if (op.collection === 'targets') this.deliveries.forgetTarget(op.tenantId, op.id);
        }
      });
    })();
    ops.forEach((op, i) => {
      if (op.op === 'put') {
        this.forget(op.collection, op.doc.tenantId, op.doc.id);
        this.remember(op.collection, docs[i]!);
      } else this.forget(op.collection, op.tenantId, op.id);
    });
  }

  private checkUnique(ops: readonly WriteOp[]): void {
    planUnique(
      ops,
      (c, t, id) => this.bucket(c, t, false)?.get(id),
      (c, f, scope, v) => this.unique.get(uKey(c, f, scope, v)),
    );
  }

  /** Writes what is pending, lets the checkpoint thread copy it and stop, then closes (the last connection removes the WAL). */
  async close(): Promise<void> {
    this.signals.close();
    this.deliveries.close();
    await this.checkpointer?.close();
    this.db.close();
  }
}

function uKey(collection: string, field: string, scope: string, value: string): string {
  return `${collection}|${field}|${scope}|${value}`;
}
