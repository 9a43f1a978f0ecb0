import { z } from 'zod';

export const heartbeatSchema = z
  .object({
    /** foreground and background keep the app reachable for their TTL; signed-out makes it unreachable now. */
    state: z.enum(['foreground', 'background', 'signed-out']),
  })
  .strict();
export type HeartbeatInput = z.infer<typeof heartbeatSchema>;
