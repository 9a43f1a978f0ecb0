import { z } from 'zod';

/**
 * Fields this version does not know are ignored, not refused (and named in the answer): a newer app that
 * adds one must keep working against an older service, or its phone would count as unreachable. The
 * fields it knows are checked as before.
 */
export const heartbeatSchema = z.object({
  /** foreground and background keep the app reachable for their TTL; signed-out makes it unreachable now. */
  state: z.enum(['foreground', 'background', 'signed-out']),
});
export type HeartbeatInput = z.infer<typeof heartbeatSchema>;

/** The top-level fields of a heartbeat body that the schema ignored. */
export function ignoredFields(raw: unknown): string[] {
  if (typeof raw !== 'object' || raw === null) return [];
  return Object.keys(raw).filter((k) => !Object.hasOwn(heartbeatSchema.shape, k));
}
