import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { CalendarProvider, StoredTokens } from '../../shared/domain/calendar.js';
import { InvalidGrantError, ProviderError, RateLimitedError } from './errors.js';
import { retryAfterMs } from './retry.js';

/** One OAuth 2.0 client registration at one provider (authorization code + PKCE, refresh, client credentials). */
export interface OAuthEndpoints {
  provider: CalendarProvider;
  authorizeUrl: string;
  tokenUrl: string;
  revokeUrl?: string;
  clientId: string;
  clientSecret: string;
}

export interface Pkce {
  verifier: string;
  challenge: string;
}

/** RFC 7636 S256: a 43-character verifier from 32 random bytes. */
export function newPkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(e: OAuthEndpoints, p: { redirectUri: string; scope: string; state: string; codeChallenge: string; extra?: Record<string, string> }): string {
  const url = new URL(e.authorizeUrl);
  const q = url.searchParams;
  q.set('client_id', e.clientId);
  q.set('response_type', 'code');
  q.set('redirect_uri', p.redirectUri);
  q.set('scope', p.scope);
  q.set('state', p.state);
  q.set('code_challenge', p.codeChallenge);
  q.set('code_challenge_method', 'S256');
  for (const [k, v] of Object.entries(p.extra ?? {})) q.set(k, v);
  return url.toString();
}

const tokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  expires_in: z.coerce.number().positive().optional(),
  scope: z.string().optional(),
  id_token: z.string().optional(),
});
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

export type IdTokenClaims = Record<string, unknown>;

/**
 * The claims of an ID token received straight from the provider's token endpoint over TLS in the code
 * exchange: OpenID Connect Core §3.1.3.7 point 6 lets the client use the TLS server validation instead of
 * checking the token's signature. Anything unreadable gives no claims.
 */
export function idTokenClaims(idToken: string | undefined): IdTokenClaims {
  const payload = idToken?.split('.')[1];
  if (!payload) return {};
  try {
    const c: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return c !== null && typeof c === 'object' && !Array.isArray(c) ? (c as IdTokenClaims) : {};
  } catch {
    return {};
  }
}

const errorResponseSchema = z.looseObject({ error: z.string(), error_description: z.string().optional() });

/**
 * Token-endpoint errors that only new consent can fix: the refresh token is dead or revoked
 * (`invalid_grant`), or the app was removed from the directory (`unauthorized_client`). `invalid_client`
 * is our own configuration (a wrong secret), not the person's grant.
 */
const PERMANENT = new Set(['invalid_grant', 'unauthorized_client', 'consent_required', 'interaction_required']);

/** Turns a token answer into what we store; without `expires_in` we assume an hour, which both providers use. */
export function toStoredTokens(t: TokenResponse, now: number, previous?: StoredTokens): StoredTokens {
  const out: StoredTokens = { accessToken: t.access_token, expiresAt: now + (t.expires_in ?? 3600) * 1000 };
  // Google sends a refresh token only on first consent and Microsoft may omit it: keep the old one.
  const refresh = t.refresh_token ?? previous?.refreshToken;
  if (refresh !== undefined) out.refreshToken = refresh;
  return out;
}

export class OAuthClient {
  constructor(
    private readonly timeoutMs: number,
    private readonly now: () => number,
  ) {}

  private async post(e: OAuthEndpoints, url: string, form: Record<string, string>): Promise<Response> {
    try {
      return await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body: new URLSearchParams(form).toString(),
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      throw new ProviderError(e.provider, 0, 'network_error', `token endpoint unreachable: ${(err as Error).message}`, true);
    }
  }

  private async token(e: OAuthEndpoints, form: Record<string, string>, tokenUrl = e.tokenUrl): Promise<TokenResponse> {
    const res = await this.post(e, tokenUrl, { client_id: e.clientId, client_secret: e.clientSecret, ...form });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.ok) {
      const ok = tokenResponseSchema.safeParse(json);
      if (!ok.success) throw new ProviderError(e.provider, res.status, 'invalid_token_response', 'the token endpoint answered without an access token', true);
      return ok.data;
    }
    if (res.status === 429 || res.status >= 500) {
      const wait = retryAfterMs(res.headers.get('retry-after'), this.now());
      if (res.status === 429 || wait !== undefined) throw new RateLimitedError(e.provider, res.status, 'token_endpoint_busy', wait ?? 30_000, wait !== undefined);
      throw new ProviderError(e.provider, res.status, 'token_endpoint_error', `token endpoint answered ${res.status}`, true);
    }
    const err = errorResponseSchema.safeParse(json);
    const code = err.success ? err.data.error : `http_${res.status}`;
    // error_description can quote request details; keep only its first line, never tokens.
    const description = err.success ? (err.data.error_description ?? '').split(/\r?\n/)[0]!.slice(0, 200) : '';
    if (PERMANENT.has(code)) throw new InvalidGrantError(e.provider, code, `${code}: ${description}`);
    throw new ProviderError(e.provider, res.status, code, `token endpoint refused: ${code} ${description}`.trim(), false);
  }

  exchangeCode(e: OAuthEndpoints, p: { code: string; verifier: string; redirectUri: string; scope?: string }): Promise<TokenResponse> {
    const form: Record<string, string> = { grant_type: 'authorization_code', code: p.code, code_verifier: p.verifier, redirect_uri: p.redirectUri };
    if (p.scope) form.scope = p.scope;
    return this.token(e, form);
  }

  refresh(e: OAuthEndpoints, refreshToken: string, scope?: string): Promise<TokenResponse> {
    const form: Record<string, string> = { grant_type: 'refresh_token', refresh_token: refreshToken };
    if (scope) form.scope = scope;
    return this.token(e, form);
  }

  clientCredentials(e: OAuthEndpoints, tokenUrl: string, scope: string): Promise<TokenResponse> {
    return this.token(e, { grant_type: 'client_credentials', scope }, tokenUrl);
  }

  /** RFC 7009 revocation; a token already dead counts as revoked. */
  async revoke(e: OAuthEndpoints, token: string): Promise<void> {
    if (!e.revokeUrl) return;
    const res = await this.post(e, e.revokeUrl, { token });
    await res.arrayBuffer();
    if (res.ok || res.status === 400) return;
    throw new ProviderError(e.provider, res.status, 'revoke_failed', `revocation answered ${res.status}`, res.status >= 500);
  }
}
