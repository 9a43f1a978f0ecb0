import type { Target } from '../../shared/domain/target.js';
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
 * How a subscription that reads phone state back from a target stands: `watching` (active), `pending`
 * (the target has not authorised it yet, RFC 6665 §4.1.2.1), `failing` (refused or unanswered, being
 * retried), `refused` (ended for good: rejected, no such resource).
 */
export type WatchHealth = 'watching' | 'pending' | 'failing' | 'refused';

/** What a publisher reports between deliveries; the pipeline keeps the ledger with it. */
export interface SinkHooks {
  /**
   * The target now holds the person at another address without a delivery (a SIP refresh got a new entity-tag, RFC
   * 3903 §4.1); `undefined`: nothing of them any more (the last SIP removal left under way was taken).
   */
  readdressed(personId: string, address: string | undefined): void;
}

/**
 * What every publisher (webhook, Asterisk ARI, SIP PUBLISH) implements. `deliver` resolves when the
 * target acknowledged the state, with `'unchanged'` when nothing had to be asked of it (it holds what the
 * state reads as: a failing target's health is not told by that), or throws a `DeliveryError` saying
 * whether a retry can help.
 */
export interface Sink {
  deliver(d: Delivery): Promise<void | 'unchanged'>;
  /** Target-specific status for the admin endpoint. */
  details?(): unknown;
  /**
   * The target already holds a state of this person (a previous owner delivered it, the ledger says), at
   * `address` if the ledger recorded one, else as rendered from `person` (absent: deleted since): what a
   * publisher must undo later (a device to reset) or keep up (a SIP publication to refresh) is known
   * without sending again. `presence`: the state the target holds, when it is the current one.
   */
  adopt?(personId: string, person: Person | undefined, address?: string, presence?: Presence): void;
  /**
   * Where the target now holds the person after this acknowledged delivery (an Asterisk device name, a SIP
   * publication and its entity-tag), kept in the ledger for `adopt`. After a removal, what the target still holds
   * while the publisher goes on removing it by itself (a SIP publication at a server the target moved away from),
   * else undefined.
   */
  addressOf?(d: Delivery): string | undefined;
  /**
   * Whether what the ledger recorded (at `address`, absent in records written before addresses were kept)
   * can no longer be kept up on the target: a SIP publication past its expiry, or one whose SIP-ETag is unknown.
   * What was left under way at `address` is still adopted then.
   */
  lapsed?(address: string | undefined): boolean;
  /**
   * Before a graceful handover, once no delivery is under way: resolves when the publisher's own requests
   * (SIP refreshes) have been answered, so what it reports of them reaches the ledger.
   */
  drain?(): Promise<void>;
  /**
   * The target is failing (`true`): nothing the publisher would send of its own accord (SIP refreshes, its
   * own retries) goes out, only deliveries, which the runner lets through one at a time (its probe);
   * `false`: the target answers again, and what fell due meanwhile goes out.
   */
  hold?(held: boolean): void;
  /** Subscriptions the publisher holds on the target to read state back (SIP dialog package), by health. */
  watchHealth?(): Partial<Record<WatchHealth, number>>;
  /**
   * Stops publishing. `next` is the target as it stands from now on (absent: deleted), so a publisher can
   * undo what nobody will keep up any more; a replica handing the target over passes it unchanged.
   * `withdraw`: no record of what it published survives it (no shared ledger), so nobody can continue
   * that: it takes it off the target rather than leave it beside what the next publisher sends.
   */
  close(next?: Target, withdraw?: boolean): Promise<void>;
}
