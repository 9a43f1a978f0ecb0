import { z } from 'zod';
import { UNTIL_RULES } from '../../../shared/domain/signal.js';

export const manualStatusSchema = z
  .object({
    /** available, away, break, dnd, busy, focus, in-meeting, out-of-office, off-work, or a tenant's custom reason. */
    activity: z.string().min(1).max(40),
    /** An instant (RFC 3339 with offset), `end-of-current-meeting` or `end-of-working-day`; absent = until cleared. */
    until: z.union([z.iso.datetime({ offset: true }), z.enum(UNTIL_RULES.filter((r) => r !== 'instant') as ['end-of-current-meeting', 'end-of-working-day'])]).optional(),
    note: z.string().max(140).optional(),
  })
  .strict();
export type ManualStatusInput = z.infer<typeof manualStatusSchema>;
