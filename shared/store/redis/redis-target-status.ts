import type { RedisKeys } from '../keys.js';
import { parseReport, serialiseReport, type TargetStatusReport, type TargetStatusStore } from '../target-status.js';
import type { Connection } from './connection.js';
import { WITHDRAW_REPORT } from './scripts.js';

/**
 * Reports as `{ r: replica, d: JSON }` hashes. The instant inside `d` decides freshness; the key's own
 * expiry (on Redis's clock) only collects what a dead owner left.
 */
export class RedisTargetStatus implements TargetStatusStore {
  private readonly withdrawScript;

  constructor(
    private readonly conn: Connection,
    private readonly keys: RedisKeys,
  ) {
    this.withdrawScript = conn.script(WITHDRAW_REPORT);
  }

  async report(tenantId: string, targetId: string, report: TargetStatusReport, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0)) throw new RangeError('a status report needs a positive ttlMs');
    const k = this.keys.targetStatus(tenantId, targetId);
    await this.conn.run((r) => r.multi().hset(k, 'r', report.replica, 'd', serialiseReport(report, ttlMs)).pexpire(k, Math.ceil(ttlMs)).exec());
  }

  async read(tenantId: string, targetId: string, now: number): Promise<TargetStatusReport | undefined> {
    return parseReport(await this.conn.run((r) => r.hget(this.keys.targetStatus(tenantId, targetId), 'd')), now);
  }

  async withdraw(tenantId: string, targetId: string, replica: string): Promise<void> {
    await this.withdrawScript([this.keys.targetStatus(tenantId, targetId)], [replica]);
  }
}
