import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock/clock.js';
import { AppError } from '../../shared/errors/errors.js';
import type { MicrosoftConnector } from '../connectors/microsoft/connector.js';
import type { AdminConsent, DirectoryConnectResult } from './admin-consent.js';
import { InvalidGrantError, ProviderError } from './errors.js';
import type { IdTokenClaims } from './oauth-client.js';
import { FLOW_TTL_MS, type OAuthFlows } from './oauth-flows.js';

/** A directory tenant id as Microsoft puts it in `tid`: a GUID. */
const TID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Clock skew allowed on the ID token's `exp` (OpenID Connect Core §3.1.3.7 point 9 allows "a few minutes"). */
const EXP_LEEWAY_MS = 5 * 60_000;
const START_AGAIN = 'start again with POST /v1/calendars/microsoft/admin-consent';
/**
 * Directory role templates (the ID token's `wids`) that may grant tenant-wide consent to Microsoft Graph
 * application permissions: Global Administrator and Privileged Role Administrator. Cloud Application and
 * Application Administrators may not (Microsoft Entra "Grant tenant-wide admin consent", prerequisites).
 */
const CONSENT_ROLES = new Set(['62e90394-69f5-4237-9190-012177145e10', 'e8611ab8-c189-46e8-94e1-60213ab1f814']);

/** The OIDC nonce of a sign-in, derived from its state so that the flow stores nothing more. */
export const adminNonce = (state: string): string => createHash('sha256').update(`admin-consent nonce\0${state}`).digest('base64url');

const unproven = (why: string) =>
  new AppError(400, 'admin_directory_unproven', `Microsoft's answer does not prove which directory the administrator signed in to (${why}), so nothing was stored; ${START_AGAIN}`);

/**
 * Microsoft's error and AADSTS number are what its documentation is searched by; the rest of
 * error_description is not shown (it arrives in the URL, so anyone can write it).
 */
function microsoftSaid(error: string | undefined, description: string | undefined): string {
  const aadsts = /AADSTS\d{4,6}/.exec(description ?? '')?.[0];
  const said = [error && /^[a-z_]{1,40}$/.test(error) ? error : undefined, aadsts].filter(Boolean).join(', ');
  return said ? ` (Microsoft said ${said})` : '';
}

/** One redirect answer from Microsoft, with the browser's flow cookie. */
export interface MicrosoftAnswer {
  state?: string;
  browserNonce?: string;
  error?: string;
  errorDescription?: string;
}

/** Where the browser goes next, the state it carries, and the cookie value that binds that step to it. */
export interface NextStep {
  url: string;
  state: string;
  browserNonce: string;
}

/**
 * Microsoft admin consent in the two steps Microsoft documents. The admin-consent answer's `tenant` is
 * an unsigned query parameter, so it cannot say which directory consented: anyone can rewrite it to
 * name a directory where the app was consented earlier (for another tenant of this service, which let
 * go of it) and read its calendars. So the administrator first signs in (step 1), which proves their
 * directory; then consents (step 2) with a state bound to that directory, and only that directory is
 * accepted. Every step's state is single use and bound to the administrator's browser by a cookie.
 */
export class AdminConsentFlow {
  constructor(
    private readonly deps: { flows: OAuthFlows; consent: AdminConsent; microsoft: MicrosoftConnector | undefined; clock: Clock; log: Logger },
  ) {}

  private connector(): MicrosoftConnector {
    if (!this.deps.microsoft) throw new AppError(404, 'provider_not_configured', 'microsoft is not configured on this service');
    return this.deps.microsoft;
  }

  /** A single-use start link for the tenant: the API caller has a key, the administrator's browser has not. */
  async issue(tenantId: string): Promise<{ ticket: string; expiresAt: number }> {
    const f = await this.deps.flows.start({ tenantId, provider: 'microsoft', kind: 'admin-start', pkce: false, bindBrowser: false });
    return { ticket: f.state, expiresAt: this.deps.clock.now() + FLOW_TTL_MS };
  }

  /** The tenant a start link is for, leaving it unused (a link scanner's GET must not spend it). */
  async tenantOf(ticket: string | undefined): Promise<string> {
    return (await this.deps.flows.pending('microsoft', 'admin-start', ticket)).tenantId;
  }

  /** The administrator's browser spends the start link: step 1, a sign-in with PKCE and a nonce. */
  async begin(ticket: string | undefined): Promise<NextStep> {
    const ms = this.connector();
    const { flow } = await this.deps.flows.finish('microsoft', 'admin-start', ticket, undefined);
    const f = await this.deps.flows.start({ tenantId: flow.tenantId, provider: 'microsoft', kind: 'admin-sign-in', pkce: true, bindBrowser: true });
    return { url: ms.adminSignInUrl({ state: f.state, codeChallenge: f.codeChallenge!, nonce: adminNonce(f.state) }), state: f.state, browserNonce: f.browserNonce! };
  }

  /** Step 1's answer: the code is exchanged for the ID token naming the directory, then step 2 for that directory. */
  async signedIn(a: MicrosoftAnswer & { code?: string }): Promise<NextStep> {
    const ms = this.connector();
    const { flow, verifier } = await this.deps.flows.finish('microsoft', 'admin-sign-in', a.state, a.browserNonce);
    if (a.error) throw new AppError(400, 'admin_sign_in_failed', `the administrator did not sign in${microsoftSaid(a.error, a.errorDescription)}, so no calendar was connected`);
    if (!a.code || a.code.length > 4096) throw new AppError(400, 'missing_code', 'Microsoft sent no authorization code, so no calendar was connected');
    let claims: IdTokenClaims;
    try {
      claims = await ms.adminSignIn({ code: a.code, verifier: verifier! });
    } catch (err) {
      if (err instanceof InvalidGrantError) throw new AppError(400, 'consent_failed', `Microsoft refused the sign-in (${err.code}); ${START_AGAIN}`);
      if (err instanceof ProviderError) throw new AppError(502, 'consent_failed', `Microsoft did not complete the sign-in (${err.code})`);
      throw err;
    }
    const directoryTenant = this.provenDirectory(claims, adminNonce(a.state!));
    const f = await this.deps.flows.start({ tenantId: flow.tenantId, provider: 'microsoft', kind: 'admin', directoryTenant, pkce: false, bindBrowser: true });
    this.deps.log.info({ tenantId: flow.tenantId, directoryTenant }, 'Microsoft administrator signed in for admin consent');
    return { url: ms.adminConsentUrl({ directoryTenant, state: f.state }), state: f.state, browserNonce: f.browserNonce! };
  }

  /**
   * The directory of the ID token from step 1's code exchange. It comes straight from Microsoft's token
   * endpoint over TLS, so its signature is not checked (OpenID Connect Core §3.1.3.7 point 6); its issuer,
   * audience, nonce, expiry and the signed-in person's directory roles are. A multi-tenant app gets tokens from every directory, so the issuer
   * must be the one of `tid` itself, in the configured cloud.
   */
  private provenDirectory(claims: IdTokenClaims, nonce: string): string {
    const ms = this.connector();
    const tid = claims.tid;
    if (typeof tid !== 'string' || !TID.test(tid)) throw unproven('no directory id in the ID token');
    if (claims.iss !== ms.issuerOf(tid)) throw unproven('the ID token was not issued by that directory');
    if (claims.aud !== ms.clientId) throw unproven('the ID token is for another application');
    if (claims.nonce !== nonce) throw unproven('the ID token belongs to another sign-in');
    if (typeof claims.exp !== 'number' || claims.exp * 1000 + EXP_LEEWAY_MS <= this.deps.clock.now()) throw unproven('the ID token has expired');
    // Step 2's answer is unsigned and its state is in the signed-in person's hands, so they can skip
    // Microsoft's consent page and write the answer themselves: the grant then rests on any consent the
    // directory gave this app earlier. Only someone who could consent now may attach the directory.
    const roles = Array.isArray(claims.wids) ? claims.wids : [];
    if (!roles.some((r) => typeof r === 'string' && CONSENT_ROLES.has(r))) {
      throw new AppError(
        403,
        'admin_role_unproven',
        `the account that signed in does not show a role that can grant consent to Microsoft Graph application permissions (Global Administrator or Privileged Role Administrator), so nothing was stored; sign in with such an account (if it is one, the app registration must put directory roles in ID tokens, see the README); ${START_AGAIN}`,
      );
    }
    return tid;
  }

  /** Step 2's answer: the grant is stored only for the directory the state is bound to. */
  async consented(a: MicrosoftAnswer & { adminConsent?: string; tenant?: string }): Promise<{ directoryTenant: string; result: DirectoryConnectResult }> {
    this.connector();
    const { flow } = await this.deps.flows.finish('microsoft', 'admin', a.state, a.browserNonce);
    if (a.error || a.adminConsent?.toLowerCase() !== 'true') {
      throw new AppError(400, 'admin_consent_denied', `the administrator did not grant access${microsoftSaid(a.error, a.errorDescription)}, so no calendar was connected`);
    }
    const directoryTenant = flow.directoryTenant;
    if (!directoryTenant || a.tenant?.toLowerCase() !== directoryTenant) {
      this.deps.log.warn({ tenantId: flow.tenantId, directoryTenant }, 'Microsoft admin consent answer names another directory than the administrator signed in to; refused');
      throw new AppError(400, 'admin_directory_mismatch', `the answer names another directory than the one the administrator signed in to (${directoryTenant ?? 'none'}), so nothing was stored; ${START_AGAIN}`);
    }
    try {
      await this.deps.consent.store(flow.tenantId, directoryTenant);
    } catch (err) {
      if (err instanceof ProviderError) throw new AppError(502, 'consent_failed', `Microsoft did not issue an application token (${err.code})`);
      throw err;
    }
    try {
      return { directoryTenant, result: await this.deps.consent.connectDirectory(flow.tenantId) };
    } catch (err) {
      // The grant is stored and good: only finding the people failed, and that can be done again alone.
      if (err instanceof ProviderError) {
        throw new AppError(502, 'directory_connect_failed', `your organisation is connected, but Microsoft Graph failed while its people were looked up (${err.code}), so they are not connected yet: POST /v1/calendars/microsoft/connect-directory connects them`);
      }
      throw err;
    }
  }
}
