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

/**
 * The last version of each person a publish target acknowledged, so a replica taking a target over
 * sends only what its previous owner had not delivered.
 */
export interface DeliveryLedger {
  delivered(tenantId: string, targetId: string): Promise<Map<string, number>>;
  record(tenantId: string, targetId: string, personId: string, version: number): Promise<void>;
}
