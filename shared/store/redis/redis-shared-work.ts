import { dueMember, parseDueMember, type RedisKeys } from '../keys.js';
import type { DeliveryLedger, DeliveryRecord, DueSet } from '../shared-work.js';
import type { Connection } from './connection.js';
import { CLAIM_DUE, CLAIM_OVERDUE, READDRESS_DELIVERED, RECORD_DELIVERED } from './scripts.js';

export class RedisDueSet implements DueSet {
  private readonly claimScript;
  private readonly overdueScript;

  constructor(
    conn: Connection,
    private readonly keys: RedisKeys,
  ) {
    this.claimScript = conn.script(CLAIM_DUE);
    this.overdueScript = conn.script(CLAIM_OVERDUE);
  }

  async claim(tenantId: string, personId: string, now: number, leaseMs: number): Promise<boolean> {
    return (await this.claimScript([this.keys.due()], [dueMember(tenantId, personId), now, now + leaseMs])) === 1;
  }

  async claimOverdue(dueBefore: number, now: number, leaseMs: number, limit: number) {
    const flat = (await this.overdueScript([this.keys.due()], [dueBefore, now + leaseMs, limit])) as string[];
    const out: Array<{ tenantId: string; personId: string; dueAt: number }> = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ ...parseDueMember(flat[i]!), dueAt: Number(flat[i + 1]) });
    return out;
  }
}

export class RedisDeliveryLedger implements DeliveryLedger {
  private readonly recordScript;
  private readonly readdressScript;

  constructor(
    private readonly conn: Connection,
    private readonly keys: RedisKeys,
  ) {
    this.recordScript = conn.script(RECORD_DELIVERED);
    this.readdressScript = conn.script(READDRESS_DELIVERED);
  }

  async delivered(tenantId: string, targetId: string): Promise<Map<string, DeliveryRecord>> {
    const all = await this.conn.run((r) => r.hgetall(this.keys.delivered(tenantId, targetId)));
    return new Map(Object.entries(all).map(([person, v]) => [person, parseRecord(v)]));
  }

  async record(tenantId: string, targetId: string, personId: string, r: DeliveryRecord): Promise<void> {
    const args = [personId, r.version, r.mark, r.rendering ?? ''];
    await this.recordScript([this.keys.delivered(tenantId, targetId)], r.address === undefined ? args : [...args, r.address]);
  }

  async readdress(tenantId: string, targetId: string, personId: string, address: string | undefined): Promise<void> {
    await this.readdressScript([this.keys.delivered(tenantId, targetId)], address === undefined ? [personId] : [personId, address]);
  }
}

/** `version`, `version|mark|rendering` or `version|mark|rendering|address`; an address may hold `|` itself. */
function parseRecord(v: string): DeliveryRecord {
  const [version, mark, rendering, ...address] = v.split('|');
  if (rendering === undefined) return { version: Number(version), mark: 0 };
  const r: DeliveryRecord = { version: Number(version), mark: Number(mark), rendering };
  if (address.length > 0) r.address = address.join('|');
  return r;
}
