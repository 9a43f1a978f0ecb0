import { randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock/clock.js';
import { hashToken, safeEqual, type SecretBox } from '../../shared/crypto/secrets.js';
import type { CalendarProvider, OAuthFlow } from '../../shared/domain/calendar.js';
import { AppError, WrongCredentials } from '../../shared/errors/errors.js';
import type { Store, WriteOp } from '../../shared/store/port.js';
import { newPkce } from './oauth-client.js';

/** A consent must finish within this long. */
export const FLOW_TTL_MS = 15 * 60_000;
/**
 * The browser binding: the callback must come from the browser that started the flow. One cookie per
 * flow, named after its state, so that consents started in two tabs do not overwrite each other's.
 */
export const flowCookie = (state: string): string => `ph_oauth_${hashToken(state).slice(0, 16)}`;

export interface StartedFlow {
  state: string;
  codeChallenge?: string;
  /** The nonce for the browser cookie (person flows). */
  browserNonce?: string;
}

export interface FinishedFlow {
  flow: OAuthFlow;
  verifier?: string;
}

/** Where to start again: a person from their connect link; an administrator has none, and asks the API for a new URL. */
const startAgain = (kind: OAuthFlow['kind']) => (kind === 'person' ? 'start again from your connect link' : 'start again with POST /v1/calendars/microsoft/admin-consent');

/** A state (or start link) that names no flow of this browser: a guess as far as anyone can tell, so counted like one. */
export const stateMismatch = (kind: OAuthFlow['kind']) =>
  new WrongCredentials('oauth_state_mismatch', `this sign-in answer does not belong to a consent started here (state mismatch); ${startAgain(kind)}`, 400);

const expired = (kind: OAuthFlow['kind']) => new AppError(400, 'oauth_flow_expired', `this consent took too long; ${startAgain(kind)}`);

/**
 * Consents in progress, durable so that any replica can take the callback: `state` is random and only
 * its hash is stored, the PKCE verifier is sealed, and each flow can be finished once.
 */
export class OAuthFlows {
  constructor(
    private readonly store: Store,
    private readonly secrets: SecretBox,
    private readonly clock: Clock,
    private readonly newId: () => string,
  ) {}

  async start(p: { tenantId: string; provider: CalendarProvider; kind: OAuthFlow['kind']; personId?: string; linkExpiresAt?: number; directoryTenant?: string; pkce: boolean; bindBrowser: boolean }): Promise<StartedFlow> {
    const now = this.clock.now();
    const state = randomBytes(24).toString('base64url');
    const browserNonce = p.bindBrowser ? randomBytes(24).toString('base64url') : undefined;
    const pkce = p.pkce ? newPkce() : undefined;
    const flow: OAuthFlow = {
      id: this.newId(),
      tenantId: p.tenantId,
      provider: p.provider,
      kind: p.kind,
      stateHash: hashToken(state),
      browserHash: browserNonce ? hashToken(browserNonce) : '',
      expiresAt: now + FLOW_TTL_MS,
    };
    if (p.personId) flow.personId = p.personId;
    if (p.linkExpiresAt !== undefined) flow.linkExpiresAt = p.linkExpiresAt;
    if (p.directoryTenant !== undefined) flow.directoryTenant = p.directoryTenant;
    if (pkce) flow.sealedVerifier = this.secrets.seal(pkce.verifier);
    const stale = (await this.store.directory.list('oauthFlows', p.tenantId)).filter((f) => f.expiresAt <= now);
    await this.store.directory.write([
      ...stale.map((f) => ({ op: 'delete', collection: 'oauthFlows', tenantId: f.tenantId, id: f.id }) as WriteOp),
      { op: 'put', collection: 'oauthFlows', doc: flow },
    ]);
    const out: StartedFlow = { state };
    if (pkce) out.codeChallenge = pkce.challenge;
    if (browserNonce) out.browserNonce = browserNonce;
    return out;
  }

  /**
   * Finds and consumes the flow for `state`. A missing, expired, wrong-provider or wrong-browser flow is a
   * state mismatch; nothing is written except the consumed flow's deletion, and of several finishes
   * at once only one gets the flow.
   */
  async finish(provider: CalendarProvider, kind: OAuthFlow['kind'], state: string | undefined, browserNonce: string | undefined): Promise<FinishedFlow> {
    const flow = await this.find(provider, kind, state, browserNonce);
    // Reading the flow and deleting it are separate round trips on a shared store: the same answer sent
    // twice at once (a double submit, a replay racing the real one) would be taken twice without this claim.
    if (!(await this.store.replay.firstSeen(`oauth-flow:${flow.stateHash}`, this.clock.now(), FLOW_TTL_MS))) throw stateMismatch(kind);
    await this.store.directory.write([{ op: 'delete', collection: 'oauthFlows', tenantId: flow.tenantId, id: flow.id }]);
    if (flow.expiresAt <= this.clock.now()) throw expired(kind);
    const out: FinishedFlow = { flow };
    if (flow.sealedVerifier) out.verifier = this.secrets.open(flow.sealedVerifier);
    return out;
  }

  /** The flow for `state`, left in place (for a page that only shows what its button starts); the same refusals as `finish`. */
  async pending(provider: CalendarProvider, kind: OAuthFlow['kind'], state: string | undefined): Promise<OAuthFlow> {
    const flow = await this.find(provider, kind, state, undefined);
    if (flow.expiresAt <= this.clock.now()) throw expired(kind);
    return flow;
  }

  private async find(provider: CalendarProvider, kind: OAuthFlow['kind'], state: string | undefined, browserNonce: string | undefined): Promise<OAuthFlow> {
    if (!state || state.length > 200) throw stateMismatch(kind);
    const flow = await this.store.directory.findUnique('oauthFlows', 'stateHash', hashToken(state));
    if (!flow || flow.provider !== provider || flow.kind !== kind) throw stateMismatch(kind);
    if (flow.browserHash !== '' && !(browserNonce !== undefined && safeEqual(hashToken(browserNonce), flow.browserHash))) throw stateMismatch(kind);
    return flow;
  }

  /** The tenant is gone: so are its consents in progress. */
  async forgetTenant(tenantId: string): Promise<void> {
    const flows = await this.store.directory.list('oauthFlows', tenantId);
    if (flows.length > 0) await this.store.directory.write(flows.map((f) => ({ op: 'delete', collection: 'oauthFlows', tenantId, id: f.id }) as WriteOp));
  }
}
