import { z } from 'zod';
import { untilInputSchema } from '../../../shared/merge/until-rule.js';

export const manualStatusSchema = z
  .object({
    /** available, away, break, dnd, focus, in-meeting, out-of-office, off-work, or a tenant's custom reason. */
    activity: z.string().min(1).max(40),
    /** An instant (RFC 3339 with offset), `end-of-current-meeting` or `end-of-working-day`; absent = until cleared. */
    until: untilInputSchema.optional(),
    note: z.string().max(140).optional(),
  })
  .strict();
export type ManualStatusInput = z.infer<typeof manualStatusSchema>;
