import type Database from 'better-sqlite3';
import type { Signal } from '../../domain/signal.js';
import { sqliteTables } from '../keys.js';
import { WRITE_BEHIND_MS } from './sqlite-ledger.js';

const personKey = (tenantId: string, personId: string) => `${tenantId}\u0000${personId}`;

/**
 * Rows per transaction. A PBX restart re-registers every phone at once: one transaction for 10,000 rows
 * would hold the event loop for a few hundred ms (each row a JSON string and an insert, 5–20 µs here);
 * in chunks, with a turn of the event loop between them, transitions and requests go on meanwhile.
 */
const ROWS_PER_WRITE = 500;

/**
 * The signals each person keeps across a restart (see `kept-signals.ts`), one row per person. `now`
 * commits before it returns; `behind` gathers the changes of `WRITE_BEHIND_MS` into one transaction, one
 * row per person however often it changed.
 */
export class SqliteSignals {
  private readonly pending = new Map<string, { tenantId: string; personId: string; signals: readonly Signal[] }>();
  private flushing: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${sqliteTables.signals} (
        tenant_id TEXT NOT NULL, person_id TEXT NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (tenant_id, person_id)) WITHOUT ROWID;
    `);
    // Prepared once: these run on the ingest path, and preparing costs as much as running.
    this.statements = {
      put: db.prepare(`INSERT OR REPLACE INTO ${sqliteTables.signals} (tenant_id, person_id, data) VALUES (?, ?, ?)`),
      remove: db.prepare(`DELETE FROM ${sqliteTables.signals} WHERE tenant_id = ? AND person_id = ?`),
    };
  }

  load(): Array<{ tenantId: string; personId: string; signals: Signal[] }> {
    const rows = this.db.prepare(`SELECT tenant_id, person_id, data FROM ${sqliteTables.signals}`).all() as Array<{ tenant_id: string; person_id: string; data: string }>;
    return rows.map((r) => ({ tenantId: r.tenant_id, personId: r.person_id, signals: JSON.parse(r.data) as Signal[] }));
  }

  /** Commits the person's kept signals before returning (and so supersedes a write pending behind). */
  now(tenantId: string, personId: string, signals: readonly Signal[]): void {
    this.pending.delete(personKey(tenantId, personId));
    this.write(tenantId, personId, signals);
  }

  behind(tenantId: string, personId: string, signals: readonly Signal[]): void {
    if (this.closed) return;
    this.pending.set(personKey(tenantId, personId), { tenantId, personId, signals });
    // Real time, not the service's clock: this paces disk writes, it decides nothing.
    this.flushing ??= setTimeout(() => this.flush(), WRITE_BEHIND_MS).unref();
  }

  /** Writes what is pending, before the database closes. */
  close(): void {
    while (this.pending.size > 0 && this.flush());
    this.closed = true;
  }

  private write(tenantId: string, personId: string, signals: readonly Signal[]): void {
    if (signals.length === 0) this.statements.remove.run(tenantId, personId);
    else this.statements.put.run(tenantId, personId, JSON.stringify(signals));
  }

  /** Writes up to `ROWS_PER_WRITE` pending rows, and arranges for the rest; false when the write failed. */
  private flush(): boolean {
    clearTimeout(this.flushing);
    this.flushing = undefined;
    if (this.pending.size === 0 || this.closed) return true;
    const rows = [...take(this.pending.keys(), ROWS_PER_WRITE)];
    try {
      this.db.transaction(() => {
        for (const k of rows) {
          const { tenantId, personId, signals } = this.pending.get(k)!;
          this.write(tenantId, personId, signals);
        }
      })();
    } catch {
      // Nobody waits on this write (a full disk, a busy file): it is tried again with the next change.
      return false;
    }
    for (const k of rows) this.pending.delete(k);
    if (this.pending.size > 0) this.flushing = setTimeout(() => this.flush(), 0).unref();
    return true;
  }
}

function* take<T>(items: Iterable<T>, n: number): Generator<T> {
  if (n <= 0) return;
  for (const item of items) {
    yield item;
    if (--n === 0) return;
  }
}
