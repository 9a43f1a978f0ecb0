import { z } from 'zod';
import { idSchema } from '../../shared/domain/directory.js';
import { requiredSkillsSchema } from '../../shared/domain/group.js';

/** `POST /v1/route`: the call to route. */
export const routeRequestSchema = z
  .object({
    /** A group id. */
    group: idSchema.optional(),
    /** A person id. */
    person: idSchema.optional(),
    /** What the caller dialled, as a proxy sees it (the R-URI user): a group or person id or extension. */
    dialled: z
      .string()
      .regex(/^[A-Za-z0-9*#+._-]{1,64}$/, 'an id or extension')
      .optional(),
    /** The caller's extension, number or SIP URI. */
    caller: z.string().min(1).max(300).optional(),
    /** Skills the call needs: names, or minimum levels. */
    skills: requiredSkillsSchema.default({}),
    /** The instant to route at (RFC 3339 or epoch ms); later than now is a dry run. */
    at: z.union([z.iso.datetime({ offset: true }), z.number().int().positive()]).optional(),
    /** Decide without changing any strategy state. */
    dryRun: z.boolean().default(false),
    /** The SIP Call-ID, for logs. */
    callId: z.string().min(1).max(256).optional(),
  })
  .strict()
  .refine((r) => [r.group, r.person, r.dialled].filter((x) => x !== undefined).length === 1, {
    message: 'give exactly one of group, person or dialled',
  });
export type RouteRequestBody = z.infer<typeof routeRequestSchema>;

export const routeQuerySchema = z.object({
  /** `json` (the project's answer) or `rtjson` (Kamailio's routing document). */
  format: z.enum(['json', 'rtjson']).default('json'),
});
