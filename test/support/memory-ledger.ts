import { isLate, type DeliveryLedger, type DeliveryRecord } from '../../shared/store/shared-work.js';

/** The delivery ledger's rules in memory, for one target (the Redis one is tested in test/store/redis-store.test.ts). */
export class MemoryLedger implements DeliveryLedger {
  readonly entries = new Map<string, DeliveryRecord>();

  async delivered(): Promise<Map<string, DeliveryRecord>> {
    return new Map(this.entries);
  }

  async record(_t: string, _target: string, personId: string, r: DeliveryRecord): Promise<void> {
    if (isLate(this.entries.get(personId), r)) return;
    if (r.rendering === null) this.entries.delete(personId);
    else this.entries.set(personId, r);
  }

  async readdress(_t: string, _target: string, personId: string, address: string | undefined): Promise<void> {
    const old = this.entries.get(personId);
    if (old?.rendering === undefined || old.rendering === null) return;
    if (address === undefined) this.entries.delete(personId);
    else this.entries.set(personId, { ...old, address });
  }
}
