import { DateTime } from 'luxon';
import { z } from 'zod';
import { extensionSchema, idSchema, phoneNumberSchema, sipUriSchema, weeklyHoursSchema, zoneSchema } from './directory.js';

/**
 * How a group's members are rung (peers.md §3, §5, §6: Asterisk ringall/linear/leastrecent/rrmemory/
 * fewestcalls, Teams attendant/serial/longest idle/round robin, Zoom simultaneous/sequential/rotating).
 */
export const STRATEGIES = ['simultaneous', 'sequential', 'longest-idle', 'round-robin', 'fewest-calls'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** A hunt group rings people; a queue is a hunt group whose PBX may hold callers (its fallback says how). */
export const GROUP_KINDS = ['hunt', 'queue'] as const;

const seconds = (min: number, max: number) => z.number().int().min(min).max(max);

export const skillLevelsSchema = z.record(idSchema, z.number().int().min(0).max(100));

/** Required skills: names (any level ≥ 1) or minimum levels. */
export const requiredSkillsSchema = z
  .union([z.array(idSchema).max(20), z.record(idSchema, z.number().int().min(1).max(100))])
  .transform((v): Record<string, number> => (Array.isArray(v) ? Object.fromEntries(v.map((s) => [s, 1])) : v));

export const groupMemberSchema = z
  .object({
    personId: idSchema,
    /** Lower is tried first, like Asterisk's penalty: a later tier rings only after the earlier ones. */
    priority: z.number().int().min(0).max(100).default(0),
    /** Levels for this group, over the person's own `skills`. */
    skills: skillLevelsSchema.default({}),
    /** This member's ring time; the group's `ringTimeoutSeconds` otherwise. */
    ringTimeoutSeconds: seconds(1, 600).optional(),
  })
  .strict();
export type GroupMember = z.infer<typeof groupMemberSchema>;

/** A day that exists: `2026-04-31` or `02-30` would pass a pattern and then never close the group. */
const calendarDate = z
  .string()
  .regex(/^(\d{4}-)?(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, { message: 'YYYY-MM-DD, or MM-DD for every year', abort: true })
  // MM-DD is checked in a leap year, so 02-29 (a holiday in leap years only) is a day.
  .refine((d) => DateTime.fromISO(d.length === 5 ? `2024-${d}` : d).isValid, 'no such day');

export const scheduleSchema = z
  .object({
    /**
     * Opening hours, local wall-clock in the group's time zone; a weekday not listed is closed. Absent:
     * open around the clock, so holidays and closures alone close a 24/7 line.
     */
    weekly: weeklyHoursSchema.optional(),
    /** Whole local days closed: `YYYY-MM-DD` once, or `MM-DD` every year. */
    holidays: z
      .array(z.object({ date: calendarDate, name: z.string().min(1).max(100) }).strict())
      .max(400)
      .default([]),
    /** One-off closures between two instants (an all-hands, a move). */
    closures: z
      .array(
        z
          .object({ from: z.iso.datetime({ offset: true }), until: z.iso.datetime({ offset: true }), reason: z.string().min(1).max(200) })
          .strict()
          .refine((c) => Date.parse(c.from) < Date.parse(c.until), { message: 'from must be before until', path: ['until'] }),
      )
      .max(200)
      .default([]),
  })
  .strict();
export type Schedule = z.infer<typeof scheduleSchema>;

/** One step of a fallback chain, tried in order when nobody is eligible or nobody answers. */
export const fallbackStepSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('queue'),
      /** Longest a caller waits before the next step. */
      maxWaitSeconds: seconds(1, 7200).default(300),
      /** The PBX queue that holds the caller (a proxy cannot); without it the step is advice only. */
      uri: sipUriSchema.optional(),
    })
    .strict(),
  z.object({ type: z.literal('overflow'), groupId: idSchema }).strict(),
  z.object({ type: z.literal('voicemail'), box: z.string().min(1).max(64), uri: sipUriSchema.optional() }).strict(),
  z
    .object({ type: z.literal('forward'), number: phoneNumberSchema.optional(), uri: sipUriSchema.optional(), label: z.string().max(100).optional() })
    .strict()
    .refine((s) => (s.number === undefined) !== (s.uri === undefined), { message: 'give exactly one of number or uri' }),
  z
    .object({
      type: z.literal('hangup'),
      /** The SIP reason phrase (rtjson `hangup_reason`): no control characters, since CR/LF would end the status line (RFC 3261 §25.1). */
      // eslint-disable-next-line no-control-regex
      message: z.string().min(1).max(200).regex(/^[^\u0000-\u001f\u007f]+$/, 'no control characters'),
      /** The final SIP response; 480 Temporarily Unavailable by default. */
      sipCode: z.number().int().min(400).max(699).default(480),
    })
    .strict(),
]);
export type FallbackStep = z.infer<typeof fallbackStepSchema>;

/** The group's fields, without the cross-field checks (so the apply file can extend it with an id). */
export const groupFieldsSchema = z
  .object({
    name: z.string().min(1).max(200),
    kind: z.enum(GROUP_KINDS).default('hunt'),
    extension: extensionSchema.optional(),
    sipUri: sipUriSchema.optional(),
    /** Opening hours, holidays and the wording of reasons are in this zone. */
    timeZone: zoneSchema.default('UTC'),
    strategy: z.enum(STRATEGIES).default('simultaneous'),
    /** How long each member (or each tier, for simultaneous) rings before the next step. */
    ringTimeoutSeconds: seconds(1, 600).default(20),
    /** Wrap-up after a call from this group; the tenant's `wrapUpSeconds` when absent. */
    wrapUpSeconds: seconds(0, 3600).optional(),
    /** Whether a member in DND or in a meeting leaves the group until it ends (design §5: yes). */
    leaveWhen: z.object({ dnd: z.boolean().default(true), meeting: z.boolean().default(true) }).strict().default({ dnd: true, meeting: true }),
    /** Skills every call to this group needs, on top of those the caller asks for. */
    requiredSkills: requiredSkillsSchema.default({}),
    members: z.array(groupMemberSchema).max(1000).default([]),
    /** Absent: always open. */
    schedule: scheduleSchema.optional(),
    fallback: z.array(fallbackStepSchema).max(10).default([]),
    /** Applies instead of ringing anyone while the schedule is closed. */
    afterHours: z.array(fallbackStepSchema).max(10).default([]),
  })
  .strict();

export function checkGroup(g: { members: ReadonlyArray<{ personId: string }> }, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  g.members.forEach((m, i) => {
    if (seen.has(m.personId)) ctx.addIssue({ code: 'custom', path: ['members', i, 'personId'], message: `${m.personId} is listed twice` });
    seen.add(m.personId);
  });
}

export const groupInputSchema = groupFieldsSchema.superRefine(checkGroup);
export type GroupInput = z.infer<typeof groupInputSchema>;
export interface Group extends GroupInput {
  id: string;
  tenantId: string;
}

/** The group ids a group's chains send calls to. */
export function overflowTargets(g: Pick<GroupInput, 'fallback' | 'afterHours'>): string[] {
  return [...g.fallback, ...g.afterHours].flatMap((s) => (s.type === 'overflow' ? [s.groupId] : []));
}
