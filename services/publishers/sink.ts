import type { Person } from '../../shared/domain/directory.js';
import type { Presence } from '../../shared/domain/presence.js';

/** One state to deliver to one target; `presence` absent means the person was removed. */
export interface Delivery {
  tenantId: string;
  personId: string;
  person?: Person;
  presence?: Presence;
  /** Grows per person; receivers drop anything older than what they have. */
  version: number;
  /**
   * Set (to when it happened) when this repeats a state the target may have, because the person's
   * directory record changed how it reads (marked sensitive, renamed): same version, new rendering.
   */
  rerender?: number;
  /** A removal because the target no longer covers the person (they left its teams), not because they were deleted. */
  outOfScope?: true;
}

/**
 * What every publisher (webhook, Asterisk ARI, SIP PUBLISH) implements. `deliver` resolves when the
 * target acknowledged the state, or throws a `DeliveryError` saying whether a retry can help.
 */
export interface Sink {
  deliver(d: Delivery): Promise<void>;
  /** Target-specific status for the admin endpoint. */
  details?(): unknown;
  close(): Promise<void>;
}
