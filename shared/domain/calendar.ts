import { z } from 'zod';
import type { Policy } from './policy.js';

/** The calendar providers a person can connect; each feeds one signal source. */
export const CALENDAR_PROVIDERS = ['microsoft', 'google'] as const;
export type CalendarProvider = (typeof CALENDAR_PROVIDERS)[number];
export type CalendarSource = 'outlook' | 'google';
export const PROVIDER_SOURCE: Readonly<Record<CalendarProvider, CalendarSource>> = { microsoft: 'outlook', google: 'google' };

/**
 * The tenant's calendar policy (`settings.calendar`). The mapper applies it to every event; `meetingAs`
 * is applied to the presence policy instead (see `withMeetingAs`), because availability is the policy's
 * business, not the claim's.
 */
export const calendarPolicySchema = z
  .object({
    /** A tentative event (or one the person has not answered) counts as a meeting, or is ignored. */
    tentative: z.enum(['busy', 'free']).default('busy'),
    /** All-day events count as a meeting, or are ignored. All-day out-of-office always counts. */
    allDay: z.enum(['busy', 'free']).default('free'),
    /** Private and confidential events count like any other, or are ignored. Their titles are never read either way. */
    privateEvents: z.enum(['busy', 'free']).default('busy'),
    /** Minutes of buffer added before and after each meeting (not to out-of-office or focus time). */
    bufferBeforeMinutes: z.number().int().min(0).max(120).default(0),
    bufferAfterMinutes: z.number().int().min(0).max(120).default(0),
    /** What a meeting makes the person: busy (callers may be queued) or dnd. */
    meetingAs: z.enum(['busy', 'dnd']).default('busy'),
  })
  .strict();
export type CalendarPolicy = z.output<typeof calendarPolicySchema>;
export type CalendarPolicyInput = z.input<typeof calendarPolicySchema>;

export const DEFAULT_CALENDAR_POLICY: CalendarPolicy = calendarPolicySchema.parse({});

export function resolveCalendarPolicy(input: CalendarPolicyInput | undefined): CalendarPolicy {
  return input === undefined ? DEFAULT_CALENDAR_POLICY : calendarPolicySchema.parse(input);
}

/**
 * `meetingAs: dnd` sets `availability: dnd` on the policy's calendar meeting row: every calendar rule
 * that lists `in-meeting`, not `out-of-office`, and sets no availability of its own. Presenting and
 * focus are dnd already, so the default `calendar-meeting` row can take it whole.
 */
export function withMeetingAs(policy: Policy, meetingAs: CalendarPolicy['meetingAs']): Policy {
  if (meetingAs === 'busy') return policy;
  let touched = false;
  const rules = policy.rules.map((r) => {
    const a = r.activities;
    if (r.claim !== 'calendar' || r.availability !== undefined || !a?.includes('in-meeting') || a.includes('out-of-office')) return r;
    touched = true;
    return { ...r, availability: 'dnd' as const };
  });
  return touched ? { ...policy, rules } : policy;
}

// ── durable documents (store collections) ─────────────────────────────────────────────────────────

export const CONNECTION_STATUSES = ['connected', 'broken'] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];
export const CONNECTION_MODES = ['delegated', 'application'] as const;

/**
 * What broke a connection; each asks the person (or the admin) to consent again. `rejected`: the
 * provider refused every read (a 4xx other than 401/403/404/429) for a day.
 */
export const BROKEN_REASONS = ['invalid_grant', 'consent_revoked', 'subscription_failed', 'not_found', 'access_denied', 'rejected'] as const;
export type BrokenReason = (typeof BROKEN_REASONS)[number];

/**
 * One person's calendar grant with one provider (`calendarConnections`, id `<provider>.<personId>`).
 * Delegated grants hold their own tokens, sealed with AES-256-GCM; application grants (Microsoft admin
 * consent) borrow the tenant's app token through `grantId`.
 */
export interface CalendarConnection {
  id: string;
  tenantId: string;
  personId: string;
  provider: CalendarProvider;
  mode: (typeof CONNECTION_MODES)[number];
  status: ConnectionStatus;
  /** The provider's user id, and an address or name to show the person which account is connected. */
  account: { id: string; email?: string; name?: string };
  scopes: string[];
  /** Delegated: `SecretBox.seal(JSON of StoredTokens)`. */
  sealedTokens?: string;
  /** Application: the `calendarAppGrants` id (the Microsoft directory tenant). */
  grantId?: string;
  connectedAt: number;
  updatedAt: number;
  brokenReason?: BrokenReason;
  brokenAt?: number;
}

/** The plaintext inside `sealedTokens`; never stored or logged unsealed. */
export interface StoredTokens {
  accessToken: string;
  refreshToken?: string;
  /** Epoch ms at which the access token expires. */
  expiresAt: number;
}

/** Where a connection's sync stands (`calendarSyncStates`, same id as the connection). */
export interface CalendarSyncState {
  id: string;
  tenantId: string;
  /** Graph: the whole `@odata.deltaLink` URL (its options are fixed by the first call). */
  deltaLink?: string;
  /** Google: `nextSyncToken` of the last complete list. */
  syncToken?: string;
  /** The rolling window the last full sync covered. */
  windowStart?: number;
  windowEnd?: number;
  lastSyncAt?: number;
  lastFullSyncAt?: number;
  lastError?: { code: string; message: string; at: number };
  /** When the provider began to reject reads (`RejectedError`): cleared by the next good read. */
  rejectedSince?: number;
}

/**
 * A Graph subscription or a Google watch channel (`calendarSubscriptions`). `externalId` is
 * `microsoft:<subscriptionId>` or `google:<channelId>`, unique across tenants, because a notification
 * names only that. `secretHash` is the SHA-256 of the `clientState` / channel token.
 */
export interface CalendarSubscription {
  id: string;
  tenantId: string;
  connectionId: string;
  personId: string;
  provider: CalendarProvider;
  kind: 'events' | 'presence';
  externalId: string;
  /** Google: the `resourceId` needed to stop the channel. */
  resourceId?: string;
  secretHash: string;
  expiresAt: number;
  createdAt: number;
}

/** A Microsoft tenant-wide admin consent (`calendarAppGrants`, id = the Microsoft directory tenant id). */
export interface CalendarAppGrant {
  id: string;
  tenantId: string;
  provider: 'microsoft';
  status: ConnectionStatus;
  /** The app-only access token, sealed (client credentials grant; there is no refresh token). */
  sealedTokens?: string;
  grantedAt: number;
  updatedAt: number;
  brokenReason?: BrokenReason;
  brokenAt?: number;
}

/** A consent in progress (`oauthFlows`): what the callback needs, keyed by the hash of `state`. */
export interface OAuthFlow {
  id: string;
  tenantId: string;
  provider: CalendarProvider;
  /**
   * `person`: a person's consent. Microsoft admin consent takes three: `admin-start` (the link the
   * administrator opens), `admin-sign-in` (step 1, proves their directory), `admin` (step 2, the consent).
   */
  kind: 'person' | 'admin-start' | 'admin-sign-in' | 'admin';
  personId?: string;
  /** Step 2 of admin consent: the directory (`tid`) the administrator proved in step 1; the answer must name it. */
  directoryTenant?: string;
  stateHash: string;
  /** The PKCE code verifier, sealed. */
  sealedVerifier?: string;
  /** SHA-256 of the nonce in the browser's cookie: the callback must come from the browser that started. */
  browserHash: string;
  /** The connect link's expiry, so the callback can send the person back to their page. */
  linkExpiresAt?: number;
  expiresAt: number;
}
