import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock/clock.js';
import type { SecretBox } from '../../shared/crypto/secrets.js';
import type { BrokenReason, CalendarAppGrant, CalendarConnection, StoredTokens } from '../../shared/domain/calendar.js';
import type { Store, WriteOp } from '../../shared/store/port.js';
import { WriteRefused } from '../../shared/errors/errors.js';
import { ConnectionUnavailableError, InvalidGrantError, ProviderError } from './errors.js';
import { sleep } from '../../shared/clock/sleep.js';

/** A document that holds sealed tokens: a person's delegated connection or a tenant's app grant. */
export type TokenRef = { collection: 'calendarConnections' | 'calendarAppGrants'; tenantId: string; id: string };
type TokenDoc = CalendarConnection | CalendarAppGrant;

export interface TokenRefresher {
  /** New tokens for this document; throws `InvalidGrantError` when only new consent can help. */
  refresh(doc: TokenDoc, current: StoredTokens | undefined): Promise<StoredTokens>;
}

export interface TokenManagerDeps {
  store: Store;
  secrets: SecretBox;
  clock: Clock;
  log: Logger;
  /** This replica's lease owner id. */
  owner: string;
  refreshAheadMs: number;
  refresher: TokenRefresher;
  /** Called once a grant is found dead; the connection is already marked broken. */
  onBroken: (ref: TokenRef, reason: BrokenReason) => Promise<void>;
}

/** A refresh rarely takes long; a replica that dies mid-refresh frees the connection after this. */
const LEASE_MS = 30_000;
const WAIT_STEP_MS = 250;
const WAIT_STEPS = 160;

function putOp(ref: TokenRef, doc: TokenDoc): WriteOp {
  return ref.collection === 'calendarConnections'
    ? { op: 'put', collection: 'calendarConnections', doc: doc as CalendarConnection }
    : { op: 'put', collection: 'calendarAppGrants', doc: doc as CalendarAppGrant };
}

const key = (r: TokenRef) => `${r.collection}/${r.tenantId}/${r.id}`;

/**
 * Access tokens per connection (Nango's pattern): sealed at rest, refreshed ahead of expiry, one refresh
 * in flight per connection (in process, and across replicas through a store lease, re-reading the
 * document after taking it), the old refresh token kept when the provider sends none, and
 * `invalid_grant` turning the connection broken.
 */
export class TokenManager {
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(private readonly deps: TokenManagerDeps) {}

  seal(tokens: StoredTokens): string {
    return this.deps.secrets.seal(JSON.stringify(tokens));
  }

  open(doc: TokenDoc): StoredTokens | undefined {
    return doc.sealedTokens ? (JSON.parse(this.deps.secrets.open(doc.sealedTokens)) as StoredTokens) : undefined;
  }

  private async read(ref: TokenRef): Promise<TokenDoc> {
    const doc = await this.deps.store.directory.get(ref.collection, ref.tenantId, ref.id);
    if (!doc) throw new ConnectionUnavailableError(ref.id, 'gone');
    if (doc.status === 'broken') throw new ConnectionUnavailableError(ref.id, 'broken');
    return doc;
  }

  private fresh(t: StoredTokens | undefined): boolean {
    return t !== undefined && t.expiresAt - this.deps.refreshAheadMs > this.deps.clock.now();
  }

  /** A valid access token, refreshed first when it expires within `refreshAheadMs`. */
  async accessToken(ref: TokenRef): Promise<string> {
    const tokens = this.open(await this.read(ref));
    if (tokens && this.fresh(tokens)) return tokens.accessToken;
    return this.refreshOnce(ref, tokens?.accessToken);
  }

  /** The provider refused `rejected` (401): refresh, unless another caller already replaced it. */
  async afterRejection(ref: TokenRef, rejected: string): Promise<string> {
    const tokens = this.open(await this.read(ref));
    if (tokens && tokens.accessToken !== rejected && this.fresh(tokens)) return tokens.accessToken;
    return this.refreshOnce(ref, rejected);
  }

  /** What a provider client asks for to act with the tokens of `ref`. */
  access(ref: TokenRef): { token(): Promise<string>; rejected(token: string): Promise<string> } {
    return { token: () => this.accessToken(ref), rejected: (t) => this.afterRejection(ref, t) };
  }

  private refreshOnce(ref: TokenRef, stale: string | undefined): Promise<string> {
    const k = key(ref);
    let p = this.inFlight.get(k);
    if (!p) {
      p = this.refreshUnderLease(ref, stale).finally(() => this.inFlight.delete(k));
      this.inFlight.set(k, p);
    }
    return p;
  }

  private async refreshUnderLease(ref: TokenRef, stale: string | undefined): Promise<string> {
    const { store, clock, owner } = this.deps;
    const lease = `oauth-refresh:${key(ref)}`;
    for (let step = 1; ; step++) {
      if (await store.leases.acquire(lease, owner, LEASE_MS, clock.now())) {
        try {
          // Another replica may have refreshed while we waited for the lease: re-read first.
          const doc = await this.read(ref);
          const current = this.open(doc);
          if (current && this.fresh(current) && current.accessToken !== stale) return current.accessToken;
          return await this.refreshNow(ref, doc, current);
        } finally {
          await store.leases.release(lease, owner);
        }
      }
      await sleep(clock, WAIT_STEP_MS);
      const doc = await this.read(ref);
      const current = this.open(doc);
      if (current && this.fresh(current) && current.accessToken !== stale) return current.accessToken;
      // The job that needed the token is retried later.
      if (step >= WAIT_STEPS) throw new ProviderError(doc.provider, 0, 'refresh_busy', 'another replica holds the refresh lease', true);
    }
  }

  private async refreshNow(ref: TokenRef, doc: TokenDoc, current: StoredTokens | undefined): Promise<string> {
    const { clock, log, refresher } = this.deps;
    let next: StoredTokens;
    try {
      next = await refresher.refresh(doc, current);
    } catch (err) {
      if (err instanceof InvalidGrantError) {
        await this.markBroken(ref, err.code === 'invalid_grant' ? 'invalid_grant' : 'consent_revoked');
        throw new ConnectionUnavailableError(ref.id, 'broken');
      }
      throw err;
    }
    // Rotation: a new refresh token replaces the old one; none sent keeps the old (protocols §1.8, §2.1).
    if (next.refreshToken === undefined && current?.refreshToken !== undefined) next = { ...next, refreshToken: current.refreshToken };
    const latest = await this.read(ref);
    if (!(await this.rewrite(ref, { ...latest, sealedTokens: this.seal(next), updatedAt: clock.now() }))) throw new ConnectionUnavailableError(ref.id, 'gone');
    log.debug({ tenantId: ref.tenantId, connection: ref.id, expiresAt: new Date(next.expiresAt).toISOString() }, 'access token refreshed');
    return next.accessToken;
  }

  /**
   * Stores the document again while it exists; false when it is gone (disconnected, its person or tenant
   * deleted) since it was read: it does not come back.
   */
  private rewrite(ref: TokenRef, doc: TokenDoc): Promise<boolean> {
    return this.deps.store.directory.write([putOp(ref, doc)], [{ ...ref, exists: true }]).then(
      () => true,
      (err: unknown) => (err instanceof WriteRefused ? false : Promise.reject(err)),
    );
  }

  /** Marks the grant broken and forgets its tokens; the person or admin is asked to consent again. */
  async markBroken(ref: TokenRef, reason: BrokenReason): Promise<void> {
    const { store, clock, log } = this.deps;
    const doc = await store.directory.get(ref.collection, ref.tenantId, ref.id);
    if (!doc) return;
    const { sealedTokens: _t, ...rest } = doc;
    const now = clock.now();
    if (!(await this.rewrite(ref, { ...rest, status: 'broken', brokenReason: reason, brokenAt: now, updatedAt: now }))) return;
    log.warn({ tenantId: ref.tenantId, connection: ref.id, reason }, 'calendar grant broken: consent needed');
    await this.deps.onBroken(ref, reason);
  }
}
