/**
 * Transitions due across replicas. Each state write records the person's next transition instant
 * (`Presence.wakeAt`); a replica claims a due person before re-evaluating it, so each transition fires
 * once. A claim is a short lease: if the claimer dies before its re-evaluation is written, the person is
 * due again when the claim runs out.
 */
export interface DueSet {
  /** Claims one person if their transition is due at `now`; false when someone else claimed it or it moved. */
  claim(tenantId: string, personId: string, now: number, leaseMs: number): Promise<boolean>;
  /** Claims up to `limit` people whose transition was due at `dueBefore` (work a dead replica left). */
  claimOverdue(dueBefore: number, now: number, leaseMs: number, limit: number): Promise<Array<{ tenantId: string; personId: string; dueAt: number }>>;
}

/** What a publish target last acknowledged of one person. */
export interface DeliveryRecord {
  version: number;
  /** Orders re-renderings of one version (`Delivery.rerender`); 0 for a state change. */
  mark: number;
  /**
   * A fingerprint of the directory record the state was rendered with, so a new owner re-renders what
   * changed since; `null` when the target holds nothing of the person (withdrawn or removed: a ledger may
   * then forget them); absent in records written before fingerprints were kept.
   */
  rendering?: string | null;
  /**
   * Where the target holds the person in the publisher's terms (an Asterisk device name), so a new owner
   * can undo it after an edit made while nobody published the target; absent when the publisher has none.
   */
  address?: string;
}

/**
 * What each publish target acknowledged of each person, so a replica taking a target over sends only
 * what its previous owner had not delivered: newer states, re-renderings, withdrawals and removals.
 */
export interface DeliveryLedger {
  delivered(tenantId: string, targetId: string): Promise<Map<string, DeliveryRecord>>;
  /** A late acknowledgement (lower version, or the same version and a lower mark) never replaces a later one. */
  record(tenantId: string, targetId: string, personId: string, r: DeliveryRecord): Promise<void>;
  /**
   * The target now holds the person at `address` without a new delivery (a SIP publication refreshed under
   * a new entity-tag): only the entry's address changes; without an entry, nothing does. `undefined`: it holds
   * nothing of them any more (a SIP removal left under way was taken): the entry goes, as for a removal.
   */
  readdress(tenantId: string, targetId: string, personId: string, address: string | undefined): Promise<void>;
}

/** Whether `r` was acknowledged late: `held` is of a later version, or a later re-rendering of the same one. */
export function isLate(held: DeliveryRecord | undefined, r: DeliveryRecord): boolean {
  return !!held && (held.version > r.version || (held.version === r.version && held.mark >= r.mark));
}
