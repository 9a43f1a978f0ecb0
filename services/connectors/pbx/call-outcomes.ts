import type { Logger } from 'pino';

/** A call answered or ended on one of a person's devices, as the PBX reported it. */
export interface CallOutcome {
  tenantId: string;
  personId: string;
  endpointId: string;
  type: 'answered' | 'hangup';
  /** The PBX's own timestamp. */
  at: number;
  callId?: string;
  /** The queue or group the call came from, as the PBX names it. */
  queue?: string;
  /** The wrap-up the PBX gave this call's end itself (`hangup` only), over the group's. */
  wrapUpSeconds?: number;
}

/** Something that follows calls beyond presence (routing strategy state). */
export interface CallOutcomeListener {
  /** Wrap-up seconds after a call from `queue` when the event does not say; undefined leaves the tenant's default. */
  wrapUpSeconds?(tenantId: string, queue: string): Promise<number | undefined>;
  callOutcome(outcome: CallOutcome): Promise<void>;
}

/**
 * The hook through which PBX call events reach listeners, after the events have been applied to
 * presence. A listener that fails is logged and does not fail the PBX batch: presence is already stored.
 */
export class CallOutcomes {
  private readonly listeners: CallOutcomeListener[] = [];

  constructor(private readonly log: Logger) {}

  add(listener: CallOutcomeListener): void {
    this.listeners.push(listener);
  }

  async wrapUpSeconds(tenantId: string, queue: string): Promise<number | undefined> {
    for (const l of this.listeners) {
      const s = await l.wrapUpSeconds?.(tenantId, queue);
      if (s !== undefined) return s;
    }
    return undefined;
  }

  async emit(outcomes: readonly CallOutcome[]): Promise<void> {
    for (const o of outcomes) {
      for (const l of this.listeners) {
        try {
          await l.callOutcome(o);
        } catch (err) {
          this.log.error({ err, tenantId: o.tenantId, personId: o.personId }, 'call outcome listener failed');
        }
      }
    }
  }
}
