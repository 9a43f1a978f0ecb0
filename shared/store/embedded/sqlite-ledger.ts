import type Database from 'better-sqlite3';
import { sqliteTables } from '../keys.js';
import { isLate, type DeliveryLedger, type DeliveryRecord } from '../shared-work.js';

interface Row {
  tenant_id: string;
  target_id: string;
  person_id: string;
  version: number;
  mark: number;
  rendering: string | null;
  address: string | null;
}

/**
 * How long changes gather before one transaction writes them. A commit costs far more than a row (about
 * 250 µs against 10 on a busy 2-core machine, each PUBLISH's answer often arriving in an event-loop turn
 * of its own), so at 7,000 PUBLISH/s this writes 10 transactions a second instead of 7,000.
 */
export const WRITE_BEHIND_MS = 100;

const targetKey = (tenantId: string, targetId: string) => `${tenantId}\u0000${targetId}`;

/**
 * The delivery ledger in the embedded store's SQLite file, so a restarted process continues what it
 * published (a SIP publication by its SIP-ETag) instead of publishing beside it. Entries are also held in
 * memory, so reads never touch the disk; changes are written behind, those of `WRITE_BEHIND_MS` in one
 * transaction, one row per person however often it changed: a PUBLISH never waits on the disk.
 *
 * What a crash may lose: `kill -9` loses the changes of the last `WRITE_BEHIND_MS` at most (acknowledged
 * and not yet written); a power loss may also lose the last transactions (WAL with `synchronous=NORMAL` syncs at
 * checkpoints, not at every commit). The restarted process then holds an older SIP-ETag: the server
 * answers 412, the person is published afresh, and the publication the lost entry named lapses at its
 * expiry (`expiresSec`), as every publication did after a crash before this ledger. Syncing every commit
 * would cost an fsync per PUBLISH acknowledged to shorten a window that rare.
 */
export class SqliteDeliveryLedger implements DeliveryLedger {
  /** tenant and target → person → entry */
  private readonly entries = new Map<string, Map<string, DeliveryRecord>>();
  /** People whose entry changed since the last write, by tenant and target. */
  private readonly dirty = new Map<string, { tenantId: string; targetId: string; people: Set<string> }>();
  private flushing: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    const table = sqliteTables.delivered;
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${table} (
        tenant_id TEXT NOT NULL, target_id TEXT NOT NULL, person_id TEXT NOT NULL,
        version INTEGER NOT NULL, mark INTEGER NOT NULL, rendering TEXT, address TEXT,
        PRIMARY KEY (tenant_id, target_id, person_id)) WITHOUT ROWID;
    `);
    this.statements = {
      put: db.prepare(`INSERT OR REPLACE INTO ${table} (tenant_id, target_id, person_id, version, mark, rendering, address) VALUES (?, ?, ?, ?, ?, ?, ?)`),
      remove: db.prepare(`DELETE FROM ${table} WHERE tenant_id = ? AND target_id = ? AND person_id = ?`),
      removeTarget: db.prepare(`DELETE FROM ${table} WHERE tenant_id = ? AND target_id = ?`),
    };
    for (const row of db.prepare(`SELECT * FROM ${table}`).all() as Row[]) this.target(row.tenant_id, row.target_id).set(row.person_id, fromRow(row));
  }

  async delivered(tenantId: string, targetId: string): Promise<Map<string, DeliveryRecord>> {
    return new Map(this.entries.get(targetKey(tenantId, targetId)));
  }

  async record(tenantId: string, targetId: string, personId: string, r: DeliveryRecord): Promise<void> {
    const held = this.target(tenantId, targetId);
    if (isLate(held.get(personId), r)) return;
    if (r.rendering === null) held.delete(personId);
    else held.set(personId, { ...r });
    this.changed(tenantId, targetId, personId);
  }

  async readdress(tenantId: string, targetId: string, personId: string, address: string | undefined): Promise<void> {
    const held = this.entries.get(targetKey(tenantId, targetId));
    const r = held?.get(personId);
    if (r?.rendering === undefined || r.rendering === null) return;
    if (address === undefined) held!.delete(personId);
    else held!.set(personId, { ...r, address });
    this.changed(tenantId, targetId, personId);
  }

  /** A deleted target's entries go with it, inside the directory's transaction (as on Redis). */
  forgetTarget(tenantId: string, targetId: string): void {
    const k = targetKey(tenantId, targetId);
    this.entries.delete(k);
    this.dirty.delete(k);
    this.statements.removeTarget.run(tenantId, targetId);
  }

  /** Writes what is pending, before the database closes; what is acknowledged later is not kept. */
  close(): void {
    this.flush();
    this.closed = true;
  }

  private target(tenantId: string, targetId: string): Map<string, DeliveryRecord> {
    const k = targetKey(tenantId, targetId);
    let held = this.entries.get(k);
    if (!held) this.entries.set(k, (held = new Map()));
    return held;
  }

  private changed(tenantId: string, targetId: string, personId: string): void {
    if (this.closed) return;
    const k = targetKey(tenantId, targetId);
    let d = this.dirty.get(k);
    if (!d) this.dirty.set(k, (d = { tenantId, targetId, people: new Set() }));
    d.people.add(personId);
    // Real time, not the service's clock: this paces disk writes, it decides nothing.
    this.flushing ??= setTimeout(() => this.flush(), WRITE_BEHIND_MS).unref();
  }

  private flush(): void {
    clearTimeout(this.flushing);
    this.flushing = undefined;
    if (this.dirty.size === 0 || this.closed) return;
    const { put, remove } = this.statements;
    try {
      this.db.transaction(() => {
        for (const [k, { tenantId, targetId, people }] of this.dirty) {
          const held = this.entries.get(k);
          for (const personId of people) {
            const r = held?.get(personId);
            if (r) put.run(tenantId, targetId, personId, r.version, r.mark, r.rendering ?? null, r.address ?? null);
            else remove.run(tenantId, targetId, personId);
          }
        }
      })();
      this.dirty.clear();
    } catch {
      // Nobody waits on this write (a full disk, a busy file): it is tried again with the next change.
    }
  }
}

function fromRow(row: Row): DeliveryRecord {
  const r: DeliveryRecord = { version: row.version, mark: row.mark };
  if (row.rendering !== null) r.rendering = row.rendering;
  if (row.address !== null) r.address = row.address;
  return r;
}
