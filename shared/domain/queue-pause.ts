import { z } from 'zod';
import { untilInputSchema } from '../merge/until-rule.js';
import { idSchema } from './directory.js';

/**
 * "Queue-only DND" (peers.md (c)8, RingCentral's acceptQueueCalls, Asterisk's queue pause): the person
 * takes no calls from hunt groups and queues (all, or the ones listed), while calls dialled to them
 * still ring. It ends by itself at `until`, which routing compares at decision time, so a restart or a
 * lost timer can never leave anyone paused longer.
 */
const groupIds = z
  .array(idSchema)
  .min(1)
  .max(50)
  .refine((g) => new Set(g).size === g.length, 'each group once');

export const queuePauseInputSchema = z
  .object({
    /** Absent: until cleared. */
    until: untilInputSchema.optional(),
    /** Group ids; absent: every group. */
    groups: groupIds.optional(),
    /** With no `groups` only: a pause from every group but these ("paused everywhere except Support"). */
    exceptGroups: groupIds.optional(),
    /** Shown to supervisors and the PBX ("training", "back office"); never for sensitive people. */
    reason: z.string().min(1).max(100).optional(),
  })
  .strict()
  // A pause either lists its groups or excepts some from all of them: both at once has no meaning.
  .refine((p) => p.groups === undefined || p.exceptGroups === undefined, { path: ['exceptGroups'], message: 'only for a pause from every group: leave out groups, or exceptGroups' });
export type QueuePauseInput = z.infer<typeof queuePauseInputSchema>;

/** Who may pause a person: the person themself, or a supervisor or administrator. */
export const QUEUE_PAUSE_SETTERS = ['self', 'supervisor', 'admin'] as const;

/** Stored under the person's id: one pause per person. */
export interface QueuePause {
  tenantId: string;
  id: string;
  personId: string;
  since: number;
  until?: number;
  /** The groups it covers; absent: every group, now and joined later, but `exceptGroups`. */
  groups?: string[];
  /** Groups a pause from every group lets the person back into (absent in pauses stored before it existed). */
  exceptGroups?: string[];
  reason?: string;
  /** Who paused them. */
  setBy: (typeof QUEUE_PAUSE_SETTERS)[number];
}

/** Whether the pause keeps the person off `groupId`'s ring list at `at`. */
export function pausedFor(p: QueuePause | undefined, groupId: string, at: number): p is QueuePause {
  return p !== undefined && (p.until === undefined || at < p.until) && (p.groups ? p.groups.includes(groupId) : !p.exceptGroups?.includes(groupId));
}

/** Every group the pause names, covered or excepted. */
export function namedGroups(p: QueuePause | undefined): string[] {
  return [...(p?.groups ?? []), ...(p?.exceptGroups ?? [])];
}
