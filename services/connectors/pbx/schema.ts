import { z } from 'zod';
import { contactSchema } from '../../../shared/domain/directory.js';

export const PBX_EVENT_TYPES = ['registered', 'unregistered', 'ringing', 'answered', 'held', 'resumed', 'hangup', 'dnd-on', 'dnd-off'] as const;
export type PbxEventType = (typeof PBX_EVENT_TYPES)[number];

export const pbxEventSchema = z
  .object({
    type: z.enum(PBX_EVENT_TYPES),
    /** A device id from the directory, or the person's extension. */
    device: z.string().min(1).max(128).optional(),
    extension: z
      .string()
      .regex(/^[0-9*#+]{1,20}$/)
      .optional(),
    /** The PBX's own timestamp: RFC 3339, or epoch milliseconds. Orders events for the same device. */
    at: z.union([z.iso.datetime({ offset: true }), z.number().int().positive()], { error: 'the PBX timestamp: RFC 3339 with an offset, or epoch milliseconds (an integer)' }),
    callId: z.string().min(1).max(256).optional(),
    /** The queue a call came from; a queue call ends in wrap-up. */
    queue: z.string().min(1).max(128).optional(),
    wrapUpSeconds: z.number().int().min(0).max(3600).optional(),
    /** For `registered`: how long the registration lasts. */
    expiresSec: z.number().int().positive().max(7 * 24 * 3600).optional(),
    contact: contactSchema.optional(),
  })
  .strict()
  .refine((e) => (e.device === undefined) !== (e.extension === undefined), { message: 'give exactly one of device or extension' });
export type PbxEvent = z.infer<typeof pbxEventSchema>;

export const pbxBatchSchema = z.object({ events: z.array(pbxEventSchema).min(1) }).strict();
export type PbxBatch = z.infer<typeof pbxBatchSchema>;
