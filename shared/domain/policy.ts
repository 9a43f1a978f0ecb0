import { z } from 'zod';
import {
  AVAILABILITIES,
  BUILTIN_ACTIVITIES,
  CUSTOM_ACTIVITY_PATTERN,
  DEFAULT_ACTIVITY_AVAILABILITY,
  type Activity,
  type Availability,
} from './activity.js';
import { SOURCES, type ClaimKind, type Source } from './signal.js';

/**
 * One row of the priority table. A rule matches live signals by claim kind, optionally narrowed to some
 * sources and activities. When `activities` is given it also ranks matches (first is preferred).
 */
export interface PolicyRule {
  id: string;
  claim: Exclude<ClaimKind, 'endpoint' | 'cleared'>;
  sources?: Source[];
  activities?: Activity[];
  /** Overrides the activity's availability for this rule (e.g. meetings as `dnd`). */
  availability?: Availability;
}

/** A signal matching this entry stops being trusted `afterMs` after it was observed. First match decides. */
export interface StaleRule {
  claim: ClaimKind;
  /** For `call` claims: the call state; for `status`/`calendar`: the activity. */
  state?: string;
  source?: Source;
  afterMs: number;
}

export interface Policy {
  rules: PolicyRule[];
  activities: Record<string, Availability>;
  stale: StaleRule[];
  /** How far ahead the merge looks for the next known transition. */
  lookaheadMs: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Design §3, highest first. Rows 9, 10 and `unknown` are the baseline the merge falls back to. */
export const DEFAULT_POLICY: Policy = {
  rules: [
    { id: 'dnd', claim: 'dnd' },
    { id: 'call', claim: 'call', activities: ['on-call', 'on-hold', 'ringing'] },
    { id: 'teams', claim: 'status', sources: ['teams'] },
    { id: 'manual', claim: 'status', sources: ['manual'] },
    { id: 'calendar-out-of-office', claim: 'calendar', activities: ['out-of-office'] },
    { id: 'calendar-meeting', claim: 'calendar', activities: ['presenting', 'in-meeting', 'focus'] },
    { id: 'wrap-up', claim: 'wrap-up' },
    { id: 'off-work', claim: 'working-hours' },
  ],
  activities: { ...DEFAULT_ACTIVITY_AVAILABILITY },
  stale: [
    // A ringing state with no update for 2 minutes is a lost hangup, not a 2-minute ring.
    { claim: 'call', state: 'ringing', afterMs: 2 * MINUTE },
    { claim: 'call', state: 'on-call', afterMs: 4 * HOUR },
    { claim: 'call', state: 'on-hold', afterMs: 4 * HOUR },
    // Graph presence subscriptions live at most 60 min; a Teams state not refreshed in 2 h is stale.
    { claim: 'status', source: 'teams', afterMs: 2 * HOUR },
  ],
  lookaheadMs: 7 * 24 * HOUR,
};

const activityName = z
  .string()
  .refine((a) => (BUILTIN_ACTIVITIES as readonly string[]).includes(a) || CUSTOM_ACTIVITY_PATTERN.test(a), {
    message: 'an activity is a built-in name or a lower-case slug',
  });

export const policyRuleSchema = z.object({
  id: z.string().min(1).max(64),
  claim: z.enum(['dnd', 'call', 'status', 'calendar', 'wrap-up', 'working-hours']),
  sources: z.array(z.enum(SOURCES)).min(1).optional(),
  activities: z.array(activityName).min(1).optional(),
  availability: z.enum(AVAILABILITIES).optional(),
});

export const staleRuleSchema = z.object({
  claim: z.enum(['dnd', 'call', 'status', 'calendar', 'wrap-up', 'working-hours', 'endpoint', 'cleared']),
  state: z.string().optional(),
  source: z.enum(SOURCES).optional(),
  afterMs: z.number().int().positive(),
});

/** What a tenant may set. Omitted parts keep the default; `activities` is merged over the default table. */
export const policyOverrideSchema = z
  .object({
    rules: z.array(policyRuleSchema).min(1).optional(),
    activities: z.record(activityName, z.enum(AVAILABILITIES)).optional(),
    stale: z.array(staleRuleSchema).optional(),
    lookaheadMs: z
      .number()
      .int()
      .positive()
      .max(31 * 24 * HOUR)
      .optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const ids = new Set<string>();
    for (const r of p.rules ?? []) {
      if (ids.has(r.id)) ctx.addIssue({ code: 'custom', message: `duplicate rule id ${r.id}`, path: ['rules'] });
      ids.add(r.id);
    }
  });
export type PolicyOverride = z.infer<typeof policyOverrideSchema>;

export function resolvePolicy(override: PolicyOverride | undefined): Policy {
  if (!override) return DEFAULT_POLICY;
  return {
    rules: override.rules ?? DEFAULT_POLICY.rules,
    activities: { ...DEFAULT_POLICY.activities, ...override.activities },
    stale: override.stale ?? DEFAULT_POLICY.stale,
    lookaheadMs: override.lookaheadMs ?? DEFAULT_POLICY.lookaheadMs,
  };
}
