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

/** At most this many ignored names are answered, each at most `NAME_CHARS` long: the rest are only counted. */
export const IGNORED_NAMES = 20;
const NAME_CHARS = 100;

/**
 * The top-level fields of a heartbeat body that the schema ignored: the first names, and how many there
 * were. An answer echoing every name would be as large as the body a client chose to send.
 */
export function ignoredFields(raw: unknown): { ignoredFields: string[]; ignoredFieldCount: number } {
  if (typeof raw !== 'object' || raw === null) return { ignoredFields: [], ignoredFieldCount: 0 };
  const names = Object.keys(raw).filter((k) => !Object.hasOwn(heartbeatSchema.shape, k));
  const shown = names.slice(0, IGNORED_NAMES).map((k) => (k.length > NAME_CHARS ? `${k.slice(0, NAME_CHARS)}…` : k));
  return { ignoredFields: shown, ignoredFieldCount: names.length };
}
