import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Signal } from '../../shared/domain/signal.js';
import { SqliteSignals } from '../../shared/store/embedded/sqlite-signals.js';
import { WRITE_BEHIND_MS } from '../../shared/store/embedded/sqlite-ledger.js';

const registered = (i: number): Signal[] => [
  { id: `pbx:reg:d${i}`, source: 'pbx', observedAt: 1, claim: { kind: 'endpoint', endpoint: { id: `d${i}`, kind: 'desk' }, reachable: true } },
];

describe('kept signals written behind', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-signals-'));
  const dbs: Database.Database[] = [];
  const open = () => {
    const db = new Database(join(dir, 'signals.sqlite'));
    dbs.push(db);
    return new SqliteSignals(db);
  };
  afterEach(() => {
    for (const db of dbs.splice(0)) db.close();
    rmSync(join(dir, 'signals.sqlite'), { force: true });
  });

  it('a burst (a PBX re-registering every phone) is written in chunks of 500 rows, one transaction each, and all of it arrives', async () => {
    const db = new Database(join(dir, 'signals.sqlite'));
    dbs.push(db);
    const transaction = db.transaction.bind(db);
    let transactions = 0;
    db.transaction = ((fn: Parameters<typeof transaction>[0]) => {
      transactions++;
      return transaction(fn);
    }) as typeof db.transaction;
    const signals = new SqliteSignals(db);
    for (let i = 0; i < 1_200; i++) signals.behind('acme', `p${i}`, registered(i));
    await sleep(WRITE_BEHIND_MS * 4);
    expect(transactions).toBe(3);
    expect(open().load()).toHaveLength(1_200);
  });

  it('closing writes every pending row, however many', () => {
    const signals = open();
    for (let i = 0; i < 1_200; i++) signals.behind('acme', `p${i}`, registered(i));
    signals.behind('acme', 'p7', []);
    signals.close();
    const rows = open().load();
    expect(rows).toHaveLength(1_199);
    expect(rows.find((r) => r.personId === 'p7')).toBeUndefined();
  });
});
