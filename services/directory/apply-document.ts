import { z } from 'zod';
import {
  deviceInputSchema,
  idSchema,
  personInputSchema,
  tenantIdSchema,
  tenantSettingsSchema,
} from '../../shared/domain/directory.js';
import { checkGroup, groupFieldsSchema } from '../../shared/domain/group.js';
import { policyOverrideSchema } from '../../shared/domain/policy.js';
import { ariTargetSchema, sipTargetSchema, webhookTargetSchema } from '../../shared/domain/target.js';

const withId = { id: idSchema };
const targetEntrySchema = z.discriminatedUnion('kind', [webhookTargetSchema.extend(withId), ariTargetSchema.extend(withId), sipTargetSchema.extend(withId)]);

/** The declarative directory file (`presence-hub apply -f directory.yaml`), parsed as YAML or JSON. */
export const directoryDocumentSchema = z
  .object({
    tenant: tenantIdSchema,
    name: z.string().min(1).max(200).optional(),
    settings: tenantSettingsSchema.optional(),
    policy: policyOverrideSchema.optional(),
    people: z
      .array(
        personInputSchema.extend({
          id: idSchema,
          devices: z.array(deviceInputSchema.omit({ personId: true }).extend({ id: idSchema })).default([]),
        }),
      )
      .default([]),
    /** Hunt groups and queues, validated as `PUT /v1/groups/{id}` does. */
    groups: z
      .array(
        groupFieldsSchema.extend({ id: idSchema }).superRefine(checkGroup),
      )
      .default([]),
    /** Push targets (SIP presence servers, webhooks, Asterisk ARI), each with an `id`. */
    targets: z.array(targetEntrySchema).default([]),
  })
  .strict()
  .superRefine((doc, ctx) => {
    const groups = new Set<string>();
    doc.groups.forEach((g, i) => {
      if (groups.has(g.id)) ctx.addIssue({ code: 'custom', path: ['groups', i, 'id'], message: `group ${g.id} appears twice` });
      groups.add(g.id);
    });
    const people = new Set<string>();
    const devices = new Set<string>();
    doc.people.forEach((p, i) => {
      if (people.has(p.id)) ctx.addIssue({ code: 'custom', path: ['people', i, 'id'], message: `person ${p.id} appears twice` });
      people.add(p.id);
      p.devices.forEach((d, j) => {
        if (devices.has(d.id)) ctx.addIssue({ code: 'custom', path: ['people', i, 'devices', j, 'id'], message: `device ${d.id} appears twice` });
        devices.add(d.id);
      });
    });
  });
export type DirectoryDocument = z.infer<typeof directoryDocumentSchema>;
